"""Address books on the server: list cards (PROPFIND getetag + addressbook-multiget in batches) and write
`X-SYNCD-*` values losslessly (GET the exact bytes, patch those lines, PUT with If-Match, on 412 start over)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape

from syncd.contacts import Card
from syncd.dav import DavClient, NotFound, same_resource
from syncd.discovery import Collection
from syncd.errors import PreconditionFailed, ServerError
from syncd.vcard import patch_xsyncd, xsyncd_values

log = logging.getLogger("syncd.carddav")

BATCH = 100
MAX_ATTEMPTS = 5
VCARD_TYPE = "text/vcard"


def list_etags(client: DavClient, addressbook: Collection) -> dict[str, str]:
    found = client.propfind(addressbook.url, ["d:getetag", "d:resourcetype"], depth=1)
    out: dict[str, str] = {}
    for resource in found.resources:
        if same_resource(resource.href, addressbook.url):
            continue
        if resource.has("d:resourcetype", "d:collection"):
            continue
        out[resource.href] = (resource.text("d:getetag") or "").strip()
    return out


def _multiget_body(hrefs: list[str]) -> bytes:
    from urllib.parse import urlsplit

    inner = "".join(f"<d:href>{escape(urlsplit(h).path)}</d:href>" for h in hrefs)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">'
        f"<d:prop><d:getetag/><card:address-data/></d:prop>{inner}</card:addressbook-multiget>"
    ).encode()


def multiget(client: DavClient, addressbook: Collection, hrefs: list[str]) -> Iterator[Card]:
    """Cards by href, fetched `BATCH` at a time. Missing ones (deleted meanwhile) are left out."""
    for i in range(0, len(hrefs), BATCH):
        batch = hrefs[i : i + BATCH]
        found = client.report(addressbook.url, _multiget_body(batch), depth=1)
        for resource in found.resources:
            if resource.status != 200:
                continue
            data = resource.text("card:address-data")
            if data is None:
                continue
            yield Card(
                href=resource.href,
                etag=(resource.text("d:getetag") or "").strip(),
                text=data,
                addressbook=addressbook.name or addressbook.url,
            )


def read_addressbook(client: DavClient, addressbook: Collection) -> list[Card]:
    etags = list_etags(client, addressbook)
    return list(multiget(client, addressbook, sorted(etags)))


def get_card(client: DavClient, href: str) -> Card:
    response = client.get(href)
    return Card(href=href, etag=response.etag, text=response.text())


@dataclass(slots=True)
class CardWrite:
    href: str
    before: dict[str, str]  # X-SYNCD values before
    after: dict[str, str]  # X-SYNCD values after
    etag: str  # new ETag ('' when the server did not send one)
    text: str  # the text that was PUT


Compute = Callable[[dict[str, str]], Mapping[str, str | None]]


def write_xsyncd(client: DavClient, href: str, compute: Compute) -> CardWrite | None:
    """Apply `compute(current X-SYNCD values) -> updates` to the card as the server has it now.

    Reads the card's exact bytes, patches only X-SYNCD lines, and PUTs with If-Match. On 412 (the card
    changed meanwhile) it reads again and re-applies. Returns None when nothing needed to change.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        card = get_card(client, href)
        if not card.etag:
            raise ServerError(f"{href}: the server sent no ETag, so syncd cannot write it safely")
        before = xsyncd_values(card.text)
        updates = {k: v for k, v in compute(dict(before)).items() if before.get(_full(k)) != v}
        if not updates:
            return None
        patched = patch_xsyncd(card.text, updates)
        try:
            etag = client.put(href, patched, VCARD_TYPE, etag=card.etag)
        except PreconditionFailed:
            log.info("%s changed on the server while writing (attempt %d); reading it again", href, attempt)
            continue
        except NotFound:
            log.warning("%s was deleted on the server; not written", href)
            return None
        return CardWrite(href, before, xsyncd_values(patched), etag, patched)
    raise ServerError(f"{href}: kept changing on the server; gave up after {MAX_ATTEMPTS} attempts")


def _full(key: str) -> str:
    key = key.upper()
    return key if key.startswith("X-SYNCD-") else "X-SYNCD-" + key
