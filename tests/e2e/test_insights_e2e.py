"""`audit`, `review week|month`, `report --html` and the calendar events through the command line, against real
Radicale and Xandikos with a frozen clock. A counting proxy proves that an unchanged sync writes no event."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from icalendar import Calendar, Event

from syncd.app.cli import main
from tests.factories import contact_card
from tests.proxy import CountingProxy, Respond, when
from tests.report_page import check_page
from tests.servers import ICAL, DavServer
from tests.world import find_list

# Sunday 22 November 2026 in Berlin. (uid, name, circle, last contact, org, categories)
PEOPLE = [
    ("ins-ada", "Ada Lovelace", "1", "2026-10-01T12:00:00Z", "Analytical Engines", "Investors"),  # 52 days: neglected
    ("ins-bob", "Bob Babbage", "2", None, "Analytical Engines", "Investors"),  # never contacted
    ("ins-cat", "Cat Curie", "3", "2026-06-01T12:00:00Z", "Curie Institute", "Physicists"),  # 1.9x
    ("ins-dan", "Dan Dirac", "1", "2026-11-20T12:00:00Z", "Radium Labs", "Mentors"),  # not due, reached this week
    ("ins-eve", "Eve Euler", None, "2025-01-01T12:00:00Z", "Basel Uni", ""),  # untracked
    ("ins-fay", "Fay Faraday", "2", "2026-11-18T12:00:00Z", "", "Investors"),  # not due, reached this week
]


def syncd(config: Path, now: str, *args: str) -> int:
    return main(["--config", str(config), "--now", now, *args])


def events(dav: DavServer, url: str) -> dict[str, Event]:
    out = {}
    for href in dav.list_hrefs(url):
        [event] = Calendar.from_ical(dav.get(href).content.decode("utf-8")).walk("VEVENT")
        out[str(event["UID"])] = event
    return out


def move_event(dav: DavServer, calendar_url: str, uid: str, old: str, new: str) -> None:
    href = next(h for h in dav.list_hrefs(calendar_url) if uid in h)
    r = dav.get(href)
    text = r.content.decode("utf-8")
    moved = re.sub(rf"(DTSTART;TZID=[^:]+:\d{{8}}){old}", rf"\g<1>{new}", text)
    moved = re.sub(r"(DTEND;TZID=[^:]+:\d{8})T181500", r"\g<1>T191500", moved)
    assert moved != text
    dav.put(href, moved, ICAL, **{"If-Match": r.headers["ETag"]})


def open_tasks(dav: DavServer, url: str) -> dict[str, str]:
    """contact UID -> href of its open reminder."""
    out = {}
    for href in dav.list_hrefs(url):
        [todo] = Calendar.from_ical(dav.get(href).text).walk("VTODO")
        if str(todo["STATUS"]) == "NEEDS-ACTION":
            out[str(todo["X-SYNCD-CONTACT"])] = href
    return out


def complete(dav: DavServer, href: str, when: str) -> None:
    r = dav.get(href)
    text = r.text.replace("STATUS:NEEDS-ACTION", "STATUS:COMPLETED")
    text = text.replace("END:VTODO", f"COMPLETED:{when}\r\nPERCENT-COMPLETE:100\r\nEND:VTODO", 1)
    dav.put(href, text, ICAL, **{"If-Match": r.headers["ETag"]})


def run(capsys: pytest.CaptureFixture[str], config: Path, now: str, *args: str) -> str:
    capsys.readouterr()
    assert syncd(config, now, *args) == 0
    return capsys.readouterr().out


def test_events_views_and_report(dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ab_name, ab_url = dav.make_addressbook()
    for person in PEOPLE:
        dav.put(ab_url + f"{person[0]}.vcf", contact_card(*person))
    agenda = f"Agenda {tmp_path.name}"
    task_list = f"Keep in touch {tmp_path.name}"
    proxy = CountingProxy(dav.url).start()
    try:
        cfg = dav.config(
            tmp_path,
            server={"url": proxy.url},
            contacts={"addressbooks": [ab_name]},
            reminders={"task_list": task_list, "calendar": agenda, "daily_limit": 3},
            goals={"touches_per_year": 500},
        )

        # 1. The first sync creates the VEVENT-only calendar with today's digest, the week's and month's events.
        assert syncd(cfg, "2026-11-22T06:00", "sync") == 0
        calendar_url = find_list(dav, agenda)
        tasks_url = find_list(dav, task_list)
        assert calendar_url != tasks_url
        found = events(dav, calendar_url)
        assert sorted(found) == ["syncd-digest-20261122", "syncd-month-202612", "syncd-week-20261122"]
        digest = found["syncd-digest-20261122"]
        assert str(digest["SUMMARY"]) == "Keep in touch: 3 people today"
        text = str(digest["DESCRIPTION"])
        for name, circle in (("Ada Lovelace", "1"), ("Bob Babbage", "2"), ("Cat Curie", "3")):
            assert f"• {name} (circle {circle})" in text
        assert "email ada@example.org" in text and "phone +49 151 " in text
        assert digest["DTSTART"].dt.isoformat() == "2026-11-22T07:30:00+01:00"
        week = found["syncd-week-20261122"]
        assert digest["DTSTART"].dt < week["DTSTART"].dt
        assert week["DTSTART"].dt.isoformat() == "2026-11-22T18:00:00+01:00"
        assert "Reached: 2 people: Dan Dirac, Fay Faraday" in str(week["DESCRIPTION"])
        month = found["syncd-month-202612"]
        assert month["DTSTART"].dt.isoformat() == "2026-12-01T18:00:00+01:00"
        assert "Within cadence: Circle 1 50% (1/2)" in str(month["DESCRIPTION"])

        # 2. Nothing changed: the next sync writes nothing, not even an event.
        proxy.reset()
        assert syncd(cfg, "2026-11-22T06:30", "sync") == 0
        assert proxy.writes() == []

        # 3. Ada is ticked off, a new contact appears: the digest shrinks, the reflection names both.
        reminders = open_tasks(dav, tasks_url)
        assert sorted(reminders) == ["ins-ada", "ins-bob", "ins-cat"]
        complete(dav, reminders["ins-ada"], "20261122T081500Z")
        dav.put(ab_url + "ins-gil.vcf", contact_card("ins-gil", "Gil Gauss", None, None, "", ""))
        move_event(dav, calendar_url, "syncd-week-20261122", "T180000", "T190000")  # the user moves it
        proxy.reset()
        assert syncd(cfg, "2026-11-22T09:55", "sync", "--dry-run") == 0
        assert proxy.writes() == [], "a dry run writes no event either"
        proxy.reset()
        assert syncd(cfg, "2026-11-22T10:00", "sync") == 0
        event_writes = [r for r in proxy.writes() if "/syncd-events-" in r.path]
        assert sorted(r.path.rsplit("/", 1)[1] for r in event_writes) == [
            "syncd-digest-20261122.ics",
            "syncd-month-202612.ics",
            "syncd-week-20261122.ics",
        ]
        assert {r.method for r in event_writes} == {"PUT"}
        assert all("If-Match" in r.headers for r in event_writes), "updates are conditional"
        found = events(dav, calendar_url)
        assert len(found) == 3, "updated in place, never duplicated"
        digest = found["syncd-digest-20261122"]
        assert str(digest["SUMMARY"]) == "Keep in touch: 2 people today"
        assert "Ada" not in str(digest["DESCRIPTION"]) and "Bob Babbage" in str(digest["DESCRIPTION"])
        week_text = str(found["syncd-week-20261122"]["DESCRIPTION"])
        assert "Reached: 3 people: Ada Lovelace, Dan Dirac, Fay Faraday" in week_text
        assert "New contacts: 1: Gil Gauss" in week_text
        assert found["syncd-week-20261122"]["DTSTART"].dt.isoformat() == "2026-11-22T19:00:00+01:00", "kept"

        # The views, read-only, on the same data.
        out = run(capsys, cfg, "2026-11-22T10:05", "review", "week")
        assert "Weekly reflection, 2026-11-16 – 2026-11-22" in out
        assert re.search(r"2026-11-22\s+Ada Lovelace\s+1\s+reminder", out)
        assert re.search(r"2026-11-20\s+Dan Dirac\s+1\s+done", out)
        assert "New in your address book: 1\n  2026-11-22  Gil Gauss" in out
        later = json.loads(run(capsys, cfg, "2026-11-24T09:00", "review", "week", "--json"))
        assert [(s["name"], s["days_overdue"]) for s in later["slipped"]] == [("Bob Babbage", 2), ("Cat Curie", 2)]

        audit = run(capsys, cfg, "2026-11-22T10:05", "audit")
        assert "Of your 7 contacts, 4 were reached in the last 12 months; 5 are in your circles" in audit
        assert re.search(r"Ada Lovelace\s+1\s+2026-11-22 \(today\)\s+2", audit), audit  # and 2026-10-01, kept
        assert re.search(r"1\s+Circle 1\s+2\s+10–15\s+too few", audit)
        assert "Neglected: 0 contacts" in audit  # Ada was just reached
        assert "Your circles need 0.2 touches a day; the daily limit is 3. That fits, with 2.8 a day to spare" in audit
        data = json.loads(run(capsys, cfg, "2026-11-22T10:05", "audit", "--json"))
        assert [k["uid"] for k in data["key_contacts"]] == ["ins-ada", "ins-dan", "ins-fay", "ins-bob", "ins-cat"]
        assert data["untracked"] == 2 and data["never_contacted"] == 1
        orgs = {g["name"]: g for g in data["groups"]["organisations"]}
        assert orgs["Analytical Engines"]["tracked"] == 2 and orgs["Basel Uni"]["tracked"] == 0

        month_out = run(capsys, cfg, "2026-11-22T10:05", "review", "month")
        assert re.search(r"1\s+Circle 1\s+2\s+2\s+100%", month_out)
        assert (
            "Going quiet (no touch in 60+ days): Physicists (0 reached, last 174d ago), "
            "Curie Institute (0 reached, last 174d ago)\n"
        ) in month_out
        month_json = json.loads(run(capsys, cfg, "2026-11-22T10:05", "review", "month", "--json"))
        assert month_json["touches_month"] == 3 and month_json["year_goal"] == 500
        assert {g["name"] for g in month_json["active"]} >= {"Investors", "Analytical Engines", "Mentors"}

        # 4. Bob and Cat are done too: nobody is left today, so the digest goes; the reviews stay.
        reminders = open_tasks(dav, tasks_url)
        complete(dav, reminders["ins-bob"], "20261122T120000Z")
        complete(dav, reminders["ins-cat"], "20261122T130000Z")
        # The phone changes the digest just before syncd deletes it (412): left for the next sync.
        proxy.fault = when(Respond(412), method="DELETE", path="syncd-digest", times=1)
        assert syncd(cfg, "2026-11-22T13:55", "sync") == 0
        assert "syncd-digest-20261122" in events(dav, calendar_url)
        proxy.fault = None
        proxy.reset()
        assert syncd(cfg, "2026-11-22T14:00", "sync") == 0
        deletes = [r for r in proxy.writes() if r.method == "DELETE"]
        assert len(deletes) == 1 and "syncd-digest-20261122" in deletes[0].path
        assert "If-Match" in deletes[0].headers
        found = events(dav, calendar_url)
        assert sorted(found) == ["syncd-month-202612", "syncd-week-20261122"]
        assert "Daily list done 1/1 days; streak 1 day\n" in str(found["syncd-week-20261122"]["DESCRIPTION"])
        proxy.reset()
        assert syncd(cfg, "2026-11-22T14:30", "sync") == 0
        assert proxy.writes() == []

        # 5. The report: one self-contained page with the audit, the reviews and three charts.
        page_path = tmp_path / "report.html"
        assert "wrote" in run(capsys, cfg, "2026-11-22T15:00", "report", "--html", str(page_path))
        page = page_path.read_text(encoding="utf-8")
        check_page(page)
        assert "Of your 7 contacts, 5 were reached in the last 12 months" in page
        assert "Ada Lovelace" in page and "Gil Gauss" in page
    finally:
        proxy.close()


def test_a_server_refusing_the_events_calendar_costs_a_warning_not_the_sync(dav: DavServer, tmp_path: Path) -> None:
    ab_name, ab_url = dav.make_addressbook()
    for person in PEOPLE[:3]:
        dav.put(ab_url + f"{person[0]}.vcf", contact_card(*person))
    task_list = f"Keep in touch {tmp_path.name}"
    with CountingProxy(dav.url, fault=when(Respond(403), method="MKCALENDAR", path="syncd-events-")) as proxy:
        cfg = dav.config(
            tmp_path,
            server={"url": proxy.url},
            contacts={"addressbooks": [ab_name]},
            reminders={"task_list": task_list, "calendar": f"Agenda {tmp_path.name}", "daily_limit": 3},
        )
        assert syncd(cfg, "2026-11-22T06:00", "sync") == 0
        assert sorted(open_tasks(dav, find_list(dav, task_list))) == ["ins-ada", "ins-bob", "ins-cat"]
        assert [r.status for r in proxy.snapshot() if r.method == "MKCALENDAR" and "syncd-events-" in r.path] == [403]


def test_report_without_matplotlib_lists_today_and_next_up(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An install without the `report` extra: the page is written, with today's list and who comes next read
    from the server, and a note (and a line on stderr) naming the extra where the charts would be."""
    ab_name, ab_url = dav.make_addressbook()
    for person in PEOPLE:
        dav.put(ab_url + f"{person[0]}.vcf", contact_card(*person))
    cfg = dav.config(
        tmp_path,
        contacts={"addressbooks": [ab_name]},
        reminders={"task_list": f"Keep in touch {tmp_path.name}", "daily_limit": 2},
    )
    assert syncd(cfg, "2026-11-22T06:00", "sync") == 0  # Ada (2.7x her interval) and Cat (0.9x) get reminders
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` fails as if not installed
    page_path = tmp_path / "report.html"
    capsys.readouterr()
    assert syncd(cfg, "2026-11-22T09:00", "report", "--html", str(page_path)) == 0
    out, err = capsys.readouterr()
    assert out == f"wrote {page_path}\n"
    assert err == "the page has no charts: pip install 'syncd[report]' adds them\n"
    page = page_path.read_text(encoding="utf-8")
    check_page(page, charts=False)
    today = page[page.index('id="today"') : page.index("<h3>Next up</h3>")]
    upcoming = page[page.index("<h3>Next up</h3>") : page.index('id="charts"')]
    assert today.index("Ada Lovelace") < today.index("Cat Curie")
    assert "Bob Babbage" not in today and "Dan Dirac" not in today
    # Bob (never contacted) waits for room under the daily limit; then Dan (14 days after 20 Nov), Fay (30 after 18).
    assert upcoming.index("Bob Babbage") < upcoming.index("Dan Dirac") < upcoming.index("Fay Faraday")
    assert "due today: waiting for room in the daily list" in upcoming
    assert "Fri 04 Dec (in 12 days)" in upcoming and "Fri 18 Dec (in 26 days)" in upcoming
    assert "Eve Euler" not in page[page.index('id="today"') : page.index('id="charts"')]  # not tracked
