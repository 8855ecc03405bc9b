"""addressbook-multiget (RFC 6352) and calendar-multiget (RFC 4791): the data of named members of a
collection, fetched in batches and parsed while it streams in.

A server can fail a whole multiget over one item it stored but cannot put into XML (Xandikos answers 500
when a card is not valid UTF-8): then the batch is halved until that item is alone, and it is read with a
plain GET, which serves its bytes. If that fails too, the error stands.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from syncd.core.account import same_resource
from syncd.dav.client import DavClient, HTTPStatusError, NotFound, ResponseTooLarge
from syncd.dav.multistatus import BadXML

log = logging.getLogger("syncd.dav.multiget")

BATCH = 500  # members per multiget: fewer requests cost the server less (Xandikos pays ~15 ms per request)


@dataclass(frozen=True, slots=True)
class Kind:
    """What a collection holds: the multiget report and the property that carries an item's text."""

    report: str
    data: str
    namespace: str
    noun: str  # for log lines: "card", "task"


ADDRESS_DATA = Kind("addressbook-multiget", "address-data", "urn:ietf:params:xml:ns:carddav", "card")
CALENDAR_DATA = Kind("calendar-multiget", "calendar-data", "urn:ietf:params:xml:ns:caldav", "item")


@dataclass(frozen=True, slots=True)
class Item:
    href: str
    etag: str
    text: str


def body(kind: Kind, hrefs: list[str]) -> bytes:
    inner = "".join(f"<d:href>{escape(urlsplit(h).path)}</d:href>" for h in hrefs)
    return (
        f'<?xml version="1.0" encoding="utf-8"?><x:{kind.report} xmlns:d="DAV:" xmlns:x="{kind.namespace}">'
        f"<d:prop><d:getetag/><x:{kind.data}/></d:prop>{inner}</x:{kind.report}>"
    ).encode()


def multiget(client: DavClient, url: str, hrefs: list[str], kind: Kind, batch: int = BATCH) -> Iterator[Item]:
    """Items by href, `batch` at a time, in the server's order. Missing ones (deleted meanwhile) are left out.

    While the caller works on one batch (parses it), the next one is downloaded by a second thread, so the
    server's time and syncd's overlap. The caller must not use `client` until the iteration ends.
    """
    batches = [hrefs[i : i + batch] for i in range(0, len(hrefs), batch)]
    if len(batches) == 1:
        yield from _batch(client, url, batches[0], kind)
        return
    if batches:
        yield from _ahead(lambda part: list(_batch(client, url, part, kind)), batches)


_END = object()


def _ahead(fetch: Callable[[list[str]], list[Item]], batches: list[list[str]]) -> Iterator[Item]:
    """`fetch` each batch in a second thread, one batch ahead of the consumer; errors are raised here."""
    ready: queue.Queue[object] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def hand_over(value: object) -> None:
        while not stop.is_set():
            try:
                ready.put(value, timeout=0.1)
                return
            except queue.Full:
                continue

    def work() -> None:
        try:
            for part in batches:
                if stop.is_set():
                    return
                hand_over(fetch(part))
            hand_over(_END)
        except BaseException as err:  # handed to the consumer, raised there
            hand_over(err)

    worker = threading.Thread(target=work, name="syncd-multiget", daemon=True)
    worker.start()
    try:
        while True:
            value = ready.get()
            if value is _END:
                return
            if isinstance(value, BaseException):
                raise value
            yield from value  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def _batch(client: DavClient, url: str, hrefs: list[str], kind: Kind) -> Iterator[Item]:
    data_tag = f"{{{kind.namespace}}}{kind.data}"
    stream = client.report_stream(url, body(kind, hrefs), depth=1)
    done: set[str] = set()
    try:
        for resource in stream:
            done.add(resource.href)
            if resource.status != 200:
                continue
            element = resource.props.get(data_tag)
            if element is None:
                continue
            text = "".join(str(t) for t in element.itertext())
            yield Item(resource.href, (resource.text("d:getetag") or "").strip(), text)
    except (HTTPStatusError, BadXML, ResponseTooLarge) as err:
        # One item the server cannot put into XML (Xandikos answers 500, or sends bytes that are not UTF-8),
        # or big PHOTOs that make a batch exceed the size limit where each item alone does not: halve what is
        # left down to the one item at fault.
        if isinstance(err, HTTPStatusError) and err.status < 500:
            raise
        left = [h for h in hrefs if not any(same_resource(h, d) for d in done)]
        why = f"HTTP {err.status}" if isinstance(err, HTTPStatusError) else str(err).rsplit(": ", 1)[-1]
        yield from _split(client, url, left, kind, why, isinstance(err, ResponseTooLarge))
    finally:
        stream.close()


def _split(client: DavClient, url: str, hrefs: list[str], kind: Kind, why: str, too_large: bool) -> Iterator[Item]:
    if not hrefs:
        return
    if len(hrefs) > 1:
        half = len(hrefs) // 2
        log.info("%s: multiget of %d %ss failed (%s)", url, len(hrefs), kind.noun, why)
        yield from _batch(client, url, hrefs[:half], kind)
        yield from _batch(client, url, hrefs[half:], kind)
        return
    if too_large:
        log.warning(
            "skipping the %s %s: larger than the response size limit (it is left as it is)", kind.noun, hrefs[0]
        )
        return
    log.warning("%s: the server cannot multiget this %s (%s); using GET", hrefs[0], kind.noun, why)
    try:
        response = client.get(hrefs[0])
    except NotFound:
        return
    yield Item(hrefs[0], response.etag, response.text())
