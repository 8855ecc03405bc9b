"""Meetings in the configured calendars count as contact: through the command line against real Radicale and
Xandikos (a one-off meeting, a recurring one with an EXDATE and a moved occurrence, a declined invitation, a
name in the SUMMARY, a calendar that is not configured, a meeting still to come); plus the pure matching."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from syncd.app.cli import main
from syncd.core.contacts import Contact
from syncd.dav.interactions import Meeting, last_meetings, occurrences
from tests.factories import vcard
from tests.servers import ICAL, DavServer
from tests.world import card_values, cards_text, find_list, tasks_by_contact

BERLIN = ZoneInfo("Europe/Berlin")


def event(uid: str, *lines: str) -> str:
    body = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//test//test//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20270101T000000Z",
        *lines,
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(body) + "\r\n"


WEEKLY = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//test//EN\r\n"
    "BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20270101T000000Z\r\nSUMMARY:Weekly sync\r\n"
    "DTSTART;TZID=Europe/Berlin:20260602T100000\r\nDTEND;TZID=Europe/Berlin:20260602T110000\r\n"
    "RRULE:FREQ=WEEKLY\r\nEXDATE;TZID=Europe/Berlin:20270223T100000\r\n"
    "ORGANIZER;CN=Bob:mailto:bob@example.org\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:me@example.org\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:weekly\r\nDTSTAMP:20270101T000000Z\r\nSUMMARY:Weekly sync (moved)\r\n"
    "RECURRENCE-ID;TZID=Europe/Berlin:20270216T100000\r\n"
    "DTSTART;TZID=Europe/Berlin:20270217T140000\r\nDTEND;TZID=Europe/Berlin:20270217T150000\r\n"
    "ORGANIZER;CN=Bob:mailto:bob@example.org\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def syncd(config: Path, now: str, *args: str) -> int:
    return main(["--config", str(config), "--now", now, *args])


def test_meetings_count_as_contact(dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ab_name, ab_url = dav.make_addressbook()
    old = "X-SYNCD-LAST-CONTACT:2027-01-01T12:00:00Z"
    people = {
        "m-alice": vcard("m-alice", "Alice Archer", "EMAIL;TYPE=work:alice@example.org", "X-SYNCD-CIRCLE:1", old),
        "m-bob": vcard("m-bob", "Bob Brown", "EMAIL:bob@example.org", "X-SYNCD-CIRCLE:1", old),
        "m-carol": vcard("m-carol", "Carol Chen", "EMAIL:carol@example.org", "X-SYNCD-CIRCLE:1", old),
        "m-dora": vcard("m-dora", "Dora Diaz", "X-SYNCD-CIRCLE:1", old),
        "m-eve": vcard("m-eve", "Eve Evans", "EMAIL:eve@example.org", "X-SYNCD-CIRCLE:1", old),
        "m-finn": vcard("m-finn", "Finn Fox", "EMAIL:finn@example.org", "X-SYNCD-CIRCLE:1", old),
    }
    for uid, text in people.items():
        dav.put(ab_url + f"{uid}.vcf", text)
    work_name, work_url = dav.make_calendar(f"Work {tmp_path.name}", ("VEVENT",))
    _, private_url = dav.make_calendar(f"Private {tmp_path.name}", ("VEVENT",))
    dav.put(work_url + "weekly.ics", WEEKLY, ICAL)
    dav.put(
        work_url + "alice.ics",
        event(
            "alice-1",
            "SUMMARY:Review",
            "DTSTART:20270301T100000Z",
            "DTEND:20270301T110000Z",
            "ATTENDEE;PARTSTAT=ACCEPTED:MAILTO:Alice@Example.ORG",
        ),
        ICAL,
    )
    dav.put(
        work_url + "carol.ics",
        event(
            "carol-1",
            "SUMMARY:Planning",
            "DTSTART:20270225T100000Z",
            "DTEND:20270225T110000Z",
            "ATTENDEE;PARTSTAT=DECLINED:mailto:carol@example.org",
        ),
        ICAL,
    )
    dav.put(
        work_url + "dora.ics",
        event("dora-1", "SUMMARY:Lunch with dora diaz", "DTSTART;VALUE=DATE:20270226", "DTEND;VALUE=DATE:20270227"),
        ICAL,
    )
    dav.put(
        private_url + "eve.ics",
        event("eve-1", "DTSTART:20270225T100000Z", "DTEND:20270225T110000Z", "ATTENDEE:mailto:eve@example.org"),
        ICAL,
    )
    dav.put(
        work_url + "finn.ics",
        event("finn-1", "DTSTART:20270302T080000Z", "DTEND:20270302T100000Z", "ATTENDEE:mailto:finn@example.org"),
        ICAL,
    )
    list_name = f"Keep in touch {tmp_path.name}"
    cfg = dav.config(
        tmp_path,
        contacts={"addressbooks": [ab_name]},
        reminders={"task_list": list_name, "daily_limit": 10},
        interactions={"calendars": [work_name, "No such calendar"], "match_names": True},
    )
    capsys.readouterr()
    assert syncd(cfg, "2027-02-20T08:00", "check") == 0
    out = capsys.readouterr().out
    assert f"meetings   calendar {work_name!r}: found" in out
    assert "meetings   calendar 'No such calendar': NOT FOUND" in out

    # 20 February: the weekly meeting (a series begun in June 2026, before the window syncd asks the server
    # about) has a moved occurrence (17 Feb, 14:00-15:00 Berlin): Bob's last contact, so he is not due;
    # everyone else is overdue and gets a reminder.
    assert syncd(cfg, "2027-02-20T09:00", "sync") == 0
    assert card_values(dav, ab_url, "m-bob")["X-SYNCD-LAST-CONTACT"] == "2027-02-17T14:00:00Z"
    found = tasks_by_contact(dav, find_list(dav, list_name))
    assert sorted(found) == ["m-alice", "m-carol", "m-dora", "m-eve", "m-finn"]

    # 2 March, 09:00 Berlin: Alice's meeting (1 March) counts and closes her reminder; Dora's all-day lunch
    # (26 February) counts by name; Carol declined; Eve's meeting is in a calendar not configured; Finn's
    # meeting is still going on; Bob's 23 February occurrence was cancelled (EXDATE).
    assert syncd(cfg, "2027-03-02T09:00", "sync") == 0
    values = {uid: card_values(dav, ab_url, uid).get("X-SYNCD-LAST-CONTACT") for uid in people}
    assert values == {
        "m-alice": "2027-03-01T11:00:00Z",
        "m-bob": "2027-02-17T14:00:00Z",
        "m-carol": "2027-01-01T12:00:00Z",
        "m-dora": "2027-02-26T22:59:59Z",  # the end of 26 February in Berlin
        "m-eve": "2027-01-01T12:00:00Z",
        "m-finn": "2027-01-01T12:00:00Z",
    }
    found = tasks_by_contact(dav, find_list(dav, list_name))
    status = {uid: str(next(iter(t[0][2].walk("VTODO")))["STATUS"]) for uid, t in found.items()}
    assert status["m-alice"] == "COMPLETED" and status["m-dora"] == "COMPLETED"
    assert status["m-carol"] == status["m-eve"] == status["m-finn"] == "NEEDS-ACTION"
    alice = next(iter(found["m-alice"][0][2].walk("VTODO")))
    assert alice["COMPLETED"].dt == datetime(2027, 3, 1, 11, tzinfo=UTC)

    # Nothing changed: no card is written again.
    before = cards_text(dav, ab_url)
    assert syncd(cfg, "2027-03-02T09:05", "sync") == 0
    assert cards_text(dav, ab_url) == before

    # Later that day Finn's meeting has ended: it counts, and a later one never moves LAST-CONTACT backwards.
    assert syncd(cfg, "2027-03-02T12:00", "sync") == 0
    assert card_values(dav, ab_url, "m-finn")["X-SYNCD-LAST-CONTACT"] == "2027-03-02T10:00:00Z"


def test_occurrences_and_matching_are_pure() -> None:
    start, end = datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 2, 8, tzinfo=UTC)
    found = occurrences(WEEKLY, start, end, BERLIN)
    ends = sorted(m.end for m in found)
    # 2, 9 Feb; 16 Feb moved to 17 Feb 14:00-15:00 Berlin; 23 Feb excluded; 2 Mar after `end`.
    assert ends == [
        datetime(2027, 2, 2, 10, tzinfo=UTC),
        datetime(2027, 2, 9, 10, tzinfo=UTC),
        datetime(2027, 2, 17, 14, tzinfo=UTC),
    ]
    contacts = {"b": Contact(uid="b", name="Bob Brown", emails=["BOB@example.org"])}
    assert last_meetings(found, contacts, end) == {"b": datetime(2027, 2, 17, 14, tzinfo=UTC)}
    # Not yet passed at `now`: not counted.
    assert last_meetings(found, contacts, datetime(2027, 2, 17, 13, tzinfo=UTC)) == {
        "b": datetime(2027, 2, 9, 10, tzinfo=UTC)
    }
    named = [Meeting(datetime(2027, 2, 1, tzinfo=UTC), frozenset(), "Coffee with Bob Browning")]
    assert last_meetings(named, contacts, end, match_names=True) == {}, "whole words only"
    named = [Meeting(datetime(2027, 2, 1, tzinfo=UTC), frozenset(), "coffee w/ BOB  BROWN")]
    assert last_meetings(named, contacts, end, match_names=True) == {"b": datetime(2027, 2, 1, tzinfo=UTC)}
    assert last_meetings(named, contacts, end, match_names=False) == {}
    cal = Calendar.from_ical(WEEKLY)
    assert len(list(cal.walk("VEVENT"))) == 2


def test_event_ends_without_dtend() -> None:
    start, end = datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)
    with_duration = event("d", "DTSTART:20270110T090000Z", "DURATION:PT90M", "ORGANIZER:mailto:a@example.org")
    assert [m.end for m in occurrences(with_duration, start, end, BERLIN)] == [
        datetime(2027, 1, 10, 10, 30, tzinfo=UTC)
    ]
    floating = event("f", "DTSTART:20270110T090000", "DTEND:20270110T100000", "ORGANIZER:mailto:a@example.org")
    assert [m.end for m in occurrences(floating, start, end, BERLIN)] == [datetime(2027, 1, 10, 9, tzinfo=UTC)]
    day = event("a", "DTSTART;VALUE=DATE:20270110")  # all-day without an end: that day
    assert [m.end for m in occurrences(day, start, end, BERLIN)] == [datetime(2027, 1, 10, 22, 59, 59, tzinfo=UTC)]
    cancelled = event("c", "DTSTART:20270110T090000Z", "DTEND:20270110T100000Z", "STATUS:CANCELLED")
    assert occurrences(cancelled, start, end, BERLIN) == []
