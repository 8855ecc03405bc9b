"""One view of a person (`syncd show`, `syncd list`): circle, interval, last contact and where it came from,
the next due date, the notes. Pure: the engine hands in what a read and the state hold."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from syncd.core.circles import Membership
from syncd.core.contacts import Contact, format_instant
from syncd.core.notes import Note, newest_first
from syncd.core.reminders import MANUAL, Task

REMINDER = "reminder"
CARD = "card"  # a last contact in the card that syncd has no other record of


@dataclass(frozen=True, slots=True)
class Person:
    uid: str
    name: str
    circle: str | None  # None: not tracked
    interval: str | None  # ISO 8601 duration
    last_contact: datetime | None
    last_contact_source: str | None  # reminder, meeting, mail, manual, card
    next_due: date | None
    notes: list[Note] = field(default_factory=list)  # newest first

    def as_json(self, with_notes: bool = True) -> dict[str, object]:
        out: dict[str, object] = {
            "uid": self.uid,
            "name": self.name,
            "circle": self.circle,
            "interval": self.interval,
            "last_contact": format_instant(self.last_contact) if self.last_contact else None,
            "last_contact_source": self.last_contact_source,
            "next_due": self.next_due.isoformat() if self.next_due else None,
        }
        if with_notes:
            out["notes"] = [{"date": format_instant(n.at), "text": n.text, "source": n.source} for n in self.notes]
        return out


def last_source(contact: Contact, done: Iterable[Task], sources: Mapping[tuple[str, str], str]) -> str | None:
    """Where the card's last contact came from: the source recorded with that instant, else the completed
    reminder it is the completion of, else the card itself."""
    if contact.last_contact is None:
        return None
    at = format_instant(contact.last_contact)
    recorded = sources.get((contact.uid, at))
    if recorded is not None:
        return recorded
    for task in done:
        if task.contact_uid == contact.uid and task.completed is not None and format_instant(task.completed) == at:
            return MANUAL if task.via == MANUAL else REMINDER
    return CARD


def person(
    contact: Contact,
    membership: Membership | None,
    tasks: Iterable[Task],
    sources: Mapping[tuple[str, str], str],
    next_due: date | None,
    notes: Iterable[Note] = (),
) -> Person:
    return Person(
        uid=contact.uid,
        name=contact.name,
        circle=membership.circle if membership else None,
        interval=str(membership.interval) if membership else None,
        last_contact=contact.last_contact,
        last_contact_source=last_source(contact, (t for t in tasks if t.done), sources),
        next_due=next_due if membership else None,
        notes=newest_first(n for n in notes if n.contact_uid == contact.uid),
    )
