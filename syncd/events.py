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
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, Timezone

from syncd.reminders import PRODID

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
        summary=f"Keep in touch: {count} {'person' if count == 1 else 'people'} today",
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


def monthly(text: str, today: date, clock: time, zone: ZoneInfo) -> Wanted:
    day = today.replace(day=calmod.monthrange(today.year, today.month)[1])
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
    return Timezone.from_tzinfo(zone, first_date=day - timedelta(days=370), last_date=day + timedelta(days=740))


def _set_times(event: Event, wanted: Wanted) -> None:
    for key in ("DTSTART", "DTEND", "DURATION"):
        if key in event:
            del event[key]
    event.add("DTSTART", wanted.start)
    event.add("DTEND", wanted.end)


def build(wanted: Wanted, now: datetime) -> str:
    """A new event with a display alarm at its start."""
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
    try:
        cal = Calendar.from_ical(text)
    except ValueError as err:
        raise BrokenEvent(f"not valid iCalendar ({err})") from err
    events = [c for c in cal.walk("VEVENT") if isinstance(c, Event)]
    if not events:
        raise BrokenEvent("no VEVENT in it")
    return cal, events[0]


def kind_of(text: str) -> tuple[str, str] | None:
    """(UID, kind) of a syncd event; None for anyone else's."""
    _, event = _event(text)
    kind = event.get(KIND_PROP)
    if kind is None:
        return None
    return str(event.get("UID", "")).strip(), str(kind).strip()


def _instant(value: object) -> datetime | None:
    dt = getattr(value, "dt", None)
    if isinstance(dt, datetime):
        return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    return None


def matches(wanted: Wanted, text: str) -> bool:
    """Does the served event already say what `wanted` says (summary, description, start, end)?"""
    _, event = _event(text)
    start, end = _instant(event.get("DTSTART")), _instant(event.get("DTEND"))
    return (
        str(event.get("SUMMARY", "")) == wanted.summary
        and str(event.get("DESCRIPTION", "")).replace("\r\n", "\n") == wanted.description
        and start == wanted.start
        and end == wanted.end
    )


def update(text: str, wanted: Wanted, now: datetime) -> str:
    """The served event with syncd's fields replaced; everything else (alarms a user added, X- properties) kept."""
    cal, event = _event(text)
    for key in ("SUMMARY", "DESCRIPTION", "DTSTAMP", "LAST-MODIFIED"):
        if key in event:
            del event[key]
    event.add("SUMMARY", wanted.summary)
    event.add("DESCRIPTION", wanted.description)
    _set_times(event, wanted)
    event.add("DTSTAMP", _stamp(now))
    event.add("LAST-MODIFIED", _stamp(now))
    sequence = int(str(event.get("SEQUENCE", "0")).strip() or 0)
    if "SEQUENCE" in event:
        del event["SEQUENCE"]
    event.add("SEQUENCE", sequence + 1)
    tzids = {str(tz.get("TZID")) for tz in cal.walk("VTIMEZONE")}
    if wanted.start.tzinfo is not None and str(wanted.start.tzinfo) not in tzids:
        cal.add_component(_timezone(wanted.start.tzinfo, wanted.start.date()))  # type: ignore[arg-type]
    return str(cal.to_ical(sorted=False).decode("utf-8"))
