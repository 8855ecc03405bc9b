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
import time
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from syncd import contacts, reminders, vcard
from syncd.config import Settings
from syncd.contacts import Card, Contact, contact_from_card
from syncd.dav import same_resource
from syncd.discovery import Account, Collection
from syncd.reminders import BrokenTask, Task, parse_task
from syncd.state import State
from syncd.vcard import CardSyntaxError

log = logging.getLogger("syncd.cache")

CACHE_VERSION = "1"
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
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, list | tuple | set):
        return [_enc(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _enc(v) for k, v in value.items()}
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _dec(value: Any) -> Any:
    if isinstance(value, list):
        return [_dec(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            if "$t" in value:
                return datetime.fromisoformat(value["$t"])
            if "$d" in value:
                return date.fromisoformat(value["$d"])
        return {k: _dec(v) for k, v in value.items()}
    return value


def encode(value: Parsed) -> str:
    if value is None:
        return '{"$none":1}'
    if isinstance(value, Broken):
        return json.dumps({"$broken": value.reason})
    data = {f.name: _enc(getattr(value, f.name)) for f in fields(value) if f.name not in _ROW_FIELDS}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def decode(kind: str, href: str, etag: str, text: str) -> Parsed:
    """Raises ValueError (or TypeError/KeyError) when the row does not fit the current classes."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    if "$none" in data:
        return None
    if "$broken" in data:
        return Broken(str(data["$broken"]))
    values = {k: _dec(v) for k, v in data.items()}
    if kind == CARD:
        return Contact(href=href, etag=etag, **values)
    return Task(href=href, etag=etag, **values)


def parse_card(href: str, etag: str, text: str, addressbook: str) -> Contact | Broken:
    try:
        return contact_from_card(Card(href=href, etag=etag, text=text, addressbook=addressbook))
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
                    old = self.state.synced_items(synced.url).get(href)
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
