"""A cycle with nothing to do, recognised before anything is read.

A sync cycle is a function of: the collections it reads (address books and the task list, each summed up
by its sync token), syncd's local state (the read cache and the reminders table), the settings, and the
local date. When a cycle ends without having written anything, the next one with the same inputs would
plan the same and write nothing again. So such a cycle leaves a memo in the state (syncd.store.memo): a digest
of those inputs, its summary, and the warnings it logged. The next cycle asks each collection what changed
since its token (one sync-collection REPORT each, which it needs anyway); when none changed and the digest is
the same, it repeats the summary and the warnings and stops there: no cached contact is loaded, nothing is
planned. What the collections answered is handed to the full cycle's reader, which then asks nothing twice.

The events calendar (`reminders.calendar`) is one more input: syncd writes today's digest and this week's
and month's reviews there, and a user may delete or edit them. Its sync token is taken just before the full
cycle reads it and kept in the memo, and the quiet check asks it what changed too.

Anything else in the inputs means a full cycle: a new day, a changed config, a collection that changed
(on the server, or by syncd's own writes, which give it a new token), a reminders table changed by
`syncd done`, a card write that failed (nothing was written, but the next cycle must try again), a
collection without sync support (no token), or a config that reads meetings on each cycle
(`interactions.calendars`: a meeting counts once it has ended, which depends on the hour, not the date) or mail
(`[mail]`: its own check, STATUS per folder, decides whether anything is fetched).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import astuple
from datetime import date, datetime
from pathlib import Path
from types import TracebackType

from syncd.config import Settings
from syncd.core.account import Collection
from syncd.dav import incremental, tasks
from syncd.dav.client import DavClient, NotFound
from syncd.dav.discovery import select_addressbooks
from syncd.engine.reading import Reader
from syncd.engine.session import Session
from syncd.engine.world import QUIET_SUMMARY, Summary
from syncd.errors import ConfigError
from syncd.store import memo as memo_store
from syncd.store.state import SyncedCollection

log = logging.getLogger("syncd")

VERSION = "1"


def applies(settings: Settings) -> bool:
    """Whether a cycle's inputs are all covered by the digest (see the module docstring)."""
    return not settings.interactions.calendars and not settings.mail.url


def digest(
    settings: Settings,
    today: date,
    collections: Mapping[str, SyncedCollection | None],
    reminders: Iterable[tuple[object, ...]],
) -> str | None:
    """The digest of a cycle's inputs; None when one of the collections has no usable token."""
    parts: dict[str, object] = {
        "version": VERSION,
        "code": _code(),
        "settings": settings.model_dump_json(),
        "today": today.isoformat(),
        "reminders": sorted(repr(row) for row in reminders),
    }
    synced: dict[str, list[object]] = {}
    for url, row in sorted(collections.items()):
        if row is None or not row.token:
            return None
        synced[url] = [row.kind, row.fingerprint, row.token, row.items, row.generation]
    parts["collections"] = synced
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@functools.cache
def _code() -> str:
    """syncd's own modules as installed (path, size, mtime): another version plans anew."""
    package = Path(__file__).parent.parent
    found = []
    for path in sorted(package.rglob("*.py")):
        info = path.stat()
        found.append(f"{path.relative_to(package)}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(found).encode()).hexdigest()


class Quiet:
    """The quiet check before a cycle and the memo after it, for one cycle."""

    def __init__(self, session: Session, reader: Reader) -> None:
        self.session = session
        self.reader = reader
        self.events_token: tuple[str, str] | None = None  # (url, sync token) of the events calendar

    def check(self, now: datetime) -> Summary | None:
        """The remembered summary when nothing changed since the last cycle, which wrote nothing; else None
        (what the collections answered is kept for the full cycle's reader)."""
        settings = self.session.settings
        if not applies(settings):
            return None
        memo = memo_store.load(self.session.state)
        if memo is None:
            return None
        start_requests = self.session.clients.requests()
        account = self.reader.account()
        try:
            addressbooks = select_addressbooks(account, settings.contacts.addressbooks)
        except ConfigError:
            return None
        task_list = tasks.find_task_list(account, settings.reminders.task_list)
        if task_list is None or not addressbooks:
            return None
        collections = [*addressbooks, task_list]
        synced = self._synced([c.url for c in collections])
        today = now.astimezone(self.session.zone).date()
        if digest(settings, today, synced, self._reminder_rows()) != memo.digest:
            return None
        clients = self.session.clients
        for collection in collections:
            row = synced[collection.url]
            assert row is not None and row.token is not None  # the digest said so
            client = clients.contacts if collection in addressbooks else clients.calendars
            if not self._unchanged(client, collection.url, row.token):
                return None
        if bool(settings.reminders.calendar) != bool(memo.tokens):
            return None
        for url, token in memo.tokens.items():  # the events calendar
            if not self._unchanged(clients.calendars, url, token):
                return None
        self.reader.listed.clear()
        summary = Summary(**memo.summary)  # type: ignore[arg-type]
        summary.requests = self.session.clients.requests() - start_requests
        for name, message in memo.warnings:  # a broken card is still broken
            logging.getLogger(name).warning("%s", message)
        log.debug("nothing changed since the last cycle, which wrote nothing: nothing to plan")
        log.info("sync: %s", summary.line())
        return summary

    def _unchanged(self, client: DavClient, url: str, token: str) -> bool:
        """Whether the collection reports no change since `token` (its answer is kept for the full cycle)."""
        try:
            listing = incremental.sync_collection(client, url, token)
        except (incremental.TokenRefused, incremental.NoSync, NotFound):
            return False
        self.reader.listed[url] = (token, listing)
        if listing.deleted or listing.token != token:
            return False
        # iCloud's change feed also lists members that did not change: one listed with the ETag the cache
        # holds (and confirmed by an earlier read) is no change.
        state = self.session.state
        for href, etag in listing.etags.items():
            row = state.synced_item(url, href)
            if row is None or not etag or row[0] != etag or row[2]:
                return False
        return True

    def before_events(self, calendar: Collection) -> None:
        """Just before the events calendar is read: its sync token, for the memo."""
        self.events_token = None
        if applies(self.session.settings) and calendar.supports_sync:
            token = incremental.current_token(self.session.clients.calendars, calendar.url)
            self.events_token = (calendar.url, token) if token else None

    def leave(self, now: datetime, summary: Summary, warnings: list[tuple[str, str]], wrote: bool) -> None:
        """After a full cycle: a memo for the next one when this one wrote nothing (else none)."""
        settings = self.session.settings
        state = self.session.state
        memo = None
        urls = list(dict.fromkeys(self.reader.read_urls))
        events_known = not settings.reminders.calendar or self.events_token is not None
        if applies(settings) and not wrote and urls and events_known and not state.unconfirmed(urls):
            today = now.astimezone(self.session.zone).date()
            found = digest(settings, today, self._synced(urls), self._reminder_rows())
            if found is not None:
                tokens = dict([self.events_token]) if self.events_token else {}
                memo = memo_store.Memo(found, {k: getattr(summary, k) for k in QUIET_SUMMARY}, warnings, tokens)
        memo_store.save(state, memo)

    def _synced(self, urls: list[str]) -> dict[str, SyncedCollection | None]:
        rows = {row.url: row for row in self.session.state.synced_collections()}
        return {url: rows.get(url) for url in urls}

    def _reminder_rows(self) -> list[tuple[object, ...]]:
        return [astuple(row) for row in self.session.state.reminders().values()]


class Warnings(logging.Handler):
    """Collects the warnings logged under `syncd` while in use (`with Warnings() as kept: ...`)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.kept: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.kept.append((record.name, record.getMessage()))
        except Exception:  # a record that cannot be formatted is the logging call's problem, not ours
            self.handleError(record)

    def __enter__(self) -> Warnings:
        logging.getLogger("syncd").addHandler(self)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        logging.getLogger("syncd").removeHandler(self)
