"""The local read cache: what was parsed from each card and task, by href and ETag, and the discovered account.

An unchanged card is never downloaded or parsed again: its parsed fields come from here. Each cached
collection carries a fingerprint of the code that parsed it (the source of the reader modules, and the time
zone for tasks); when syncd is upgraded or the zone changes, the fingerprint no longer matches and the
collection is read afresh. A row that does not decode counts as missing and is fetched again. Nothing here
is ever the only copy of anything: losing the cache costs one full read.

syncd's own writes keep the cache current through `WriteHook` (a DavClient write listener): after a PUT
the written text is parsed and stored under the ETag the server returned, so the next sync-collection,
which reports that href as changed, finds the ETag already known and fetches nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from syncd.config import Settings
from syncd.core import contacts, reminders, vcard
from syncd.core.contacts import Card, Contact, contact_from_card
from syncd.core.reminders import BrokenTask, Task, parse_task
from syncd.core.vcard import CardSyntaxError
from syncd.dav.client import same_resource
from syncd.dav.discovery import Account, Collection
from syncd.store.state import State

log = logging.getLogger("syncd.store.cache")

CACHE_VERSION = "2"  # 2: a parsed member is a JSON array of its fields in order, not an object
CARD = "card"
TASK = "task"
DISCOVERY_KEY = "discovery"
DISCOVERY_TTL = 3600.0  # seconds a discovered account is reused before the server is asked again


@dataclass(frozen=True, slots=True)
class Broken:
    """A member that cannot be read (a card without UID, a task that is not iCalendar): why."""

    reason: str


Parsed = Contact | Task | Broken | None  # None: a task that is not a syncd reminder


@functools.lru_cache(maxsize=1 << 16)
def canonical(href: str) -> str:
    """One spelling per resource (`/a%40b.vcf` and `/a@b.vcf` are the same card)."""
    parts = urlsplit(href)
    return urlunsplit((parts.scheme, parts.netloc, quote(unquote(parts.path), safe="/:@!$&'()*+,;="), "", ""))


def _source_digest(*paths: str | None) -> str:
    digest = hashlib.sha256(CACHE_VERSION.encode())
    for path in paths:
        if path:
            digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:32]


_CARD_FINGERPRINT: str | None = None


def card_fingerprint() -> str:
    global _CARD_FINGERPRINT
    if _CARD_FINGERPRINT is None:
        _CARD_FINGERPRINT = _source_digest(contacts.__file__, vcard.__file__, __file__)
    return _CARD_FINGERPRINT


def task_fingerprint(zone: ZoneInfo) -> str:
    return f"{_source_digest(reminders.__file__, __file__)}-{zone.key}"


# Encoding parsed objects ----------------------------------------------------------------------------

_ROW_FIELDS = {"href", "etag"}  # kept in the row itself, not in the data


def _enc(value: Any) -> Any:
    """What json cannot encode itself: dates and times as {"$d": ...} / {"$t": ...}, sets as lists."""
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, set):
        return list(value)
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _dec(value: dict[str, Any]) -> Any:
    """Each JSON object read: {"$t": ...} / {"$d": ...} back to a datetime / date."""
    if len(value) == 1:
        if "$t" in value:
            return datetime.fromisoformat(value["$t"])
        if "$d" in value:
            return date.fromisoformat(value["$d"])
    return value


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_enc)
_UNJSON = json.JSONDecoder(object_hook=_dec)
_LAYOUTS: dict[type, tuple[tuple[str, ...], int, int]] = {}


def _layout(cls: type) -> tuple[tuple[str, ...], int, int]:
    """The fields a row stores, in order, and where href and etag go among the class's fields."""
    layout = _LAYOUTS.get(cls)
    if layout is None:
        every = [f.name for f in fields(cls)]
        at_href, at_etag = every.index("href"), every.index("etag")
        if at_href > at_etag:
            raise TypeError(f"{cls.__name__}: href must come before etag")
        layout = _LAYOUTS[cls] = (tuple(n for n in every if n not in _ROW_FIELDS), at_href, at_etag)
    return layout


def encode(value: Parsed) -> str:
    """A parsed member as JSON: its fields but href and etag (kept in the row itself) as an array, in order."""
    if value is None:
        return '{"$none":1}'
    if isinstance(value, Broken):
        return json.dumps({"$broken": value.reason})
    return _JSON.encode([getattr(value, name) for name in _layout(type(value))[0]])


def decode(kind: str, href: str, etag: str, text: str) -> Parsed:
    """Raises ValueError (or TypeError/KeyError) when the row does not fit the current classes."""
    data = _UNJSON.decode(text)
    if isinstance(data, list):
        cls = Contact if kind == CARD else Task
        names, at_href, at_etag = _layout(cls)
        if len(data) != len(names):
            raise ValueError(f"{len(data)} fields, not {len(names)}")
        data.insert(at_href, href)
        data.insert(at_etag, etag)
        return cls(*data)
    if not isinstance(data, dict):
        raise ValueError("neither an array nor an object")
    if "$none" in data:
        return None
    if "$broken" in data:
        return Broken(str(data["$broken"]))
    raise ValueError("an object that is not a parsed member")


# PHOTO/LOGO/SOUND/KEY: often tens of KB of base64 folded over hundreds of lines that no Contact field uses;
# unfolding them is most of the time a photo card takes to read. A property line at the start of a physical
# line (optionally `item1.`-grouped) and its folded continuation lines.
_BINARY = re.compile(
    r"^(?:[A-Za-z0-9-]+\.)?(?:PHOTO|LOGO|SOUND|KEY)[;:][^\r\n]*(?:\r\n|\n)(?:[ \t][^\r\n]*(?:\r\n|\n|$))*",
    re.IGNORECASE | re.MULTILINE,
)
# The same in a text without lone CRs, from the LF before the property to just before its last LF: a search
# for a leading LF is several times faster than trying `^` at every offset.
_BINARY_AFTER_LF = re.compile(
    r"\n(?:[A-Za-z0-9-]+\.)?(?:PHOTO|LOGO|SOUND|KEY)[;:][^\n]*(?=\n)(?:\n[ \t][^\n]*)*",
    re.IGNORECASE,
)
_LONE_CR = re.compile(r"\r(?!\n)")


def without_binary(text: str) -> str:
    """The card's text without binary properties, for reading only (never written back). Cards with
    quoted-printable are left whole: a soft line break lets any text start a physical line there."""
    if len(text) < 2048 or "QUOTED-PRINTABLE" in text.upper():
        return text
    if _LONE_CR.search(text) is not None or _BINARY.match(text) is not None:
        return _BINARY.sub("", text)
    # Removing "LF + property" up to its last LF leaves what removing the property with its last LF leaves;
    # a property that ends the text (no last LF) gives its leading LF back.
    length = len(text)
    return _BINARY_AFTER_LF.sub(lambda m: "\n" if m.end() == length else "", text)


def parse_card(href: str, etag: str, text: str, addressbook: str) -> Contact | Broken:
    try:
        return contact_from_card(Card(href=href, etag=etag, text=without_binary(text), addressbook=addressbook))
    except CardSyntaxError as err:
        return Broken(str(err))


def parse_reminder(href: str, etag: str, text: str, zone: ZoneInfo) -> Task | Broken | None:
    try:
        return parse_task(href, etag, text, zone)
    except BrokenTask as err:
        return Broken(str(err))


# syncd's own writes -------------------------------------------------------------------------------


class WriteHook:
    """A DavClient write listener: keeps the cached member of a written href current."""

    def __init__(self, state: State, zone: ZoneInfo) -> None:
        self.state = state
        self.zone = zone

    def __call__(self, url: str, body: bytes | None, etag: str) -> None:
        href = canonical(url)
        parent = href.rsplit("/", 1)[0] + "/"
        try:
            synced = next((c for c in self.state.synced_collections() if same_resource(c.url, parent)), None)
            if synced is None:
                return
            data: str | None = None
            if body is not None and etag:
                text = body.decode("utf-8", "surrogateescape")
                if synced.kind == CARD:
                    old = self.state.synced_item(synced.url, href)
                    label = ""
                    if old is not None:
                        previous = decode(CARD, href, old[0], old[1])
                        label = previous.addressbook if isinstance(previous, Contact) else ""
                    data = encode(parse_card(href, etag, text, label))
                else:
                    data = encode(parse_reminder(href, etag, text, self.zone))
            self.state.put_synced_item(synced.url, href, etag, data)
        except Exception as err:  # the cache must never break a write; forget the entry instead
            log.debug("cache: could not record the write of %s (%s); it is read again next time", href, err)
            for collection in self.state.synced_collections():
                if same_resource(collection.url, parent):
                    self.state.put_synced_item(collection.url, href, "", None)


# The discovered account ---------------------------------------------------------------------------


def _server_key(settings: Settings) -> str:
    server = settings.server
    return json.dumps([server.url, server.username, server.carddav_url, server.caldav_url])


def _collection_json(c: Collection) -> dict[str, Any]:
    return {"url": c.url, "name": c.name, "kind": c.kind, "components": sorted(c.components), "sync": c.supports_sync}


def save_account(state: State, settings: Settings, account: Account, now: float | None = None) -> None:
    data = {
        "key": _server_key(settings),
        "at": time.time() if now is None else now,
        "principal": account.principal,
        "addressbook_home": account.addressbook_home,
        "calendar_home": account.calendar_home,
        "addressbooks": [_collection_json(c) for c in account.addressbooks],
        "calendars": [_collection_json(c) for c in account.calendars],
    }
    state.set_meta(DISCOVERY_KEY, json.dumps(data))


def load_account(state: State, settings: Settings, now: float | None = None) -> Account | None:
    """The account discovered less than DISCOVERY_TTL ago for the same server settings, else None."""
    raw = state.get_meta(DISCOVERY_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        if data["key"] != _server_key(settings):
            return None
        age = (time.time() if now is None else now) - float(data["at"])
        if not 0 <= age < DISCOVERY_TTL:
            return None

        def collection(c: dict[str, Any]) -> Collection:
            return Collection(c["url"], c["name"], c["kind"], set(c["components"]), bool(c["sync"]))

        return Account(
            data["principal"],
            data["addressbook_home"],
            data["calendar_home"],
            [collection(c) for c in data["addressbooks"]],
            [collection(c) for c in data["calendars"]],
        )
    except (ValueError, KeyError, TypeError) as err:
        log.debug("cache: the saved account is unreadable (%s); discovering again", err)
        return None


def forget_account(state: State) -> None:
    state.set_meta(DISCOVERY_KEY, "")
