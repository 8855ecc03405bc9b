"""The events calendar on the CalDAV server (`reminders.calendar`): find it by display name or create it
VEVENT-only, read syncd's events near today, and write them conditionally (If-None-Match: * to create,
If-Match to change or delete). An event that already says what syncd wants is not written."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urljoin
from zoneinfo import ZoneInfo

from syncd.core.account import Account, Collection, same_resource
from syncd.core.events import BrokenEvent, Found, Wanted, build, identify, matches, update
from syncd.dav.client import DavClient, NotFound
from syncd.dav.discovery import find_calendar
from syncd.dav.tasks import create_calendar, read_tasks
from syncd.errors import ConfigError, PreconditionFailed

log = logging.getLogger("syncd.events")

ICAL_TYPE = "text/calendar"


@dataclass(slots=True)
class Served:
    href: str
    etag: str
    found: Found
    text: str


@dataclass(slots=True)
class Outcome:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def find_or_create(client: DavClient, account: Account, name: str, task_list: Collection | None) -> Collection:
    found = find_calendar(account, name)
    if found is not None:
        if not found.holds("VEVENT"):
            raise ConfigError(
                f"reminders.calendar: the calendar {name!r} cannot hold events (it accepts only "
                f"{', '.join(sorted(found.components))}); name a calendar for events or a new name"
            )
        if task_list is not None and same_resource(found.url, task_list.url):
            raise ConfigError("reminders.calendar: must be a calendar of its own, not the task list")
        return found
    return create_calendar(client, account, name, "VEVENT", "syncd-events", "the events calendar")


def _query(start: datetime, end: datetime) -> bytes:
    fmt = "%Y%m%dT%H%M%SZ"
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<cal:calendar-query xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">'
        "<d:prop><d:getetag/><cal:calendar-data/></d:prop>"
        '<cal:filter><cal:comp-filter name="VCALENDAR"><cal:comp-filter name="VEVENT">'
        f'<cal:time-range start="{start.astimezone(UTC):{fmt}}" end="{end.astimezone(UTC):{fmt}}"/>'
        "</cal:comp-filter></cal:comp-filter></cal:filter></cal:calendar-query>"
    ).encode()


def read_events(
    client: DavClient, calendar: Collection, around: datetime, zone: ZoneInfo, days: int = 40
) -> dict[str, Served]:
    """syncd's events (by UID) that overlap [around - 1 day, around + `days`]: today's digest, this week's
    reflection and this month's review are always among them."""
    out: dict[str, Served] = {}
    for raw in read_tasks(client, calendar, _query(around - timedelta(days=1), around + timedelta(days=days))):
        try:
            found = identify(raw.text, zone)
        except BrokenEvent as err:
            log.debug("ignoring the event %s: %s", raw.href, err)
            continue
        if found is not None:
            out[found.uid] = Served(raw.href, raw.etag, found, raw.text)
    return out


def write_events(
    client: DavClient,
    calendar: Collection,
    served: dict[str, Served],
    wanted: list[Wanted],
    remove: list[str],
    now: datetime,
) -> Outcome:
    """Make the calendar say `wanted` and drop the events with UIDs in `remove`; write only what differs."""
    outcome = Outcome()
    for item in wanted:
        existing = served.get(item.uid)
        try:
            if existing is None:
                href = urljoin(calendar.url, quote(item.uid, safe="") + ".ics")
                client.put(href, build(item, now), ICAL_TYPE, create=True)
                outcome.created.append(item.uid)
            elif matches(item, existing.text):
                outcome.unchanged.append(item.uid)
            elif not existing.etag:
                log.warning("%s: the server sent no ETag, so syncd cannot change it safely", existing.href)
            else:
                client.put(existing.href, update(existing.text, item, now), ICAL_TYPE, etag=existing.etag)
                outcome.updated.append(item.uid)
        except PreconditionFailed:
            log.info("event %s changed on the server meanwhile; will look again next cycle", item.uid)
    for uid in remove:
        existing = served.get(uid)
        if existing is None or not existing.etag:
            continue
        try:
            client.delete(existing.href, existing.etag)
            outcome.deleted.append(uid)
        except NotFound:
            pass
        except PreconditionFailed:
            log.info("event %s changed on the server meanwhile; will look again next cycle", uid)
    return outcome
