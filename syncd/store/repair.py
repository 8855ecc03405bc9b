"""syncd's own copy of every card's X-SYNCD values, to put them back when another client drops them.

Some clients (seen with iPhone, DAVx5 and Nextcloud apps) rewrite a card without the properties they do not
know, so an edit on the phone can silently remove every `X-SYNCD-*` line. syncd keeps the values it last saw
per contact UID, with the card's ETag, in a table of the state database. When a card comes back with a new
ETag and no X-SYNCD line at all, while the copy holds some, the values are restored (a conditional write,
journaled and logged). Only a complete loss is taken for a foreign client's doing: a card that still has
some X-SYNCD lines is left as it is. (`syncd set CONTACT --circle none` is the way to stop tracking.)
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from syncd.core.contacts import Contact

log = logging.getLogger("syncd.store.repair")

SCHEMA = """
CREATE TABLE IF NOT EXISTS xsyncd_copy (
    uid TEXT PRIMARY KEY,
    href TEXT NOT NULL,
    etag TEXT NOT NULL,
    xsyncd TEXT NOT NULL           -- JSON object: property name -> value
);
"""


@dataclass(frozen=True, slots=True)
class Copy:
    uid: str
    href: str
    etag: str
    values: dict[str, str]


class Copies:
    """The table, on a connection of the state database (created on first use)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.executescript(SCHEMA)

    def all(self) -> dict[str, Copy]:
        rows = self.db.execute("SELECT uid, href, etag, xsyncd FROM xsyncd_copy")
        return {r[0]: Copy(r[0], r[1], r[2], dict(json.loads(r[3]))) for r in rows}

    def save(self, contacts: Iterable[Contact], known: Mapping[str, Copy]) -> int:
        """Remember the values of every contact that has some (a contact without any keeps its old copy,
        so values that vanished stay restorable). Call inside a transaction. Returns rows written."""
        written = 0
        for contact in contacts:
            if not contact.xsyncd:
                continue
            old = known.get(contact.uid)
            if old is not None and old.etag == contact.etag and old.values == contact.xsyncd:
                continue
            self.db.execute(
                "INSERT INTO xsyncd_copy (uid, href, etag, xsyncd) VALUES (?, ?, ?, ?) ON CONFLICT(uid) DO UPDATE "
                "SET href=excluded.href, etag=excluded.etag, xsyncd=excluded.xsyncd",
                (contact.uid, contact.href, contact.etag, json.dumps(contact.xsyncd, sort_keys=True)),
            )
            written += 1
        return written


def vanished(contacts: Mapping[str, Contact], copies: Mapping[str, Copy]) -> dict[str, dict[str, str]]:
    """Contacts whose card lost every X-SYNCD line since syncd last saw it: uid -> the values to restore."""
    out: dict[str, dict[str, str]] = {}
    for uid, contact in contacts.items():
        copy = copies.get(uid)
        if copy is None or not copy.values or contact.xsyncd or contact.is_group:
            continue
        if contact.etag and contact.etag == copy.etag:
            continue  # the same card version syncd saw with values: not a foreign edit
        out[uid] = dict(copy.values)
    return out


def keep_lines(
    contact: Contact, compute: Callable[[dict[str, str]], Mapping[str, str | None]]
) -> Callable[[dict[str, str]], Mapping[str, str | None]]:
    """`compute` for a card write, also restoring the X-SYNCD values syncd read this cycle when every line
    vanished between the read and the write (a foreign client saved the card meanwhile): without this, the
    write would leave only the one value it sets, and the rest would be lost for good."""
    seen = dict(contact.xsyncd)

    def guarded(current: dict[str, str]) -> Mapping[str, str | None]:
        updates = compute(current)
        if current or not seen:
            return updates
        log.warning(
            "%s (%s): every X-SYNCD line vanished after an edit elsewhere; restoring them with this write",
            contact.name,
            contact.href,
        )
        return {**seen, **updates}

    return guarded
