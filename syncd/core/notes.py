"""Notes about conversations: what the user wrote into a reminder's notes when it was done, or gave to
`syncd done --note`. The completed reminders on the server are their record (a note is read from the reminder
that holds it); the state keeps a copy, so that a note outlives a reminder the user cleared away. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from syncd.core.reminders import MANUAL, Task

REMINDER = "reminder"  # typed into the reminder's notes (on the phone)


@dataclass(frozen=True, slots=True)
class Note:
    reminder: str  # UID of the reminder that holds it
    contact_uid: str
    at: datetime  # the reminder's completion (else when syncd first saw it done), aware
    text: str
    source: str  # REMINDER, or MANUAL (`syncd done --note`)


def from_tasks(tasks: Iterable[Task], now: datetime) -> dict[str, Note]:
    """The notes of done reminders, by reminder UID."""
    return {
        task.uid: Note(
            task.uid, task.contact_uid, task.completed or now, task.note, MANUAL if task.via == MANUAL else REMINDER
        )
        for task in tasks
        if task.done and task.note.strip()
    }


def merged(stored: Mapping[str, Note], found: Mapping[str, Note]) -> dict[str, Note]:
    """The notes kept and those read now, by reminder UID: a note read now wins (the user may have edited it),
    keeping the date it was kept with."""
    out = dict(stored)
    for uid, note in found.items():
        kept = stored.get(uid)
        out[uid] = note if kept is None else Note(uid, note.contact_uid, kept.at, note.text, note.source)
    return out


def newest_first(notes: Iterable[Note]) -> list[Note]:
    return sorted(notes, key=lambda n: (n.at, n.reminder), reverse=True)


def latest(notes: Iterable[Note]) -> dict[str, Note]:
    """Contact UID -> the newest note about them."""
    out: dict[str, Note] = {}
    for note in notes:
        held = out.get(note.contact_uid)
        if held is None or (note.at, note.reminder) > (held.at, held.reminder):
            out[note.contact_uid] = note
    return out
