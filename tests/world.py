"""A small address book + task list on a real server, and the invariants the fault, crash and race suites
check: no duplicate reminder, no lost completion, every non-X-SYNCD byte of every card as it was. Also what
is on a server, read independently of syncd (`find_list`, `tasks_by_contact`, `card_values`, `cards_text`), a
conditional edit (`edit`) and an Engine built from a config file (`engine`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icalendar import Calendar

from syncd.app.cli import main
from syncd.app.config_file import load_config
from syncd.app.wiring import open_session
from syncd.core.reminders import is_done
from syncd.core.vcard import logical_lines
from syncd.core.xsyncd import XSYNCD_PREFIX, xsyncd_values
from syncd.engine.session import Session
from tests.factories import contact_card
from tests.servers import ICAL, DavServer

NOW = "2026-11-22T09:00"


# Reading the server, independently of syncd -------------------------------------------------------------


def tasks_by_contact(dav: DavServer, list_url: str) -> dict[str, list[tuple[str, str, Calendar]]]:
    out: dict[str, list[tuple[str, str, Calendar]]] = {}
    for href in dav.list_hrefs(list_url):
        r = dav.get(href)
        cal = Calendar.from_ical(r.text)
        todo = next(iter(cal.walk("VTODO")))
        out.setdefault(str(todo["X-SYNCD-CONTACT"]), []).append((href, r.text, cal))
    return out


def find_list(dav: DavServer, name: str) -> str:
    from syncd.dav.client import DavClient
    from syncd.dav.discovery import list_collections

    with DavClient(username=dav.username, password=dav.password) as client:
        for collection in list_collections(client, dav.calendar_home):
            if collection.name == name:
                return collection.url
    raise AssertionError(f"no task list {name!r}")


def card_values(dav: DavServer, ab_url: str, uid: str) -> dict[str, str]:
    for href in dav.list_hrefs(ab_url):
        text = dav.get(href).text
        if f"UID:{uid}" in text:
            return xsyncd_values(text)
    raise AssertionError(uid)


def cards_text(dav: DavServer, ab_url: str) -> dict[str, str]:
    return {href: dav.get(href).text for href in dav.list_hrefs(ab_url)}


def edit(dav: DavServer, href: str, text: str) -> None:
    etag = dav.get(href).headers["ETag"]
    dav.put(href, text, **{"If-Match": etag})


def engine(cfg: Path) -> Session:
    return open_session(load_config(str(cfg)).settings)


# The small address book ---------------------------------------------------------------------------------


@dataclass
class Book:
    dav: DavServer
    ab_name: str
    ab_url: str
    cfg: Path
    list_name: str
    hrefs: dict[str, str] = field(default_factory=dict)  # contact uid -> card href

    def sync(self, now: str = NOW, *args: str) -> int:
        return main(["--config", str(self.cfg), "--now", now, "sync", *args])

    def list_url(self) -> str:
        return find_list(self.dav, self.list_name)

    def card_text(self, uid: str) -> str:
        return self.dav.get(self.hrefs[uid]).text

    def all_values(self) -> dict[str, dict[str, str]]:
        """Every card's X-SYNCD values, in one REPORT (addressbook-query for all cards)."""
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">'
            "<d:prop><d:getetag/><card:address-data/></d:prop></card:addressbook-query>"
        )
        out: dict[str, dict[str, str]] = {}
        by_href = {href: uid for uid, href in self.hrefs.items()}
        for href, _etag, text in _report(self.dav, self.ab_url, body, "card:address-data"):
            if href in by_href:
                out[by_href[href]] = xsyncd_values(text)
        return out

    def values(self, uid: str) -> dict[str, str]:
        return xsyncd_values(self.card_text(uid))

    def tasks(self) -> list[TaskView]:
        try:
            url = self.list_url()
        except AssertionError:
            return []
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<cal:calendar-query xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">'
            "<d:prop><d:getetag/><cal:calendar-data/></d:prop>"
            '<cal:filter><cal:comp-filter name="VCALENDAR"/></cal:filter></cal:calendar-query>'
        )
        out = []
        for href, etag, text in _report(self.dav, url, body, "cal:calendar-data"):
            todo = next(iter(Calendar.from_ical(text).walk("VTODO")))
            out.append(TaskView(href, etag, text, todo))
        return out


def _report(dav: DavServer, url: str, body: str, data: str) -> list[tuple[str, str, str]]:
    """(href, etag, text) of every item of a collection, by one REPORT, read independently of syncd's reader."""
    from syncd.core.account import same_resource
    from syncd.dav.multistatus import parse_multistatus

    r = dav.http("REPORT", url, body, Depth="1", **{"Content-Type": "application/xml"})
    assert r.status_code == 207, (r.status_code, r.text[:300])
    out = []
    for res in parse_multistatus(r.content, url).resources:
        text = res.text(data)
        if res.status == 200 and text is not None and not same_resource(res.href, url):
            out.append((res.href, (res.text("d:getetag") or "").strip(), text))
    return out


@dataclass
class TaskView:
    href: str
    etag: str
    text: str
    todo: Any

    @property
    def uid(self) -> str:
        return str(self.todo["UID"])

    @property
    def contact(self) -> str:
        return str(self.todo.get("X-SYNCD-CONTACT", ""))

    @property
    def done(self) -> bool:
        return is_done(self.todo)

    @property
    def due(self) -> str:
        return self.todo["DUE"].dt.isoformat() if self.todo.get("DUE") is not None else ""


def make_book(
    dav: DavServer,
    tmp_path: Path,
    people: list[tuple[str, str, str | None, str | None]],
    *,
    url: str | None = None,
    **sections: Any,
) -> Book:
    ab_name, ab_url = dav.make_addressbook()
    hrefs = {}
    for person in people:
        href = ab_url + f"{person[0]}.vcf"
        dav.put(href, contact_card(*person))
        hrefs[person[0]] = href
    list_name = f"Keep in touch {tmp_path.name}"
    reminders = {"task_list": list_name, "daily_limit": 3, **sections.pop("reminders", {})}
    server = {"url": url or dav.url, **sections.pop("server", {})}
    cfg = dav.config(tmp_path, server=server, contacts={"addressbooks": [ab_name]}, reminders=reminders, **sections)
    return Book(dav, ab_name, ab_url, cfg, list_name, hrefs)


def people(n: int, prefix: str = "p") -> list[tuple[str, str, str | None, str | None]]:
    """`n` tracked contacts in circles 1-3, some never contacted, some long ago."""
    out: list[tuple[str, str, str | None, str | None]] = []
    for i in range(n):
        last = None if i % 3 == 0 else f"2026-0{1 + i % 8}-1{i % 10}T12:00:00Z"
        out.append((f"{prefix}-{i:03d}", f"Person{i:03d} Test{prefix.capitalize()}", str(1 + i % 3), last))
    return out


def non_xsyncd(text: str) -> list[str]:
    """A card's logical lines other than X-SYNCD ones: what syncd must never change."""
    return [c for c, _s, _e in logical_lines(text) if not c.upper().startswith(XSYNCD_PREFIX)]


def complete(dav: DavServer, task: TaskView, completed: str) -> bool:
    """Tick a reminder off the way an iPhone does (conditional; False when it lost a race)."""
    text = task.text.replace("STATUS:NEEDS-ACTION", "STATUS:COMPLETED")
    extra = f"COMPLETED:{completed}\r\nPERCENT-COMPLETE:100\r\n"
    text = re.sub(r"END:VTODO", extra + "END:VTODO", text, count=1)
    r = dav.http("PUT", task.href, text, **{"Content-Type": ICAL, "If-Match": task.etag})
    return r.status_code in (200, 201, 204)


def move_due(dav: DavServer, task: TaskView, new_due: str) -> bool:
    text = re.sub(r"DUE;VALUE=DATE:\d{8}", f"DUE;VALUE=DATE:{new_due}", task.text)
    r = dav.http("PUT", task.href, text, **{"Content-Type": ICAL, "If-Match": task.etag})
    return r.status_code in (200, 201, 204)


def delete(dav: DavServer, task: TaskView) -> bool:
    return dav.http("DELETE", task.href, **{"If-Match": task.etag}).status_code in (200, 204)


def duplicates(tasks: list[TaskView]) -> list[str]:
    """Contacts with more than one open reminder, and reminder UIDs stored twice."""
    found: list[str] = []
    open_by_contact: dict[str, int] = {}
    uids: dict[str, int] = {}
    for task in tasks:
        uids[task.uid] = uids.get(task.uid, 0) + 1
        if not task.done:
            open_by_contact[task.contact] = open_by_contact.get(task.contact, 0) + 1
    found += [f"{c}: {n} open reminders" for c, n in open_by_contact.items() if n > 1]
    found += [f"{u}: stored {n} times" for u, n in uids.items() if n > 1]
    return found


def completions_recorded(book: Book) -> list[str]:
    """Completed reminders whose completion is not (yet) in the contact's card."""
    from syncd.core.contacts import parse_instant

    values = book.all_values()
    missing = []
    for task in book.tasks():
        if not task.done or task.todo.get("COMPLETED") is None:
            continue
        completed = task.todo["COMPLETED"].dt
        last = parse_instant(values.get(task.contact, {}).get("X-SYNCD-LAST-CONTACT", ""))
        if last is None or last < completed:
            missing.append(f"{task.contact}: completed {completed}, card has {last}")
    return missing
