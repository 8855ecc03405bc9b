"""The change journal: every write syncd makes to a card, appended to `state_dir/journal.jsonl`.

One JSON object per line, written with `O_APPEND` and fsync'd before the PUT is sent (the intent) and again
after the server answered (the outcome), so a write interrupted by a crash or `kill -9` still shows up as
"interrupted". A line torn by a crash is skipped when reading. Each write has an id; `syncd history` lists
them and `syncd history --undo ID` writes the before-values back, conditionally.

The journal is rotated when an intent would start with the file at `MAX_BYTES` (4 MiB, a few thousand
writes: years of a daily Connect 5): it becomes `journal.1.jsonl`, replacing the one before, and `history`
reads both as one (an outcome finds its intent in either file, also when another syncd process rotated the
journal in between).

An intent record: `{"id", "at", "uid", "name", "href", "reason", "etag_before", "before", "after"}` (the
X-SYNCD values of the card before and after, by property name). An outcome record: `{"id", "outcome",
"etag_after"}` (and `"detail"` when there is one) where outcome is `written`, `conflict` (412: the card
changed meanwhile; syncd re-read it and tried again under a new id), `gone` (404), `refused` (another 4xx:
the server did not make the write; `detail` is its reason) or `failed` (no answer, or a server error: the
write may or may not have been made; `detail` says what happened). A reminder record: `{"id", "reminder":
{"uid", "href", "etag_after", "before"}}`, after `syncd done` closed the contact's open reminder along with the
card write `id`: its text before (so that undoing that write opens it again) and its ETag after.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from syncd.store import private

log = logging.getLogger("syncd.store.journal")

JOURNAL_FILE = "journal.jsonl"
OLDER_FILE = "journal.1.jsonl"  # the journal before the last rotation
MAX_BYTES = 4 * 1024 * 1024

WRITTEN = "written"
CONFLICT = "conflict"
GONE = "gone"
REFUSED = "refused"
FAILED = "failed"
INTERRUPTED = "interrupted"  # an intent without an outcome: killed between PUT and answer, or before the PUT


@dataclass(frozen=True, slots=True)
class ClosedReminder:
    """The open reminder that the same command closed along with a card write (`syncd done`)."""

    uid: str
    href: str
    etag_after: str  # its ETag once closed ('' when the server sent none)
    before: str  # its text while it was open

    def as_json(self) -> dict[str, str]:
        return {"uid": self.uid, "href": self.href, "etag_after": self.etag_after}


@dataclass(slots=True)
class Entry:
    id: str
    at: str
    uid: str
    name: str
    href: str
    reason: str
    etag_before: str
    before: dict[str, str]
    after: dict[str, str]
    outcome: str = INTERRUPTED
    etag_after: str = ""
    reminder: ClosedReminder | None = None
    detail: str = ""  # the server's reason for a refusal, what went wrong for a failure

    @property
    def undoable(self) -> bool:
        """Whether `history --undo` can apply: the write changed a value and may be on the server (it was
        written, or its answer never came); a refused, lost or superseded write left nothing to undo."""
        return self.outcome in (WRITTEN, INTERRUPTED, FAILED) and bool(self.changes())

    def changes(self) -> list[tuple[str, str | None, str | None]]:
        """(property, before, after) for every X-SYNCD value this write changed (None: absent)."""
        keys = sorted(set(self.before) | set(self.after))
        return [(k, self.before.get(k), self.after.get(k)) for k in keys if self.before.get(k) != self.after.get(k)]

    def undo_updates(self) -> dict[str, str | None]:
        """The patch that puts the changed values back as they were (None removes a property)."""
        return {key: old for key, old, _new in self.changes()}

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "at": self.at,
            "uid": self.uid,
            "name": self.name,
            "href": self.href,
            "reason": self.reason,
            "outcome": self.outcome,
            "detail": self.detail or None,
            "undo": f"syncd history --undo {self.id}" if self.undoable else None,
            "etag_before": self.etag_before,
            "etag_after": self.etag_after,
            "before": self.before,
            "after": self.after,
            "changes": [{"property": k, "before": old, "after": new} for k, old, new in self.changes()],
            "reminder": self.reminder.as_json() if self.reminder is not None else None,
        }


@dataclass(slots=True)
class Journal:
    path: Path
    max_bytes: int = MAX_BYTES
    torn: int = field(default=0, init=False)  # lines skipped when last read (torn by a crash)
    _latest: dict[str, str] = field(default_factory=dict, init=False)  # contact UID -> id of its last intent here

    @property
    def older(self) -> Path:
        return self.path.with_name(OLDER_FILE)

    def _rotate(self) -> None:
        try:
            if self.path.stat().st_size < self.max_bytes:
                return
        except FileNotFoundError:
            return
        os.replace(self.path, self.older)
        log.info("change journal rotated: %s is now %s", self.path.name, self.older.name)

    @classmethod
    def in_dir(cls, state_dir: Path) -> Journal:
        return cls(state_dir / JOURNAL_FILE)

    def _append(self, record: Mapping[str, object]) -> None:
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        private.make_dir(self.path.parent)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, private.FILE_MODE)
        try:
            if os.fstat(fd).st_size:
                # A crash may have left a torn last line: start ours on a line of its own.
                with open(self.path, "rb") as existing:
                    existing.seek(-1, os.SEEK_END)
                    if existing.read(1) != b"\n":
                        line = "\n" + line
            os.write(fd, line.encode("utf-8", "surrogateescape"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def intent(
        self,
        *,
        uid: str,
        name: str,
        href: str,
        reason: str,
        etag: str,
        before: Mapping[str, str],
        after: Mapping[str, str],
        now: datetime | None = None,
    ) -> str:
        self._rotate()
        entry_id = uuid.uuid4().hex[:10]
        at = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._append(
            {
                "id": entry_id,
                "at": at,
                "uid": uid,
                "name": name,
                "href": href,
                "reason": reason,
                "etag_before": etag,
                "before": dict(before),
                "after": dict(after),
            }
        )
        self._latest[uid] = entry_id
        return entry_id

    def outcome(self, entry_id: str, outcome: str, etag: str = "", detail: str = "") -> None:
        record = {"id": entry_id, "outcome": outcome, "etag_after": etag}
        self._append({**record, "detail": detail} if detail else record)

    def latest(self, uid: str) -> str | None:
        """The id of the last write of this contact's card recorded through this journal object."""
        return self._latest.get(uid)

    def closed_reminder(self, entry_id: str, reminder: ClosedReminder) -> None:
        """The card write `entry_id` came with closing this reminder (undoing the one opens the other again)."""
        self._append(
            {
                "id": entry_id,
                "reminder": {
                    "uid": reminder.uid,
                    "href": reminder.href,
                    "etag_after": reminder.etag_after,
                    "before": reminder.before,
                },
            }
        )

    def entries(self) -> list[Entry]:
        """Every write in the order it was attempted (the rotated file's first); outcomes merged in."""
        self.torn = 0
        raw = b""
        for path in (self.older, self.path):
            try:
                part = path.read_bytes()
            except FileNotFoundError:
                continue
            raw += part if part.endswith(b"\n") or not part else part + b"\n"
        by_id: dict[str, Entry] = {}
        for line in raw.decode("utf-8", "surrogateescape").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if "outcome" in record:
                    entry = by_id.get(str(record["id"]))
                    if entry is not None:
                        entry.outcome = str(record["outcome"])
                        entry.etag_after = str(record.get("etag_after") or "")
                        entry.detail = str(record.get("detail") or "")
                    continue
                if "reminder" in record:
                    entry = by_id.get(str(record["id"]))
                    closed = dict(record["reminder"])
                    if entry is not None:
                        entry.reminder = ClosedReminder(
                            str(closed["uid"]), str(closed["href"]), str(closed["etag_after"]), str(closed["before"])
                        )
                    continue
                by_id[str(record["id"])] = Entry(
                    id=str(record["id"]),
                    at=str(record["at"]),
                    uid=str(record["uid"]),
                    name=str(record["name"]),
                    href=str(record["href"]),
                    reason=str(record["reason"]),
                    etag_before=str(record["etag_before"]),
                    before={str(k): str(v) for k, v in dict(record["before"]).items()},
                    after={str(k): str(v) for k, v in dict(record["after"]).items()},
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                self.torn += 1
        if self.torn:
            log.debug("%s: %d unreadable line(s) skipped (torn by a crash)", self.path, self.torn)
        return list(by_id.values())

    def bind(self, uid: str, name: str, reason: str) -> BoundJournal:
        return BoundJournal(self, uid, name, reason)


@dataclass(slots=True)
class BoundJournal:
    """The journal for one card write (one contact, one reason): what `carddav.write_xsyncd` calls."""

    journal: Journal
    uid: str
    name: str
    reason: str

    def intent(self, href: str, etag: str, before: Mapping[str, str], after: Mapping[str, str]) -> str:
        return self.journal.intent(
            uid=self.uid, name=self.name, href=href, reason=self.reason, etag=etag, before=before, after=after
        )

    def outcome(self, entry_id: str, outcome: str, etag: str = "", detail: str = "") -> None:
        self.journal.outcome(entry_id, outcome, etag, detail)


def select(entries: list[Entry], contact: str | None) -> list[Entry]:
    """Entries of one contact (a UID, or a name matched case-insensitively), or all when None."""
    if contact is None:
        return entries
    wanted = contact.strip().casefold()
    return [e for e in entries if e.uid == contact or e.name.casefold() == wanted]


def xsyncd_diff(original: str, patched: str) -> list[str]:
    """The card's X-SYNCD lines that a write removes (`- `) and adds (`+ `), unfolded, in card order."""
    from syncd.core.vcard import logical_lines
    from syncd.core.xsyncd import XSYNCD_PREFIX

    def lines(text: str) -> list[str]:
        return [content for content, _s, _e in logical_lines(text) if content.upper().startswith(XSYNCD_PREFIX)]

    old, new = lines(original), lines(patched)
    removed = [f"- {line}" for line in old if line not in new]
    added = [f"+ {line}" for line in new if line not in old]
    return removed + added
