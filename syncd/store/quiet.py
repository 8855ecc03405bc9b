"""A cycle with nothing to do, recognised before anything is read.

A sync cycle is a function of: the collections it reads (address books and the task list, each summed up
by its sync token), syncd's local state (the read cache and the reminders table), the settings, and the
local date. When a cycle ends without having written anything, the next one with the same inputs would
plan the same and write nothing again. So such a cycle leaves a memo in the state: a digest of those inputs,
its summary, and the warnings it logged. The next cycle asks each collection what changed since its token
(one sync-collection REPORT each, which it needs anyway); when none changed and the digest is the same, it
repeats the summary and the warnings and stops there: no cached contact is loaded, nothing is planned.

The events calendar (`reminders.calendar`) is one more input: syncd writes today's digest and this week's
and month's reviews there, and a user may delete or edit them. Its sync token is taken just before the full
cycle reads it and kept in the memo, and the quiet check asks it what changed too.

Anything else in the inputs means a full cycle: a new day, a changed config, a collection that changed
(on the server, or by syncd's own writes, which give it a new token), a reminders table changed by
`syncd done`, a card write that failed (nothing was written, but the next cycle must try again), a
collection without sync support (no token), or a config that reads meetings on each cycle
(`interactions.calendars`: a meeting counts once it has ended, which depends on the hour, not the date).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import TracebackType

from syncd.config import Settings
from syncd.store.state import State, SyncedCollection

log = logging.getLogger("syncd")

MEMO_KEY = "quiet-cycle"
VERSION = "1"


@dataclass(slots=True)
class Memo:
    digest: str
    summary: dict[str, int]  # Summary fields that describe the outcome (counts)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (logger name, message)
    tokens: dict[str, str] = field(default_factory=dict)  # collections outside the read cache (events): url -> token


def applies(settings: Settings) -> bool:
    """Whether a cycle's inputs are all covered by the digest (see the module docstring)."""
    return not settings.interactions.calendars


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
    """syncd's own modules as installed (name, size, mtime): another version plans anew."""
    package = Path(__file__).parent.parent
    found = []
    for path in sorted(package.rglob("*.py")):
        info = path.stat()
        found.append(f"{path.relative_to(package)}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(found).encode()).hexdigest()


def load(state: State) -> Memo | None:
    raw = state.get_meta(MEMO_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return Memo(
            str(data["digest"]),
            {str(k): int(v) for k, v in data["summary"].items()},
            [(str(name), str(message)) for name, message in data["warnings"]],
            {str(url): str(token) for url, token in data.get("tokens", {}).items()},
        )
    except (ValueError, TypeError, KeyError) as err:
        log.debug("the quiet-cycle memo does not decode (%s); ignored", err)
        return None


def save(state: State, memo: Memo | None) -> None:
    """Keep the memo (None: forget any earlier one, the next cycle runs in full)."""
    if memo is None:
        if state.get_meta(MEMO_KEY) is not None:
            state.delete_meta(MEMO_KEY)
        return
    data = {"digest": memo.digest, "summary": memo.summary, "warnings": memo.warnings, "tokens": memo.tokens}
    state.set_meta(MEMO_KEY, json.dumps(data))


def repeat_warnings(memo: Memo) -> None:
    """Log again what the remembered cycle warned about (a broken card is still broken)."""
    for name, message in memo.warnings:
        logging.getLogger(name).warning("%s", message)


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
