"""VTODOs: the reminder syncd writes, what counts as done, and edits that keep everything else."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from syncd.core.contacts import Contact
from syncd.core.durations import Duration
from syncd.core.reminders import (
    build_task,
    complete_text,
    last_time,
    parse_task,
    reminder_uid,
    reopen_text,
    reschedule_text,
    user_note,
)

BERLIN = ZoneInfo("Europe/Berlin")

IOS_TODO = (
    "BEGIN:VCALENDAR\r\n"
    "VERSION:2.0\r\n"
    "PRODID:-//Apple Inc.//iOS 18.1//EN\r\n"
    "BEGIN:VTODO\r\n"
    "UID:syncd-abc-20261122\r\n"
    "DTSTAMP:20261122T080000Z\r\n"
    "CREATED:20261122T080000Z\r\n"
    "SUMMARY:Reach out to Ada\r\n"
    "DTSTART;TZID=Europe/Berlin:20261122T090000\r\n"
    "DUE;TZID=Europe/Berlin:20261122T090000\r\n"
    "STATUS:NEEDS-ACTION\r\n"
    "PRIORITY:1\r\n"
    "X-SYNCD-CONTACT:ada-1\r\n"
    "X-APPLE-SORT-ORDER:712345678\r\n"
    "X-MOZ-LASTACK:20261122T080500Z\r\n"
    "URL;VALUE=URI:https://example.org/a,b\r\n"
    "BEGIN:VALARM\r\n"
    "UID:alarm-1\r\n"
    "ACTION:DISPLAY\r\n"
    "DESCRIPTION:Reminder\r\n"
    "TRIGGER;VALUE=DATE-TIME:20261122T080000Z\r\n"
    "X-APPLE-DEFAULT-ALARM:FALSE\r\n"
    "END:VALARM\r\n"
    "END:VTODO\r\n"
    "END:VCALENDAR\r\n"
)


def test_done_by_any_of_the_three_signals() -> None:
    base = IOS_TODO
    assert parse_task("h", "e", base, BERLIN).done is False  # type: ignore[union-attr]
    for extra in ("STATUS:COMPLETED", "COMPLETED:20261122T101500Z", "PERCENT-COMPLETE:100"):
        text = base.replace("STATUS:NEEDS-ACTION\r\n", "").replace("END:VTODO", extra + "\r\nEND:VTODO")
        task = parse_task("h", "e", text, BERLIN)
        assert task is not None and task.done, extra
    not_done = base.replace("END:VTODO", "PERCENT-COMPLETE:50\r\nEND:VTODO")
    assert parse_task("h", "e", not_done, BERLIN).done is False  # type: ignore[union-attr]


def test_foreign_tasks_are_not_ours() -> None:
    foreign = IOS_TODO.replace("X-SYNCD-CONTACT:ada-1\r\n", "")
    assert parse_task("h", "e", foreign, BERLIN) is None


def test_complete_keeps_alarms_and_unknown_properties() -> None:
    when = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    text = complete_text(IOS_TODO, when, when)
    for kept in (
        "X-APPLE-SORT-ORDER:712345678",
        "X-MOZ-LASTACK:20261122T080500Z",
        "URL;VALUE=URI:https://example.org/a,b",
        "BEGIN:VALARM",
        "UID:alarm-1",
        "TRIGGER;VALUE=DATE-TIME:20261122T080000Z",
        "X-APPLE-DEFAULT-ALARM:FALSE",
        "DTSTART;TZID=Europe/Berlin:20261122T090000",
        "DUE;TZID=Europe/Berlin:20261122T090000",
        "X-SYNCD-CONTACT:ada-1",
        "PRODID:-//Apple Inc.//iOS 18.1//EN",
    ):
        assert kept in text, kept
    task = parse_task("h", "e", text, BERLIN)
    assert task is not None and task.done and task.completed == when
    assert "STATUS:COMPLETED" in text and "PERCENT-COMPLETE:100" in text


@pytest.mark.parametrize("due_time", [None, time(9, 0)])
def test_built_reminder_shape(due_time: time | None) -> None:
    contact = Contact(
        uid="ada-1",
        name="Ada Lovelace",
        emails=["ada@example.org"],
        phones=["+44 20 0000"],
        org="Analytical Engines",
        title="Programmer",
        note="Ask about the notes, the Bernoulli numbers, and the engine.",
        xsyncd={"X-SYNCD-LAST-CONTACT": "2026-10-01T09:00:00Z"},
    )
    now = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
    uid, text = build_task(
        contact=contact,
        circle="1",
        interval=Duration("P14D"),
        priority=1,
        due=date(2026, 11, 22),
        due_time=due_time,
        zone=BERLIN,
        now=now,
        task_list="https://dav.example.org/cal/tasks/",
    )
    tasks = "https://dav.example.org/cal/tasks/"
    assert uid == reminder_uid("ada-1", date(2026, 11, 22), tasks)
    assert reminder_uid("ada-1", date(2026, 11, 22), tasks) != reminder_uid("ada-2", date(2026, 11, 22), tasks)
    task = parse_task("h", "", text, BERLIN)
    assert task is not None and task.contact_uid == "ada-1" and not task.done
    assert task.due == date(2026, 11, 22)
    assert "SUMMARY:Reach out to Ada Lovelace" in text
    assert "PRIORITY:1" in text and "STATUS:NEEDS-ACTION" in text
    unfolded = text.replace("\r\n ", "")
    assert "Last contact: 2026-10-01 (52 days ago)" in unfolded
    assert "Programmer\\, Analytical Engines" in unfolded and "ada@example.org" in unfolded
    if due_time is None:
        assert "DUE;VALUE=DATE:20261122" in text and "VALARM" not in text
    else:
        assert "DTSTART;TZID=Europe/Berlin:20261122T090000" in text
        assert "DUE;TZID=Europe/Berlin:20261122T090000" in text
        assert "TRIGGER;VALUE=DATE-TIME:20261122T080000Z" in text
        assert "BEGIN:VTIMEZONE" in text


_PHONE_TODO = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Apple Inc.//iOS 18//EN\r
BEGIN:VTODO\r
UID:syncd-abc-20261122\r
DTSTAMP:20261122T080000Z\r
SUMMARY:Reach out to Ada\r
DUE:20261122T150000Z\r
X-SYNCD-CONTACT:ada\r
X-APPLE-SORT-ORDER:12\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
TRIGGER:-PT15M\r
END:VALARM\r
END:VTODO\r
END:VCALENDAR\r
"""


def test_reminder_uids_are_unique_per_task_list() -> None:
    """Servers such as Cyrus refuse one UID in two calendars of an account: another list, another UID; the same
    list (its path, whatever host it is reached at) and day, the same UID, so a retried PUT never duplicates."""
    day = date(2026, 11, 22)
    uid = reminder_uid("ada-1", day, "https://dav.example.org/cal/my%20tasks/")
    assert uid == reminder_uid("ada-1", day, "http://127.0.0.1:8080/cal/my tasks")
    assert uid != reminder_uid("ada-1", day, "https://dav.example.org/cal/other/")
    assert uid != reminder_uid("ada-1", date(2026, 11, 23), "https://dav.example.org/cal/my%20tasks/")
    assert uid.startswith("syncd-") and uid.endswith("-20261122")


@pytest.mark.parametrize("due_time", [None, time(9, 0)])
def test_reschedule_moves_due_start_and_alarm_keeping_the_time(due_time: time | None) -> None:
    zone = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 11, 22, 10, 0, tzinfo=zone)
    contact = Contact(uid="ada", name="Ada Lovelace")
    _uid, text = build_task(
        contact=contact,
        circle="1",
        interval=Duration("P14D"),
        priority=1,
        due=date(2026, 11, 22),
        due_time=due_time,
        zone=zone,
        now=now,
        task_list="https://dav.example.org/cal/tasks/",
    )
    moved = reschedule_text(text, date(2026, 12, 6), zone, now)
    task = parse_task("/t.ics", "", moved, zone)
    assert task is not None and task.due == date(2026, 12, 6) and task.open
    vtodo = moved.split("BEGIN:VTODO")[1].split("END:VTODO")[0]
    dated = [line for line in vtodo.splitlines() if line.startswith(("DUE", "DTSTART", "TRIGGER"))]
    # 09:00 in Berlin is 08:00Z: the DUE/DTSTART keep their zone, the absolute alarm trigger its UTC form
    stamps = ("20261206",) if due_time is None else ("20261206T090000", "20261206T080000Z")
    assert dated and all(any(stamp in line for stamp in stamps) for line in dated), dated
    assert moved.count("BEGIN:VALARM") == text.count("BEGIN:VALARM")
    assert "UID:" + _uid in moved and "SUMMARY:Reach out to Ada Lovelace" in moved


def test_reschedule_of_a_phone_edited_reminder_keeps_its_form() -> None:
    """A UTC DUE set on a phone keeps its local time of day; a relative alarm and unknown lines stay."""
    zone = ZoneInfo("Europe/Berlin")
    moved = reschedule_text(_PHONE_TODO, date(2026, 12, 1), zone, datetime(2026, 11, 22, 10, 0, tzinfo=UTC))
    assert "DUE:20261201T150000Z" in moved
    assert "TRIGGER:-PT15M" in moved and "X-APPLE-SORT-ORDER:12" in moved and "X-SYNCD-CONTACT:ada" in moved


def test_reopen_puts_back_the_open_state_and_keeps_a_move_made_since() -> None:
    """Undoing `done`: STATUS, COMPLETED and PERCENT-COMPLETE as they were while open; a DUE the phone moved
    after the reminder was closed stays moved, and everything else of the closed text stays."""
    closed_at = datetime(2026, 11, 22, 10, 15, tzinfo=UTC)
    closed = complete_text(IOS_TODO, closed_at, closed_at).replace("20261122T090000", "20261123T090000")
    now = datetime(2026, 11, 22, 11, 0, tzinfo=UTC)
    reopened = reopen_text(closed, IOS_TODO, now)
    task = parse_task("h", "e", reopened, BERLIN)
    assert task is not None and task.open and task.completed is None and task.due == date(2026, 11, 23)
    assert "STATUS:NEEDS-ACTION" in reopened and "PERCENT-COMPLETE" not in reopened
    assert "LAST-MODIFIED:20261122T110000Z" in reopened
    for kept in ("X-APPLE-SORT-ORDER:712345678", "UID:alarm-1", "X-SYNCD-CONTACT:ada-1", "CREATED:20261122T080000Z"):
        assert kept in reopened, kept
    half = IOS_TODO.replace("STATUS:NEEDS-ACTION\r\n", "PERCENT-COMPLETE:40\r\n")
    again = reopen_text(complete_text(half, closed_at, closed_at), half, now)
    assert "PERCENT-COMPLETE:40" in again and "STATUS:" not in again
    assert parse_task("h", "e", again, BERLIN).open  # type: ignore[union-attr]


# The user's note in a reminder's DESCRIPTION ---------------------------------------------------------------

SYNCD_LINES = "Circle 1 · every 2 weeks\nLast contact: 2026-10-01 (52 days ago)\nACME, CTO\nPhone: +49 151\nEmail: a@x"


@pytest.mark.parametrize(
    ("description", "note"),
    [
        (SYNCD_LINES, ""),
        (SYNCD_LINES + "\n\nHer move to Lisbon", "Her move to Lisbon"),
        ("Her move to Lisbon\n" + SYNCD_LINES, "Her move to Lisbon"),
        # a phone's rewrite: CR LF or CR line ends, blanks around and inside syncd's lines, a line separator
        (
            SYNCD_LINES.replace("\n", "\r\n").replace("Circle 1 ·", " Circle  1 · ") + "\r\n\r\nLisbon\r\nin Jan  ",
            "Lisbon\nin Jan",
        ),
        (SYNCD_LINES.replace("\n", "\r") + "\u2028Lisbon", "Lisbon"),
        ("", ""),
    ],
)
def test_the_users_note_is_what_syncd_did_not_write(description: str, note: str) -> None:
    assert user_note(description, SYNCD_LINES) == note


def test_without_the_record_of_syncds_lines_they_are_told_by_their_form() -> None:
    """A reminder without X-SYNCD-DESCRIPTION (made by an older syncd, or a client dropped it): the lines
    syncd writes are recognised by their form; a work line (title, organisation) cannot be, and stays."""
    text = SYNCD_LINES + "\nLast time, 12 Nov: the flat\n\nShe found a flat"
    assert user_note(text, None) == "ACME, CTO\n\nShe found a flat"


def test_a_built_reminder_carries_the_latest_note_and_no_note_of_its_own() -> None:
    contact = Contact(uid="u1", name="Ada Lovelace", phones=["+49 151"], org="ACME")
    _, text = build_task(
        contact=contact,
        circle="1",
        interval=Duration("P14D"),
        priority=1,
        due=date(2026, 12, 7),
        due_time=time(9, 0),
        zone=BERLIN,
        now=datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
        task_list="http://h/cal/tasks/",
        last_note=(date(2026, 11, 12), "Her move\nto Lisbon; ask, about it\\"),
    )
    task = parse_task("/t.ics", '"e"', text, BERLIN)
    assert task is not None and task.note == ""
    assert "Last time, 12 Nov: Her move to Lisbon; ask, about it\\" in str(_description(text))
    # typed on the phone below syncd's lines, and ticked off
    edited = text.replace("DESCRIPTION:", "DESCRIPTION:Called\\, all good\\n", 1)
    done = complete_text(edited, datetime(2026, 12, 8, 10, tzinfo=UTC), datetime(2026, 12, 8, 10, tzinfo=UTC))
    again = parse_task("/t.ics", '"e"', done, BERLIN)
    assert again is not None and again.done and again.note == "Called, all good" and again.via == ""


def test_done_with_a_note_adds_it_and_says_so() -> None:
    contact = Contact(uid="u1", name="Ada Lovelace")
    _, text = build_task(
        contact=contact,
        circle="1",
        interval=Duration("P14D"),
        priority=1,
        due=date(2026, 12, 7),
        due_time=None,
        zone=BERLIN,
        now=datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
        task_list="http://h/cal/tasks/",
    )
    done = complete_text(
        text, datetime(2026, 12, 8, 10, tzinfo=UTC), datetime(2026, 12, 8, 10, tzinfo=UTC), " Lunch ", manual=True
    )
    task = parse_task("/t.ics", '"e"', done, BERLIN)
    assert task is not None and task.done and task.note == "Lunch" and task.via == "manual"


def test_last_time_line() -> None:
    assert last_time(date(2026, 11, 12), "a\n b", date(2026, 12, 7)) == "Last time, 12 Nov: a b"
    assert last_time(date(2025, 11, 12), "x", date(2026, 1, 7)) == "Last time, 12 Nov 2025: x"
    assert len(last_time(date(2026, 11, 12), "y" * 1000, date(2026, 12, 7))) < 300


def _description(text: str) -> str:
    from icalendar import Calendar

    todo = next(iter(Calendar.from_ical(text).walk("VTODO")))
    return str(todo["DESCRIPTION"])
