"""Incremental reads of a collection: what changed since the last read, and only that downloaded.

1. Ask what changed: RFC 6578 sync-collection with the stored token (ETags only). A 507 on the collection
   itself means the answer was truncated: ask again with the token it gave, until complete. Without a
   token the answer lists every member.
2. A token the server refuses (403/412 with DAV:valid-sync-token, or any 4xx/500 to a request that
   carried a token) means: list every member with a fresh sync-collection. A server or collection without
   sync support gets a PROPFIND of every member's ETag instead.
3. Compare with the cache: members whose ETag is new or different are fetched with a multiget (streamed,
   in batches) and parsed; deleted ones are dropped; every other member comes from the cache.
4. Members, ETags, parsed data and the new token are saved in one transaction, after everything was
   read: an interrupted read leaves the previous, consistent cache.

Long reads can be shown as they go: `read_collection` takes a `ProgressDisplay` (the command line passes its
terminal display); by default nothing is drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Protocol
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from syncd.core.account import Collection, canonical, same_resource
from syncd.dav import multiget
from syncd.dav.carddav import list_etags
from syncd.dav.client import DavClient, HTTPStatusError, NotFound
from syncd.errors import PreconditionFailed, ServerError
from syncd.store import codec
from syncd.store.fingerprints import card_fingerprint, task_fingerprint
from syncd.store.members import CARD, TASK, Parsed, parse_card, parse_reminder
from syncd.store.state import State

log = logging.getLogger("syncd.dav.incremental")

MAX_PAGES = 10_000
_SERVER_TROUBLE = {502, 503, 504}


class Tally(Protocol):
    """A running count of members read, as a progress display shows it."""

    def advance(self, n: int = 1) -> None: ...


# (total members, or None when not known in advance; what is being read) -> a display while in use.
ProgressDisplay = Callable[[int | None, str], AbstractContextManager[Tally]]


class _Silent:
    def advance(self, n: int = 1) -> None:
        pass


def no_progress(total: int | None, label: str) -> AbstractContextManager[Tally]:
    """The default display: draws nothing."""
    return nullcontext(_Silent())


class TokenRefused(Exception):
    """The server does not accept the sync token (expired, or from before a reset)."""


class NoSync(Exception):
    """The server or collection does not do sync-collection."""


@dataclass(slots=True)
class Listing:
    """Members by href with their ETags: all of them (`complete`), or only those changed since the token."""

    etags: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    token: str | None = None
    complete: bool = True
    how: str = "sync-collection"


def sync_body(token: str | None, data: multiget.Kind | None = None) -> bytes:
    """A sync-collection REPORT asking for ETags, and with `data` also for each member's text."""
    token_el = f"<d:sync-token>{escape(token)}</d:sync-token>" if token else "<d:sync-token/>"
    xmlns, prop = "", "<d:getetag/>"
    if data is not None:
        xmlns, prop = f' xmlns:x="{data.namespace}"', f"<d:getetag/><x:{data.data}/>"
    return (
        f'<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:"{xmlns}>'
        f"{token_el}<d:sync-level>1</d:sync-level><d:prop>{prop}</d:prop></d:sync-collection>"
    ).encode()


def sync_collection(client: DavClient, url: str, token: str | None) -> Listing:
    """RFC 6578 sync-collection, following 507 truncation until the answer is complete."""
    listing = Listing(token=token, complete=not token)
    for _page in range(MAX_PAGES):
        try:
            found = client.report(url, sync_body(listing.token), depth=0)
        except PreconditionFailed as err:
            raise (TokenRefused() if listing.token else NoSync()) from err
        except HTTPStatusError as err:
            if err.status in _SERVER_TROUBLE:
                raise
            if listing.token and (b"valid-sync-token" in err.body or err.status in (400, 403, 409, 500)):
                raise TokenRefused() from err
            raise NoSync() from err
        truncated = False
        for resource in found.resources:
            href = canonical(resource.href)
            if same_resource(href, url):
                truncated = truncated or resource.status == 507
                continue
            if resource.status == 404:
                listing.etags.pop(href, None)
                listing.deleted.add(href)
            elif resource.status == 200:
                listing.deleted.discard(href)
                listing.etags[href] = (resource.text("d:getetag") or "").strip()
        if not found.sync_token:
            raise NoSync()
        listing.token = found.sync_token
        if not truncated:
            return listing
        log.debug("%s: sync-collection answer truncated (507); asking for the rest", url)
    raise NoSync()


def first_listing(
    client: DavClient, collection: Collection, data: multiget.Kind, take: Callable[[multiget.Item], None]
) -> Listing | None:
    """The first read of a collection in one request: a token-less sync-collection that asks for each
    member's text along with its ETag (RFC 6578 lets a client name any property), parsed while it streams
    in; `take` gets each member that came with its text. A server that leaves the text out (Xandikos
    answers 404 for it) still lists every member, which is then fetched with multigets as usual.

    This saves the separate listing before the multigets: on a large Radicale address book that listing
    costs almost what downloading every card does. (An addressbook-query would also bring every card, but
    Xandikos parses every card for it the first time: slower than the multigets.) Anything unexpected (an
    error status, XML that does not parse, an answer over the size limit, cut off, or truncated with 507)
    returns None, and the caller reads the usual way (a server in trouble, 502-504, or a 404 is raised);
    what `take` was given must then be dropped.
    """
    listing = Listing(token=None, complete=True, how="sync-collection with data")
    tail: dict[str, str] = {}
    data_tag = f"{{{data.namespace}}}{data.data}"
    try:
        stream = client.report_stream(collection.url, sync_body(None, data), depth=0, tail=tail)
        try:
            for resource in stream:
                href = canonical(resource.href)
                if same_resource(href, collection.url):
                    if resource.status == 507:
                        return None
                    continue
                if resource.status != 200:
                    continue
                etag = (resource.text("d:getetag") or "").strip()
                listing.etags[href] = etag
                element = resource.props.get(data_tag)
                if element is not None and etag:
                    take(multiget.Item(href, etag, "".join(str(t) for t in element.itertext())))
        finally:
            stream.close()
    except (ServerError, PreconditionFailed) as err:
        if isinstance(err, NotFound) or (isinstance(err, HTTPStatusError) and err.status in _SERVER_TROUBLE):
            raise
        # Also an answer cut off while it streamed in: the usual way reads it in smaller, retried pieces.
        log.info("%s: a sync-collection with the data failed (%s); listing, then fetching", collection.url, err)
        return None
    if not tail.get("sync-token"):
        return None
    listing.token = tail["sync-token"]
    return listing


def current_token(client: DavClient, url: str) -> str | None:
    """The collection's sync token now (its DAV:sync-token property), or None when it has none."""
    try:
        found = client.propfind(url, ["d:sync-token"], depth=0)
    except HTTPStatusError as err:
        if err.status in _SERVER_TROUBLE:
            raise
        return None
    token = next((r.text("d:sync-token") for r in found.resources if same_resource(r.href, url)), None)
    return token.strip() if token and token.strip() else None


def list_changes(client: DavClient, collection: Collection, token: str | None) -> Listing:
    """What changed since `token` (None: every member), with the fallbacks described above."""
    if collection.supports_sync:
        try:
            return sync_collection(client, collection.url, token)
        except TokenRefused:
            log.info("%s: the server no longer accepts the sync token; reading the whole list", collection.url)
            try:
                return sync_collection(client, collection.url, None)
            except (TokenRefused, NoSync):
                pass
        except NoSync:
            log.info("%s: sync-collection not available; comparing ETags instead", collection.url)
    etags = {canonical(href): etag for href, etag in list_etags(client, collection).items()}
    return Listing(etags=etags, token=None, complete=True, how="propfind")


# Reading a collection through the cache ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reader:
    """How one kind of collection is read: the multiget flavour and the parser of one item's text."""

    kind: str  # CARD or TASK
    fingerprint: str
    data: multiget.Kind
    parse: Callable[[str, str, str], Parsed]  # (href, etag, text) -> parsed
    label: str  # for the progress display: "contacts", "tasks"


def card_reader(addressbook: Collection) -> Reader:
    label = addressbook.name or addressbook.url

    def parse(href: str, etag: str, text: str) -> Parsed:
        return parse_card(href, etag, text, label)

    return Reader(CARD, card_fingerprint(), multiget.ADDRESS_DATA, parse, "contacts")


def task_reader(zone: ZoneInfo) -> Reader:
    def parse(href: str, etag: str, text: str) -> Parsed:
        return parse_reminder(href, etag, text, zone)

    return Reader(TASK, task_fingerprint(zone), multiget.CALENDAR_DATA, parse, "tasks")


@dataclass(slots=True)
class ReadStats:
    listed: int = 0  # members the server listed as new or changed
    fetched: int = 0  # members downloaded and parsed
    cached: int = 0  # members taken from the cache
    deleted: int = 0
    how: str = ""


def _cached(
    state: State, collection: Collection, reader: Reader
) -> tuple[dict[str, tuple[str, Parsed]], set[str], set[str], bool]:
    """(usable cached members by href, hrefs whose row did not decode, hrefs syncd created that the server
    has not listed yet, whether the token can be used)."""
    synced = state.synced_collection(collection.url)
    if synced is None or synced.kind != reader.kind or synced.fingerprint != reader.fingerprint:
        return {}, set(), set(), False
    rows = state.synced_items(collection.url)
    if len(rows) != synced.items:
        log.warning("the local cache of %s is inconsistent; reading it afresh", collection.url)
        return {}, set(), set(), False
    members = {}
    unreadable: set[str] = set()
    pending: set[str] = set()
    for href, (etag, data, unconfirmed) in rows.items():
        if unconfirmed:
            pending.add(href)
        try:
            members[href] = (etag, codec.decode(reader.kind, href, etag, data))
        except (ValueError, TypeError, KeyError) as err:
            log.debug("cache: %s does not decode (%s); fetching it again", href, err)
            unreadable.add(href)
    return members, unreadable, pending, synced.token is not None


def cached_collection(state: State, collection: Collection, reader: Reader) -> list[tuple[str, Parsed]] | None:
    """What the last read of the collection left in the cache, without asking the server (sorted by href);
    None when it was never read (or read by another reader version)."""
    synced = state.synced_collection(collection.url)
    if synced is None or synced.kind != reader.kind or synced.fingerprint != reader.fingerprint:
        return None
    members = _cached(state, collection, reader)[0]
    return [(href, parsed) for href, (_etag, parsed) in sorted(members.items())]


def read_collection(
    client: DavClient,
    state: State,
    collection: Collection,
    reader: Reader,
    stats: ReadStats | None = None,
    listed: tuple[str, Listing] | None = None,
    *,
    progress: ProgressDisplay = no_progress,
) -> list[tuple[str, Parsed]]:
    """Every member of the collection as (href, parsed), sorted by href; see the module docstring.

    `listed`: (token, what `sync_collection` answered for it) when the caller asked already; used when the
    cache holds that token. `progress`: shows the members being downloaded (by default nothing is drawn)."""
    stats = stats if stats is not None else ReadStats()
    cached, unreadable, pending, token_usable = _cached(state, collection, reader)
    synced = state.synced_collection(collection.url)
    token = synced.token if (synced is not None and token_usable) else None
    fresh: dict[str, tuple[str, Parsed]] = {}
    upserts: list[tuple[str, str, str]] = []
    complete_cache = True

    def take(item: multiget.Item, href: str, tally: Tally) -> None:
        nonlocal complete_cache
        parsed = reader.parse(href, item.etag, item.text)
        fresh[href] = (item.etag, parsed)
        try:
            upserts.append((href, item.etag, codec.encode(parsed)))
        except TypeError as err:  # a field the cache cannot hold: list everything next time
            log.debug("cache: %s not cached (%s)", href, err)
            complete_cache = False
        tally.advance()

    listing: Listing | None = None
    if listed is not None and token is not None and listed[0] == token:
        listing = listed[1]
    elif token is None and not cached and not unreadable and collection.supports_sync:
        with progress(None, f"Reading {reader.label} from {collection.label()}") as tally:
            listing = first_listing(client, collection, reader.data, lambda item: take(item, item.href, tally))
        if listing is None:
            fresh.clear()
            upserts.clear()
            complete_cache = True
    if listing is None:
        listing = list_changes(client, collection, token)
    stats.how = listing.how
    stats.listed = len(listing.etags)
    if listing.complete:
        members = dict(listing.etags)
        removed = [href for href in cached if href not in members] + [h for h in unreadable if h not in members]
    else:
        # Created by syncd after the token and still there -> listed as changed; not listed -> deleted since.
        vanished = {href for href in pending if href not in listing.etags}
        members = {href: etag for href, (etag, _) in cached.items()} | {h: "" for h in unreadable}
        members.update(listing.etags)
        for href in listing.deleted | vanished:
            members.pop(href, None)
        removed = [href for href in listing.deleted | vanished if href in cached or href in unreadable]
    wanted = [
        href
        for href, etag in members.items()
        if href not in fresh and (href not in cached or not etag or cached[href][0] != etag or href in unreadable)
    ]
    if wanted:
        by_key = {canonical(href): href for href in wanted}
        with progress(len(wanted), f"Reading {reader.label} from {collection.label()}") as tally:
            for item in multiget.multiget(client, collection.url, sorted(wanted), reader.data):
                href = by_key.get(canonical(item.href), "")
                if href:  # else not asked for: not a member as far as this read knows
                    take(item, href, tally)
        gone = [href for href in wanted if href not in fresh]  # deleted between listing and fetching
        for href in gone:
            members.pop(href, None)
        removed += [href for href in gone if href in cached or href in unreadable]
    stats.fetched = len(fresh)
    stats.deleted = len(removed)
    out: list[tuple[str, Parsed]] = []
    for href in sorted(members):
        if href in fresh:
            out.append((href, fresh[href][1]))
        elif href in cached:
            out.append((href, cached[href][1]))
    stats.cached = len(out) - len(fresh)
    token = listing.token if complete_cache else None
    quiet = (
        synced is not None
        and token_usable
        and synced.token == token
        and not upserts
        and not removed
        and not pending
        and not unreadable
    )
    if not quiet:  # nothing to write when nothing changed
        state.save_synced(
            collection.url,
            reader.kind,
            reader.fingerprint,
            token,
            upserts,
            sorted(set(removed)),
            replace_all=not cached and not unreadable,
        )
    return out
