"""Local state in `state_dir/state.sqlite3`: only what the server cannot tell (which reminders syncd knew to
be open, so that a deleted one is noticed). Losing it loses nothing: the next sync rebuilds it from the server.

This module owns the database: every table's schema and the schema version (`PRAGMA user_version`). Other
modules of `syncd.store` use its tables through `State` (the read cache, the copies of X-SYNCD values, the
meta entries of the discovered account and the quiet-cycle memo).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from syncd.core.contacts import format_instant, parse_instant
from syncd.core.notes import Note
from syncd.core.reconcile import KnownReminder
from syncd.errors import ConfigError
from syncd.store import private

log = logging.getLogger("syncd.store.state")

SCHEMA = """
CREATE TABLE IF NOT EXISTS reminders (
    uid TEXT PRIMARY KEY,
    contact_uid TEXT NOT NULL,
    href TEXT NOT NULL,
    due TEXT,
    status TEXT NOT NULL,          -- open | done | removed
    recorded INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- For the reviews (syncd/insights.py): when a contact first appeared (baseline = it was there on the first
-- sync, so not "new"), and every X-SYNCD-LAST-CONTACT value seen (a card keeps only the latest).
CREATE TABLE IF NOT EXISTS contacts_seen (uid TEXT PRIMARY KEY, first_seen TEXT NOT NULL, baseline INTEGER NOT NULL);
-- `source`: where the touch came from (reminder, meeting, mail, manual), NULL when not known.
CREATE TABLE IF NOT EXISTS touches (
    contact_uid TEXT NOT NULL, at TEXT NOT NULL, source TEXT, PRIMARY KEY (contact_uid, at)
);
-- Notes about conversations (syncd.core.notes), by the reminder that holds them; rebuilt from the completed
-- reminders on the server when lost.
CREATE TABLE IF NOT EXISTS notes (
    reminder_uid TEXT PRIMARY KEY,
    contact_uid TEXT NOT NULL,
    at TEXT NOT NULL,
    text TEXT NOT NULL,
    source TEXT NOT NULL
);
-- syncd's copy of every card's X-SYNCD values (syncd.store.copies), to put them back when a client drops them.
CREATE TABLE IF NOT EXISTS xsyncd_copy (
    uid TEXT PRIMARY KEY,
    href TEXT NOT NULL,
    etag TEXT NOT NULL,
    xsyncd TEXT NOT NULL           -- JSON object: property name -> value
);
"""

# The read cache (syncd.store.members, filled by syncd.dav.incremental): per collection the RFC 6578 sync token
# and, per member, its ETag and what was parsed from it, so that an unchanged card or task is never downloaded or
# parsed again.
SYNC_SCHEMA = """
CREATE TABLE IF NOT EXISTS sync_collections (
    url TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                -- card | task
    fingerprint TEXT NOT NULL,         -- which reader parsed the cached items; another one = read afresh
    token TEXT,                        -- sync token; NULL = none (the next read lists every member)
    items INTEGER NOT NULL DEFAULT 0,  -- rows in sync_items; a mismatch means damage: read afresh
    generation INTEGER NOT NULL DEFAULT 0  -- new at every change: a quiet-cycle memo (store.memo) is then stale
);
CREATE TABLE IF NOT EXISTS sync_items (
    collection TEXT NOT NULL,
    href TEXT NOT NULL,
    etag TEXT NOT NULL,
    data TEXT NOT NULL,
    pending INTEGER NOT NULL DEFAULT 0,  -- created by syncd after the token: gone unless the next read lists it
    PRIMARY KEY (collection, href)
);
"""

# Mail ([mail], read by syncd.imap): per IMAP folder where the last scan stopped, and per address the latest Date
# of a message to it (direction "to") and from it ("from"). `account` is the server URL and user name: another
# account starts afresh.
MAIL_SCHEMA = """
CREATE TABLE IF NOT EXISTS mail_folders (
    account TEXT NOT NULL,
    folder TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    last_uid INTEGER NOT NULL,        -- the highest UID read
    modseq INTEGER,                   -- HIGHESTMODSEQ when the server offers CONDSTORE
    PRIMARY KEY (account, folder)
);
CREATE TABLE IF NOT EXISTS mail_addresses (
    account TEXT NOT NULL,
    address TEXT NOT NULL,            -- lower-cased
    direction TEXT NOT NULL,          -- to | from
    at TEXT NOT NULL,                 -- ISO 8601 UTC
    PRIMARY KEY (account, address, direction)
);
"""


@dataclass(frozen=True, slots=True)
class MailFolder:
    uidvalidity: int
    last_uid: int
    modseq: int | None


# 1: the tables above, the read cache with `generation` and `pending`. 2: `touches.source`, `notes`, the mail
# tables. A file with a lower version (0: written before syncd recorded one) is brought up to this one when it is
# opened.
SCHEMA_VERSION = 2


def _schema(db: sqlite3.Connection) -> None:
    """Every table, created when missing; an older file brought up to SCHEMA_VERSION."""
    db.executescript(SCHEMA)
    db.executescript(SYNC_SCHEMA)
    db.executescript(MAIL_SCHEMA)
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version >= SCHEMA_VERSION:
        return
    if "source" not in {row[1] for row in db.execute("PRAGMA table_info(touches)")}:
        db.execute("ALTER TABLE touches ADD COLUMN source TEXT")
    # The read cache's tables are made anew when they are from another version (they are only a cache).
    columns = {
        row[1] for table in ("sync_collections", "sync_items") for row in db.execute(f"PRAGMA table_info({table})")
    }
    if not {"generation", "pending"} <= columns:
        db.executescript("DROP TABLE sync_items; DROP TABLE sync_collections;")
        db.executescript(SYNC_SCHEMA)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@dataclass(frozen=True, slots=True)
class SyncedCollection:
    url: str
    kind: str
    fingerprint: str
    token: str | None
    items: int
    generation: int = 0


# State files this process found sound. `PRAGMA quick_check` reads the whole file (~5 ms at 5,000 cached
# cards, as much as a quiet cycle's own work): the daemon checks once, and again after a cycle that failed.
_CHECKED: set[Path] = set()


def recheck() -> None:
    """The next open of a state file checks it again (after a failed cycle: the file may be the cause)."""
    _CHECKED.clear()


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            private.make_dir(path.parent)
        except OSError as err:
            raise ConfigError(f"state_dir: cannot create {path.parent}: {err.strerror}") from err
        self.db = self._open()

    def _owner_only(self) -> None:
        """The file (cached cards: e-mail addresses, notes) and its side files readable by their owner only."""
        try:
            private.create_file(self.path)
        except OSError as err:
            raise ConfigError(f"state_dir: cannot use {self.path}: {err.strerror}") from err
        for suffix in ("-wal", "-shm", "-journal"):
            private.tighten(Path(str(self.path) + suffix))

    def _open(self) -> sqlite3.Connection:
        self._owner_only()
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            _schema(db)
            if self.path not in _CHECKED:
                found = db.execute("PRAGMA quick_check").fetchone()  # "ok", or the first problem it found
                if found is None or found[0] != "ok":
                    db.close()
                    raise sqlite3.DatabaseError(f"quick_check: {found[0] if found else 'no answer'}")
                _CHECKED.add(self.path)
            return db
        except sqlite3.OperationalError as err:  # cannot open or write it (permissions, a directory, locked)
            raise ConfigError(f"state_dir: cannot use {self.path}: {err}") from err
        except sqlite3.DatabaseError as err:
            log.warning("state file %s is damaged (%s); starting afresh from the server", self.path, err)
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            self._owner_only()
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            _schema(db)
            return db

    @classmethod
    def in_dir(cls, state_dir: Path) -> State:
        return cls(state_dir / "state.sqlite3")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def reminders(self) -> dict[str, KnownReminder]:
        rows = self.db.execute("SELECT uid, contact_uid, href, due, status, recorded FROM reminders")
        return {r[0]: KnownReminder(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows}

    def remember(self, uid: str, contact_uid: str, href: str, due: str | None, status: str, recorded: bool) -> None:
        self.db.execute(
            "INSERT INTO reminders (uid, contact_uid, href, due, status, recorded) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(uid) DO UPDATE SET contact_uid=excluded.contact_uid, href=excluded.href, "
            "due=excluded.due, status=excluded.status, recorded=excluded.recorded",
            (uid, contact_uid, href, due, status, int(recorded)),
        )

    def forget(self, uid: str) -> None:
        self.db.execute("DELETE FROM reminders WHERE uid = ?", (uid,))

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    def delete_meta(self, key: str) -> None:
        self.db.execute("DELETE FROM meta WHERE key = ?", (key,))

    # History for the reviews ------------------------------------------------------------------------

    def first_seen(self) -> dict[str, str]:
        """UID -> ISO date syncd first saw the contact, for contacts that were not there on the first sync."""
        rows = self.db.execute("SELECT uid, first_seen FROM contacts_seen WHERE baseline = 0")
        return {str(r[0]): str(r[1]) for r in rows}

    def see_contacts(self, uids: list[str], day: str) -> None:
        """Record contacts not seen before; on the very first call every contact is the baseline."""
        baseline = int(self.db.execute("SELECT COUNT(*) FROM contacts_seen").fetchone()[0] == 0)
        self.db.executemany(
            "INSERT INTO contacts_seen (uid, first_seen, baseline) VALUES (?, ?, ?) ON CONFLICT(uid) DO NOTHING",
            [(uid, day, baseline) for uid in uids],
        )

    def touches(self) -> list[tuple[str, str]]:
        return [(str(r[0]), str(r[1])) for r in self.db.execute("SELECT contact_uid, at FROM touches")]

    def remember_touches(self, touches: list[tuple[str, str]]) -> None:
        self.db.executemany("INSERT INTO touches (contact_uid, at) VALUES (?, ?) ON CONFLICT DO NOTHING", touches)

    def touch_sources(self) -> dict[tuple[str, str], str]:
        """(contact uid, instant) -> where that touch came from, for the touches whose source is known."""
        rows = self.db.execute("SELECT contact_uid, at, source FROM touches WHERE source IS NOT NULL")
        return {(str(r[0]), str(r[1])): str(r[2]) for r in rows}

    def remember_sourced_touches(self, touches: list[tuple[str, str, str]]) -> None:
        """(contact uid, instant, source): a touch already known without a source gets this one."""
        self.db.executemany(
            "INSERT INTO touches (contact_uid, at, source) VALUES (?, ?, ?) "
            "ON CONFLICT(contact_uid, at) DO UPDATE SET source = COALESCE(touches.source, excluded.source)",
            touches,
        )

    def notes(self) -> dict[str, Note]:
        """The notes kept, by the UID of the reminder that holds each."""
        rows = self.db.execute("SELECT reminder_uid, contact_uid, at, text, source FROM notes")
        out = {}
        for uid, contact_uid, at, text, source in rows:
            when = parse_instant(str(at))
            if when is not None:
                out[str(uid)] = Note(str(uid), str(contact_uid), when, str(text), str(source))
        return out

    def remember_notes(self, notes: list[Note]) -> None:
        self.db.executemany(
            "INSERT INTO notes (reminder_uid, contact_uid, at, text, source) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(reminder_uid) DO UPDATE SET contact_uid=excluded.contact_uid, at=excluded.at, "
            "text=excluded.text, source=excluded.source",
            [(n.reminder, n.contact_uid, format_instant(n.at), n.text, n.source) for n in notes],
        )

    def forget_note(self, reminder_uid: str) -> None:
        """The note a reminder held (its `done --note` was undone)."""
        self.db.execute("DELETE FROM notes WHERE reminder_uid = ?", (reminder_uid,))

    def forget_touch(self, contact_uid: str, at: str) -> None:
        """A touch that was undone (`history --undo` of the write that recorded it)."""
        self.db.execute("DELETE FROM touches WHERE contact_uid = ? AND at = ?", (contact_uid, at))

    # Mail (see syncd.imap) ---------------------------------------------------------------------------------

    def mail_folder(self, account: str, folder: str) -> MailFolder | None:
        row = self.db.execute(
            "SELECT uidvalidity, last_uid, modseq FROM mail_folders WHERE account = ? AND folder = ?", (account, folder)
        ).fetchone()
        return None if row is None else MailFolder(int(row[0]), int(row[1]), None if row[2] is None else int(row[2]))

    def save_mail_folder(self, account: str, folder: str, row: MailFolder) -> None:
        self.db.execute(
            "INSERT INTO mail_folders (account, folder, uidvalidity, last_uid, modseq) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(account, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity, "
            "last_uid = excluded.last_uid, modseq = excluded.modseq",
            (account, folder, row.uidvalidity, row.last_uid, row.modseq),
        )

    def mail_addresses(self, account: str, direction: str) -> dict[str, str]:
        rows = self.db.execute(
            "SELECT address, at FROM mail_addresses WHERE account = ? AND direction = ?", (account, direction)
        )
        return {str(r[0]): str(r[1]) for r in rows}

    def see_mail(self, account: str, seen: list[tuple[str, str, str]]) -> None:
        """(address, direction, ISO instant) rows: each kept when later than what is known."""
        self.db.executemany(
            "INSERT INTO mail_addresses (account, address, direction, at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(account, address, direction) DO UPDATE SET at = excluded.at WHERE excluded.at > at",
            [(account, address, direction, at) for address, direction, at in seen],
        )

    # The read cache (see syncd.store.members) --------------------------------------------------------------

    def synced_collections(self) -> list[SyncedCollection]:
        rows = self.db.execute("SELECT url, kind, fingerprint, token, items, generation FROM sync_collections")
        return [SyncedCollection(r[0], r[1], r[2], r[3], int(r[4]), int(r[5])) for r in rows]

    def synced_collection(self, url: str) -> SyncedCollection | None:
        for collection in self.synced_collections():
            if collection.url == url:
                return collection
        return None

    def unconfirmed(self, urls: list[str]) -> int:
        """How many members syncd created in these collections that the server has not listed yet."""
        marks = ",".join("?" * len(urls))
        row = self.db.execute(f"SELECT COUNT(*) FROM sync_items WHERE pending AND collection IN ({marks})", urls)
        return int(row.fetchone()[0])

    def synced_item(self, url: str, href: str) -> tuple[str, str, bool] | None:
        """(etag, data, pending) of one cached member, or None."""
        row = self.db.execute(
            "SELECT etag, data, pending FROM sync_items WHERE collection = ? AND href = ?", (url, href)
        ).fetchone()
        return None if row is None else (row[0], row[1], bool(row[2]))

    def synced_items(self, url: str) -> dict[str, tuple[str, str, bool]]:
        """href -> (etag, data, pending) of the cached members of a collection."""
        rows = self.db.execute("SELECT href, etag, data, pending FROM sync_items WHERE collection = ?", (url,))
        return {r[0]: (r[1], r[2], bool(r[3])) for r in rows}

    def save_synced(
        self,
        url: str,
        kind: str,
        fingerprint: str,
        token: str | None,
        upserts: list[tuple[str, str, str]],
        removed: list[str],
        *,
        replace_all: bool = False,
    ) -> None:
        """One read of a collection, in one transaction: members (href, etag, data) added or changed,
        hrefs removed, and the new token; every member is now confirmed by the server.
        `replace_all`: drop every other cached member first."""
        with self.transaction():
            if replace_all:
                self.db.execute("DELETE FROM sync_items WHERE collection = ?", (url,))
            self.db.execute("UPDATE sync_items SET pending = 0 WHERE collection = ? AND pending", (url,))
            self.db.executemany(
                "DELETE FROM sync_items WHERE collection = ? AND href = ?", [(url, href) for href in removed]
            )
            self.db.executemany(
                "INSERT INTO sync_items (collection, href, etag, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(collection, href) DO UPDATE SET etag=excluded.etag, data=excluded.data",
                [(url, href, etag, data) for href, etag, data in upserts],
            )
            self.db.execute(
                "INSERT INTO sync_collections (url, kind, fingerprint, token, items) VALUES (?, ?, ?, ?, 0) "
                "ON CONFLICT(url) DO UPDATE SET kind=excluded.kind, fingerprint=excluded.fingerprint, "
                "token=excluded.token",
                (url, kind, fingerprint, token),
            )
            self._count_synced(url)

    def put_synced_item(self, url: str, href: str, etag: str, data: str | None) -> None:
        """One member changed by syncd's own write: its new ETag and data (None: forget it, read it again).
        A member new to the cache is pending: the server has not listed it yet."""
        with self.transaction():
            if data is None:
                self.db.execute("DELETE FROM sync_items WHERE collection = ? AND href = ?", (url, href))
            else:
                self.db.execute(
                    "INSERT INTO sync_items (collection, href, etag, data, pending) VALUES (?, ?, ?, ?, 1) "
                    "ON CONFLICT(collection, href) DO UPDATE SET etag=excluded.etag, data=excluded.data",
                    (url, href, etag, data),
                )
            self._count_synced(url)

    def forget_synced(self, url: str | None = None) -> None:
        """Drop the cache of one collection (all when None): its next read starts afresh."""
        with self.transaction():
            if url is None:
                self.db.execute("DELETE FROM sync_items")
                self.db.execute("DELETE FROM sync_collections")
            else:
                self.db.execute("DELETE FROM sync_items WHERE collection = ?", (url,))
                self.db.execute("DELETE FROM sync_collections WHERE url = ?", (url,))

    def _count_synced(self, url: str) -> None:
        self.db.execute(
            "UPDATE sync_collections SET items = (SELECT COUNT(*) FROM sync_items WHERE collection = ?), "
            "generation = random() WHERE url = ?",
            (url, url),
        )
