"""Address books on the server: list cards (PROPFIND getetag + addressbook-multiget in batches) and write
`X-SYNCD-*` values losslessly (GET the exact bytes, patch those lines, PUT with If-Match, on 412 start over)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from syncd.core.account import Collection, same_resource
from syncd.core.contacts import Card
from syncd.core.providers import verify_writes
from syncd.core.xsyncd import patch_xsyncd, xsyncd_values
from syncd.dav.client import DavClient, NotFound, Refused
from syncd.dav.multiget import ADDRESS_DATA, BATCH
from syncd.dav.multiget import multiget as generic_multiget
from syncd.errors import PreconditionFailed, ServerError

log = logging.getLogger("syncd.dav.carddav")

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


def multiget(client: DavClient, addressbook: Collection, hrefs: list[str], batch: int = BATCH) -> Iterator[Card]:
    """Cards by href, fetched `batch` at a time and parsed as they stream in (see `syncd.dav.multiget`).
    Missing ones (deleted meanwhile) are left out."""
    label = addressbook.name or addressbook.url
    for item in generic_multiget(client, addressbook.url, hrefs, ADDRESS_DATA, batch):
        yield Card(href=item.href, etag=item.etag, text=item.text, addressbook=label)


def read_addressbook(client: DavClient, addressbook: Collection) -> list[Card]:
    etags = list_etags(client, addressbook)
    return list(multiget(client, addressbook, sorted(etags)))


_MD5_ETAG = re.compile(r'^(?:W/)?"?([0-9a-f]{32})"?$')
_VCARD3 = re.compile(rb"^VERSION:3\.0\r?$", re.MULTILINE | re.IGNORECASE)


def get_card(client: DavClient, href: str) -> Card:
    """The card's bytes as the server stores them.

    SabreDAV (Nextcloud, Baïkal) converts a card on GET to the vCard version the Accept header asks for, 3.0
    when it names none (sabre-io/dav#834, `CardDAV\\Plugin::negotiateVCard`): a vCard 4.0 card comes back as
    a conversion, and patching and PUTting that would turn the user's card into 3.0. Its ETag is the MD5 of
    the stored bytes, so a 3.0 answer whose MD5 is not the ETag is asked for again as 4.0, and taken when
    that one's MD5 is the ETag. Servers whose ETags are no MD5 (Radicale, Xandikos) are asked once."""
    response = client.get(href, accept=VCARD_TYPE)
    stored = _MD5_ETAG.match(response.etag.strip())
    if (
        stored is not None
        and hashlib.md5(response.body).hexdigest() != stored.group(1)
        and _VCARD3.search(response.body)
    ):
        as_four = client.get(href, accept=f"{VCARD_TYPE}; version=4.0")
        if as_four.etag == response.etag and hashlib.md5(as_four.body).hexdigest() == stored.group(1):
            response = as_four
    return Card(href=href, etag=response.etag, text=response.text())


@dataclass(slots=True)
class CardWrite:
    href: str
    before: dict[str, str]  # X-SYNCD values before
    after: dict[str, str]  # X-SYNCD values after
    etag: str  # new ETag ('' when the server did not send one; the old one in a dry run)
    text: str  # the text that was PUT (or would be, in a dry run)
    original: str = ""  # the text as the server served it
    dry_run: bool = False  # True: nothing was sent


Compute = Callable[[dict[str, str]], Mapping[str, str | None]]


class WriteLog(Protocol):
    """Where each PUT attempt is recorded (the change journal): the intent before it is sent, the outcome
    after the server answered."""

    def intent(self, href: str, etag: str, before: Mapping[str, str], after: Mapping[str, str]) -> str: ...

    def outcome(self, entry_id: str, outcome: str, etag: str = "", detail: str = "") -> None: ...


def write_xsyncd(
    client: DavClient,
    href: str,
    compute: Compute,
    *,
    journal: WriteLog | None = None,
    dry_run: bool = False,
    verify: bool | None = None,
) -> CardWrite | None:
    """Apply `compute(current X-SYNCD values) -> updates` to the card as the server has it now.

    Reads the card's exact bytes, patches only X-SYNCD lines, and PUTs with If-Match. On 412 (the card
    changed meanwhile) it reads again and re-applies. Returns None when nothing needed to change, i.e. when
    the patch would leave the text as it is. (Comparing values alone is not enough: a stale duplicate
    `X-SYNCD-*` line behind one with the wanted value must still be removed.) `journal` records every PUT
    attempt; `dry_run` stops before the PUT and returns what would have been sent. A PUT the server refuses
    raises `Refused` (journaled as refused, with the server's reason).

    `verify` (by default: when the provider table says the server ignores If-Match, as Google does) makes up
    for the condition the server does not check: just before the PUT the card's ETag is read again (a change
    since the first read is handled as a 412 would be), and after it the card is read back: X-SYNCD values
    other than those written mean another edit landed at the same moment, and are logged as a warning. An
    edit arriving between that last read and the PUT itself is still overwritten: such a server is best used
    read-mostly.
    """
    if verify is None:
        verify = verify_writes(href)
    lost: tuple[str, dict[str, str]] | None = None  # the last attempt that got 412: (journal entry, after)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        card = get_card(client, href)
        if not card.etag:
            raise ServerError(f"{href}: the server sent no ETag, so syncd cannot write it safely")
        before = xsyncd_values(card.text)
        if lost is not None and before == lost[1]:
            # The 412 came from a retry of our own PUT whose first answer was lost: it is in place.
            _outcome(journal, lost[0], "written", card.etag)
        lost = None
        patched = patch_xsyncd(card.text, compute(dict(before)))
        if patched == card.text:
            return None
        after = xsyncd_values(patched)
        if dry_run:
            return CardWrite(href, before, after, card.etag, patched, card.text, dry_run=True)
        entry = journal.intent(href, card.etag, before, after) if journal is not None else ""
        try:
            if verify and client.get(href).etag != card.etag:
                raise PreconditionFailed(href)  # what the server would have answered, had it checked If-Match
            etag = client.put(href, patched, VCARD_TYPE, etag=card.etag)
        except PreconditionFailed:
            _outcome(journal, entry, "conflict")
            lost = (entry, after)
            log.info("%s changed on the server while writing (attempt %d); reading it again", href, attempt)
            continue
        except NotFound:
            _outcome(journal, entry, "gone")
            log.warning("%s was deleted on the server; not written", href)
            return None
        except Refused as err:
            _outcome(journal, entry, "refused", detail=err.reason)
            raise
        except Exception as err:
            _outcome(journal, entry, "failed", detail=str(err))
            raise
        _outcome(journal, entry, "written", etag)
        if verify:
            same_etag = _read_back(client, href, patched)
            etag = etag or same_etag
        return CardWrite(href, before, after, etag, patched, card.text)
    raise ServerError(f"{href}: kept changing on the server; gave up after {MAX_ATTEMPTS} attempts")


def _read_back(client: DavClient, href: str, text: str) -> str:
    """The card read back after a write to a server that ignores If-Match: its ETag when it holds the text
    written, else ''; a warning when its X-SYNCD values are not those written."""
    written = xsyncd_values(text)
    try:
        card = get_card(client, href)
    except NotFound:
        log.warning("%s was deleted on the server right after syncd wrote it", href)
        return ""
    found = xsyncd_values(card.text)
    if found != written:
        changed = ", ".join(
            f"{k}: {written.get(k, '—')} → {found.get(k, '—')}"
            for k in sorted(set(found) | set(written))
            if found.get(k) != written.get(k)
        )
        log.warning(
            "%s: read back after writing, its X-SYNCD values differ from those written (%s): another edit "
            "landed at the same moment (this server does not enforce If-Match); the next sync looks again",
            href,
            changed,
        )
    return card.etag if card.text == text else ""


def _outcome(journal: WriteLog | None, entry: str, outcome: str, etag: str = "", detail: str = "") -> None:
    if journal is not None:
        journal.outcome(entry, outcome, etag, detail)
