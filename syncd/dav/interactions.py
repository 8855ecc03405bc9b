"""Meetings in the calendars named by `interactions.calendars` count as contact.

An event whose ATTENDEE or ORGANIZER e-mail (`mailto:`) equals one of a contact's EMAIL values, case-
insensitively, counts as contact at the event's end once that has passed; with `interactions.match_names`,
so does an event whose SUMMARY names the contact's full name (whole words, any case). Recurring events count
by occurrence (RRULE, RDATE, EXDATE and moved occurrences, expanded by `recurring-ical-events`). Cancelled
events and attendees who declined do not count. The cycle feeds the result into `reconcile`, which records it
as X-SYNCD-LAST-CONTACT (never backwards) and closes the contact's open reminder.

`read_meetings` is the adapter (one calendar-query REPORT with a time range per calendar); the rest is pure.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from syncd.config import InteractionsConfig
from syncd.core.account import Account
from syncd.core.contacts import Contact
from syncd.core.durations import Duration
from syncd.dav.client import DavClient, HTTPStatusError, NotFound
from syncd.dav.discovery import find_calendar
from syncd.dav.tasks import read_tasks

log = logging.getLogger("syncd.dav.interactions")


@dataclass(frozen=True, slots=True)
class Meeting:
    """One occurrence of an event."""

    end: datetime  # aware UTC
    emails: frozenset[str]  # lower-cased addresses of the organizer and the attendees who did not decline
    summary: str


def _query(start: datetime, end: datetime) -> bytes:
    def stamp(value: datetime) -> str:
        return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<cal:calendar-query xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">'
        "<d:prop><d:getetag/><cal:calendar-data/></d:prop>"
        '<cal:filter><cal:comp-filter name="VCALENDAR"><cal:comp-filter name="VEVENT">'
        f'<cal:time-range start="{stamp(start)}" end="{stamp(end)}"/>'
        "</cal:comp-filter></cal:comp-filter></cal:filter></cal:calendar-query>"
    ).encode()


def read_meetings(
    client: DavClient, account: Account, names: Sequence[str], start: datetime, end: datetime, zone: ZoneInfo
) -> list[Meeting]:
    """Every event occurrence overlapping [start, end) in the named calendars; a missing name is a warning."""
    meetings: list[Meeting] = []
    for name in names:
        calendar = find_calendar(account, name)
        if calendar is None:
            log.warning("interactions.calendars: no calendar named %r; its meetings are not counted", name)
            continue
        try:
            found = read_tasks(client, calendar, _query(start, end))  # the one calendar-query reader
        except (HTTPStatusError, NotFound) as err:
            if isinstance(err, HTTPStatusError) and not 400 <= err.status < 500:
                raise
            log.warning("interactions.calendars: cannot read the events of %r: %s", name, err)
            continue
        for raw in found:
            try:
                meetings.extend(occurrences(raw.text, start, end, zone))
            except ValueError as err:
                log.warning("skipping the event %s: %s (it is left as it is)", raw.href, err)
    return meetings


def _instant(value: object, zone: ZoneInfo) -> datetime | None:
    if isinstance(value, datetime):
        return (value.replace(tzinfo=zone) if value.tzinfo is None else value).astimezone(UTC)
    if isinstance(value, date):  # all-day: the end of that day in the user's zone
        return datetime.combine(value, time(0), zone).astimezone(UTC)
    return None


def _end(event: Any, zone: ZoneInfo) -> datetime | None:
    start_prop = event.get("DTSTART")
    if start_prop is None:
        return None
    start = start_prop.dt
    end_prop = event.get("DTEND")
    if end_prop is not None:
        end = end_prop.dt
    elif event.get("DURATION") is not None:
        end = start + event["DURATION"].dt
    else:  # RFC 5545: no end = an all-day event lasts the day, a timed one is an instant
        end = start + timedelta(days=1) if not isinstance(start, datetime) else start
    instant = _instant(end, zone)
    if instant is not None and not isinstance(end, datetime):
        instant -= timedelta(seconds=1)  # an all-day event ends on its last day, not the next one
    return instant


def _address(value: object) -> str:
    text = str(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    return text.strip().lower()


def _people(event: Any) -> frozenset[str]:
    found: set[str] = set()
    organizer = event.get("ORGANIZER")
    if organizer is not None:
        found.add(_address(organizer))
    attendees = event.get("ATTENDEE")
    if attendees is None:
        attendees = []
    elif not isinstance(attendees, list):
        attendees = [attendees]
    for attendee in attendees:
        params = getattr(attendee, "params", {})
        if str(params.get("PARTSTAT", "")).upper() == "DECLINED":
            continue
        found.add(_address(attendee))
    found.discard("")
    return frozenset(found)


def occurrences(text: str, start: datetime, end: datetime, zone: ZoneInfo) -> list[Meeting]:
    """The occurrences of the events in one calendar object that overlap [start, end)."""
    import recurring_ical_events  # only with interactions.calendars set: most cycles never need it
    from icalendar import Calendar

    try:
        cal = Calendar.from_ical(text)
    except ValueError as err:
        raise ValueError(f"not valid iCalendar ({err})") from err
    out: list[Meeting] = []
    for event in recurring_ical_events.of(cal).between(start, end):
        if event.name != "VEVENT" or str(event.get("STATUS", "")).upper() == "CANCELLED":
            continue
        finish = _end(event, zone)
        if finish is None:
            continue
        out.append(Meeting(finish, _people(event), str(event.get("SUMMARY", ""))))
    return out


def _names_pattern(contact: Contact) -> re.Pattern[str] | None:
    name = contact.name.strip()
    if len(name) < 3 or " " not in name:  # a single first name would match too much
        return None
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(p) for p in name.split()) + r"(?!\w)", re.IGNORECASE)


def last_meetings(
    meetings: Iterable[Meeting], contacts: Mapping[str, Contact], now: datetime, *, match_names: bool = False
) -> dict[str, datetime]:
    """Contact UID -> the end of the latest meeting with them that has passed by `now`."""
    by_email: dict[str, list[str]] = {}
    for uid, contact in contacts.items():
        for email in contact.emails:
            by_email.setdefault(email.strip().lower(), []).append(uid)
    patterns = {uid: p for uid, c in contacts.items() if match_names and (p := _names_pattern(c)) is not None}
    out: dict[str, datetime] = {}
    for meeting in meetings:
        if meeting.end > now:
            continue
        met = {uid for email in meeting.emails for uid in by_email.get(email, ())}
        met.update(uid for uid, pattern in patterns.items() if pattern.search(meeting.summary))
        for uid in met:
            if uid not in out or meeting.end > out[uid]:
                out[uid] = meeting.end
    return out


def touches(
    client: DavClient,
    account: Account,
    config: InteractionsConfig,
    contacts: Mapping[str, Contact],
    intervals: Iterable[Duration],
    now: datetime,
    zone: ZoneInfo,
) -> dict[str, datetime]:
    """Contact UID -> the end of the latest past meeting, looking back one longest interval (an older meeting
    would leave the contact due anyway)."""
    if not config.calendars:
        return {}
    days = max((i.approx_days for i in intervals), default=90.0)
    meetings = read_meetings(client, account, config.calendars, now - timedelta(days=days + 1), now, zone)
    found = last_meetings(meetings, contacts, now, match_names=config.match_names)
    for uid, when in sorted(found.items()):
        current = contacts[uid].last_contact
        if current is None or when > current:
            log.info("met %s in a calendar event ending %s", contacts[uid].name, when.isoformat())
    return found
