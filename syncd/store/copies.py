"""syncd's copies of every card's X-SYNCD values (see `core.repair`), in the `xsyncd_copy` table of the
state database (its schema is in `store.state`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from syncd.core.contacts import Contact
from syncd.core.repair import Copy
from syncd.store.state import State


class Copies:
    """The copies kept in a state database."""

    def __init__(self, state: State) -> None:
        self.state = state

    def all(self) -> dict[str, Copy]:
        rows = self.state.db.execute("SELECT uid, href, etag, xsyncd FROM xsyncd_copy")
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
            self.state.db.execute(
                "INSERT INTO xsyncd_copy (uid, href, etag, xsyncd) VALUES (?, ?, ?, ?) ON CONFLICT(uid) DO UPDATE "
                "SET href=excluded.href, etag=excluded.etag, xsyncd=excluded.xsyncd",
                (contact.uid, contact.href, contact.etag, json.dumps(contact.xsyncd, sort_keys=True)),
            )
            written += 1
        return written
