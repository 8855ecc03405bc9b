"""The task list on the CalDAV server: find or create it (VTODO-only, MKCALENDAR), read every task in one
REPORT, create reminders with If-None-Match: *, change them with If-Match."""

from __future__ import annotations

import contextlib
import logging
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urljoin
from xml.sax.saxutils import escape

from syncd.core.account import Account, Collection, same_resource
from syncd.dav.client import DavClient, NotFound
from syncd.dav.discovery import find_calendar
from syncd.errors import ConfigError, PreconditionFailed, ServerError

log = logging.getLogger("syncd.dav.tasks")

ICAL_TYPE = "text/calendar"

_QUERY = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<cal:calendar-query xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">'
    b"<d:prop><d:getetag/><cal:calendar-data/></d:prop>"
    b'<cal:filter><cal:comp-filter name="VCALENDAR"><cal:comp-filter name="VTODO"/></cal:comp-filter></cal:filter>'
    b"</cal:calendar-query>"
)


@dataclass(slots=True)
class RawTask:
    href: str
    etag: str
    text: str


def find_task_list(account: Account, name: str) -> Collection | None:
    found = find_calendar(account, name)
    if found is not None and not found.holds("VTODO"):
        raise ConfigError(
            f"reminders.task_list: the calendar {name!r} cannot hold tasks (it accepts only "
            f"{', '.join(sorted(found.components))}); name a task list or a new name"
        )
    return found


def create_task_list(client: DavClient, account: Account, name: str) -> Collection:
    return create_calendar(client, account, name, "VTODO", "syncd", "the task list")


def create_calendar(client: DavClient, account: Account, name: str, component: str, slug: str, what: str) -> Collection:
    """MKCALENDAR a collection that holds only `component` (VTODO or VEVENT), named `name`."""
    if not account.calendar_home:
        raise ServerError(f"the server has no CalDAV calendar home, so syncd cannot create {what}")
    url = urljoin(account.calendar_home, quote(f"{slug}-{uuid.uuid4().hex[:12]}") + "/")
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<cal:mkcalendar xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>'
        f"<d:displayname>{escape(name)}</d:displayname>"
        f'<cal:supported-calendar-component-set><cal:comp name="{component}"/></cal:supported-calendar-component-set>'
        "</d:prop></d:set></cal:mkcalendar>"
    ).encode()
    client.mkcalendar(url, body)
    log.info("created %s %r at %s", what, name, url)
    collection = Collection(url=url, name=name, kind="calendar", components={component})
    account.calendars.append(collection)
    return collection


def read_tasks(client: DavClient, task_list: Collection, query: bytes = _QUERY) -> list[RawTask]:
    """Every VTODO of the list (or whatever another calendar-query `query` selects), in one REPORT."""
    found = client.report(task_list.url, query, depth=1)
    out: list[RawTask] = []
    for resource in found.resources:
        if resource.status != 200 or same_resource(resource.href, task_list.url):
            continue
        data = resource.text("cal:calendar-data")
        if data is None:
            continue
        out.append(RawTask(resource.href, (resource.text("d:getetag") or "").strip(), data))
    return out


def task_href(task_list: Collection, uid: str) -> str:
    return urljoin(task_list.url, quote(uid, safe="") + ".ics")


def create_task(client: DavClient, task_list: Collection, uid: str, text: str) -> tuple[str, bool]:
    """PUT a new reminder with If-None-Match: *. Returns (href, created); False = it was already there."""
    href = task_href(task_list, uid)
    try:
        client.put(href, text, ICAL_TYPE, create=True)
    except PreconditionFailed:
        log.info("reminder %s already exists (an earlier run created it); not duplicated", uid)
        return href, False
    return href, True


def get_task(client: DavClient, href: str) -> RawTask:
    """One task as the server holds it now (NotFound: deleted)."""
    response = client.get(href)
    return RawTask(href, response.etag, response.text())


def update_task(client: DavClient, href: str, etag: str, text: str) -> str:
    if not etag:
        raise ServerError(f"{href}: the server sent no ETag, so syncd cannot change it safely")
    return client.put(href, text, ICAL_TYPE, etag=etag)


def delete_task(client: DavClient, href: str, etag: str) -> None:
    with contextlib.suppress(NotFound):
        client.delete(href, etag)
