"""Local state in `state_dir/state.sqlite3`: only what the server cannot tell (which reminders syncd knew to
be open, so that a deleted one is noticed). Losing it loses nothing: the next sync rebuilds it from the server.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import ConfigError

log = logging.getLogger("syncd.state")

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
CREATE TABLE IF NOT EXISTS touches (contact_uid TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (contact_uid, at));
"""


@dataclass(frozen=True, slots=True)
class KnownReminder:
    uid: str
    contact_uid: str
    href: str
    due: str | None
    status: str
    recorded: bool


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"state_dir: cannot create {path.parent}: {err.strerror}") from err
        self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
            db.execute("PRAGMA quick_check").fetchone()
            return db
        except sqlite3.DatabaseError as err:
            log.warning("state file %s is damaged (%s); starting afresh from the server", self.path, err)
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.path) + suffix).unlink(missing_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            return db
        except sqlite3.OperationalError as err:  # pragma: no cover - permissions
            raise ConfigError(f"state_dir: cannot open {self.path}: {err}") from err

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
