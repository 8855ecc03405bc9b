"""The network as the views see it: contacts, their circles, and every known touch. Pure: no I/O, no clock.

A *touch* is a day on which you were in touch with someone. syncd knows them from three places:

- completed reminders in the task list (their COMPLETED time) — source ``reminder``;
- each card's ``X-SYNCD-LAST-CONTACT`` (set by ``syncd done``, a calendar meeting, a message, or a completed
  reminder) — the source the state recorded with that instant (``meeting``, ``mail``, ``manual``), else
  ``done``, unless a completed reminder explains it (a reminder closed by ``syncd done`` is ``manual``);
- touches remembered in the local state from earlier syncs (earlier LAST-CONTACT values the card no longer
  shows) — their recorded source, else ``done`` as well.

One touch per person per day: the same day from two sources counts once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from syncd.core.circles import Membership
from syncd.core.contacts import Contact, format_instant
from syncd.core.durations import Duration
from syncd.core.reminders import MANUAL, Task

REMINDER = "reminder"
DONE = "done"


@dataclass(frozen=True, slots=True)
class CircleSpec:
    key: str
    label: str  # the circle's name from the config, or "Circle KEY"
    interval: Duration


@dataclass(frozen=True, slots=True)
class Touch:
    uid: str
    day: date  # in the user's zone
    source: str  # REMINDER, DONE, or the recorded source (meeting, mail, manual)


@dataclass(slots=True)
class Network:
    """Everything the audit, the reviews and the report are computed from."""

    contacts: Mapping[str, Contact]  # people (no group cards) by UID
    memberships: Mapping[str, Membership]  # tracked contacts only
    tasks: Sequence[Task]  # syncd's reminders, open and done
    circles: Sequence[CircleSpec]  # in config order: the first is the innermost
    touches: list[Touch] = field(default_factory=list)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    first_seen: Mapping[str, date] = field(default_factory=dict)  # UID -> first day syncd saw the contact

    def rank(self, circle: str) -> int:
        for i, spec in enumerate(self.circles):
            if spec.key == circle:
                return i
        return len(self.circles)

    def spec(self, circle: str) -> CircleSpec | None:
        return next((c for c in self.circles if c.key == circle), None)

    def last_touch(self) -> dict[str, date]:
        last: dict[str, date] = {}
        for touch in self.touches:
            if touch.uid not in last or touch.day > last[touch.uid]:
                last[touch.uid] = touch.day
        return last

    def touches_between(self, first: date, last: date) -> list[Touch]:
        return [t for t in self.touches if first <= t.day <= last]


def collect_touches(
    contacts: Mapping[str, Contact],
    tasks: Iterable[Task],
    zone: ZoneInfo,
    remembered: Iterable[tuple[str, datetime]] = (),
    sources: Mapping[tuple[str, str], str] | None = None,
) -> list[Touch]:
    """All known touches, one per person and day, sorted by day then UID. `sources`: (contact UID, instant as
    `format_instant`) -> where the state recorded that touch came from."""
    found: dict[tuple[str, date], str] = {}
    for task in tasks:
        if task.done and task.completed is not None and task.contact_uid in contacts:
            found[(task.contact_uid, task.completed.astimezone(zone).date())] = (
                MANUAL if task.via == MANUAL else REMINDER
            )
    instants = [(uid, c.last_contact) for uid, c in contacts.items() if c.last_contact is not None]
    for uid, instant in [*instants, *remembered]:
        if instant is None or uid not in contacts:
            continue
        source = (sources or {}).get((uid, format_instant(instant)), DONE)
        found.setdefault((uid, instant.astimezone(zone).date()), source)
    return sorted((Touch(uid, day, source) for (uid, day), source in found.items()), key=lambda t: (t.day, t.uid))


def circle_specs(circles: Mapping[str, tuple[str, Duration]]) -> list[CircleSpec]:
    """From `{key: (name, interval)}` in config order."""
    return [CircleSpec(key, name or f"Circle {key}", interval) for key, (name, interval) in circles.items()]


def within_cadence(last: date | None, interval: Duration, day: date) -> bool:
    """In touch often enough on `day`: the last touch was no longer than one interval before it."""
    return last is not None and last <= day and interval.after(last) >= day


def days_between(first: date, last: date) -> int:
    return (last - first).days
