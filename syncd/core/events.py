"""Calendar events for `reminders.calendar`: the daily digest, the weekly reflection, the monthly review.

Pure: what an event should say (`Wanted`), its iCalendar text, and whether an event on the server already
says it. UIDs are stable — one digest per day, one reflection per week, one review per month — so a retry or
a lost state never duplicates one, and a sync that finds the event unchanged writes nothing.
"""

from __future__ import annotations

import calendar as calmod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from syncd.core.reminders import PRODID
from syncd.core.words import counted

if TYPE_CHECKING:  # icalendar is imported where an event is built or read: most syncs touch no event
    from icalendar import Calendar, Event, Timezone

KIND_PROP = "X-SYNCD-KIND"
DIGEST, WEEKLY, MONTHLY = "digest", "weekly", "monthly"


class BrokenEvent(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class DigestItem:
    name: str
    circle: str
    due: date
    phones: tuple[str, ...]
    emails: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Wanted:
    """An event as syncd wants it to be."""

    uid: str
    kind: str
    summary: str
    description: str
    start: datetime  # aware, in the user's zone
    minutes: int

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone)


def digest(items: Sequence[DigestItem], today: date, clock: time, zone: ZoneInfo) -> Wanted | None:
    """Today's open reminders with how to reach each person; None when nobody is left (the event goes)."""
    if not items:
        return None
    lines = []
    for item in items:
        late = f", due {item.due.isoformat()}" if item.due < today else ""
        lines.append(f"• {item.name} (circle {item.circle}{late})" if item.circle else f"• {item.name}{late}")
        lines.extend(f"  phone {p}" for p in item.phones[:2])
        lines.extend(f"  email {e}" for e in item.emails[:2])
    lines += ["", "Tick them off in your task list; this event follows it."]
    count = len(items)
    return Wanted(
        uid=f"syncd-digest-{today:%Y%m%d}",
        kind=DIGEST,
        summary=f"Keep in touch: {counted(count, 'person', 'people')} today",
        description="\n".join(lines),
        start=_at(today, clock, zone),
        minutes=15,
    )


def week_day(today: date, weekday: int) -> date:
    """The next `weekday` (0 = Monday) on or after today: the day of this week's reflection."""
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def weekly(text: str, today: date, weekday: int, clock: time, zone: ZoneInfo) -> Wanted:
    day = week_day(today, weekday)
    return Wanted(
        uid=f"syncd-week-{day:%Y%m%d}",
        kind=WEEKLY,
        summary="Weekly reflection: keep in touch",
        description=text,
        start=_at(day, clock, zone),
        minutes=15,
    )


def month_day(today: date) -> date:
    """The next 1st of a month on or after today: the day of the monthly review."""
    if today.day == 1:
        return today
    last = today.replace(day=calmod.monthrange(today.year, today.month)[1])
    return last + timedelta(days=1)


def monthly(text: str, today: date, clock: time, zone: ZoneInfo) -> Wanted:
    day = month_day(today)
    return Wanted(
        uid=f"syncd-month-{day:%Y%m}",
        kind=MONTHLY,
        summary="Monthly review: your network",
        description=text,
        start=_at(day, clock, zone),
        minutes=30,
    )


def _stamp(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(microsecond=0)


def _timezone(zone: ZoneInfo, day: date) -> Timezone:
    from icalendar import Timezone

    return Timezone.from_tzinfo(zone, first_date=day - timedelta(days=370), last_date=day + timedelta(days=740))


def _set_times(event: Event, wanted: Wanted) -> None:
    for key in ("DTSTART", "DTEND", "DURATION"):
        if key in event:
            del event[key]
    event.add("DTSTART", wanted.start)
    event.add("DTEND", wanted.end)


def build(wanted: Wanted, now: datetime) -> str:
    """A new event with a display alarm at its start."""
    from icalendar import Alarm, Calendar, Event

    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    event = Event()
    stamp = _stamp(now)
    event.add("UID", wanted.uid)
    event.add("DTSTAMP", stamp)
    event.add("CREATED", stamp)
    event.add("LAST-MODIFIED", stamp)
    event.add("SUMMARY", wanted.summary)
    event.add("DESCRIPTION", wanted.description)
    _set_times(event, wanted)
    event.add("TRANSP", "TRANSPARENT")
    event.add(KIND_PROP, wanted.kind)
    alarm = Alarm()
    alarm.add("ACTION", "DISPLAY")
    alarm.add("DESCRIPTION", wanted.summary)
    alarm.add("TRIGGER", timedelta(0))
    event.add_component(alarm)
    cal.add_component(_timezone(wanted.start.tzinfo, wanted.start.date()))  # type: ignore[arg-type]
    cal.add_component(event)
    return str(cal.to_ical(sorted=False).decode("utf-8"))


def _event(text: str) -> tuple[Calendar, Event]:
    from icalendar import Calendar, Event

    try:
        cal = Calendar.from_ical(text)
    except ValueError as err:
        raise BrokenEvent(f"not valid iCalendar ({err})") from err
    events = [c for c in cal.walk("VEVENT") if isinstance(c, Event)]
    if not events:
        raise BrokenEvent("no VEVENT in it")
    return cal, events[0]


@dataclass(frozen=True, slots=True)
class Found:
    """A syncd event as served: its UID, kind and the day it starts on (in the user's zone)."""

    uid: str
    kind: str
    day: date | None


def identify(text: str, zone: ZoneInfo) -> Found | None:
    """The syncd event in `text`; None for anyone else's (no X-SYNCD-KIND)."""
    _, event = _event(text)
    kind = event.get(KIND_PROP)
    if kind is None:
        return None
    start = getattr(event.get("DTSTART"), "dt", None)
    day = start.astimezone(zone).date() if isinstance(start, datetime) and start.tzinfo else start
    return Found(str(event.get("UID", "")).strip(), str(kind).strip(), day if isinstance(day, date) else None)


def stale(found: Sequence[Found], wanted: Sequence[Wanted], today: date) -> list[str]:
    """syncd's events from today on that it no longer wants: an empty digest, an event turned off in the
    config, a reflection left on the old day after `events.weekly_day` changed. Past ones stay as history."""
    keep = {w.uid for w in wanted}
    return sorted(f.uid for f in found if f.uid not in keep and f.day is not None and f.day >= today)


def matches(wanted: Wanted, text: str) -> bool:
    """Does the served event already say what `wanted` says? Its time is not compared: a user who moved the
    event keeps it where they put it."""
    _, event = _event(text)
    return (
        str(event.get("SUMMARY", "")) == wanted.summary
        and str(event.get("DESCRIPTION", "")).replace("\r\n", "\n") == wanted.description
    )


def update(text: str, wanted: Wanted, now: datetime) -> str:
    """The served event with a new summary and description; everything else (the time, if the user moved it,
    alarms a user added, X- properties) kept."""
    cal, event = _event(text)
    for key in ("SUMMARY", "DESCRIPTION", "DTSTAMP", "LAST-MODIFIED"):
        if key in event:
            del event[key]
    event.add("SUMMARY", wanted.summary)
    event.add("DESCRIPTION", wanted.description)
    event.add("DTSTAMP", _stamp(now))
    event.add("LAST-MODIFIED", _stamp(now))
    sequence = int(str(event.get("SEQUENCE", "0")).strip() or 0)
    if "SEQUENCE" in event:
        del event["SEQUENCE"]
    event.add("SEQUENCE", sequence + 1)
    return str(cal.to_ical(sorted=False).decode("utf-8"))
