"""Notes about conversations, against real servers: text typed into a reminder's notes on the phone is kept as a
note about the contact when the reminder is done, `show` lists it, the contact's next reminder carries it, and
it outlives the loss of `state_dir` (the completed reminders on the server are the record). `done --note` leaves
such a record too. `show` and `list` say where each last contact came from."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from syncd.app.cli import main
from syncd.core.reminders import parse_task
from tests.proxy import ProxyFactory
from tests.servers import ICAL, DavServer
from tests.world import Book, TaskView, make_book

PEOPLE = [
    ("u-ada", "Ada Lovelace", "1", "2026-10-01T12:00:00Z"),  # circle 1 (14 days): due, a reminder on the first sync
    ("u-bob", "Bob Dylan", "1", "2026-11-20T12:00:00Z"),  # circle 1, not due before 2026-12-04
    ("u-cyd", "Cyd Charisse", "3", "2026-11-20T12:00:00Z"),  # circle 3, not due
    ("u-dee", "Dee Dee", None, None),  # not tracked
]
NOW = "2026-11-22T09:00"
NOTE = "Her move to Lisbon in January.\nAsk about the flat."


def run(book: Book, capsys: pytest.CaptureFixture[str], now: str, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", str(book.cfg), "--now", now, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def show(book: Book, capsys: pytest.CaptureFixture[str], now: str, who: str) -> dict[str, Any]:
    code, out, err = run(book, capsys, now, "show", who, "--json")
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def tasks_of(book: Book, uid: str) -> list[TaskView]:
    return [t for t in book.tasks() if t.contact == uid]


def note_and_tick_off(dav: DavServer, task: TaskView, note: str, completed: str) -> None:
    """What a phone does: the user types into the reminder's notes (below syncd's lines; the phone rewrites the
    text, here with CR LF line ends and stray blanks in syncd's lines), then ticks it off."""
    cal = Calendar.from_ical(task.text)
    todo = next(iter(cal.walk("VTODO")))
    mine = str(todo["DESCRIPTION"]).split("\n")
    typed = "\r\n".join([f"{line}  " if i % 2 else f" {line}" for i, line in enumerate(mine)] + ["", note])
    todo.pop("DESCRIPTION")
    todo.add("DESCRIPTION", typed)
    todo.pop("STATUS")
    todo.add("STATUS", "COMPLETED")
    text = cal.to_ical().decode("utf-8")
    text = text.replace("END:VTODO", f"COMPLETED:{completed}\r\nPERCENT-COMPLETE:100\r\nEND:VTODO", 1)
    r = dav.http("PUT", task.href, text, **{"Content-Type": ICAL, "If-Match": task.etag})
    assert r.status_code in (200, 201, 204), r.status_code


def description(task: TaskView) -> str:
    return str(task.todo["DESCRIPTION"])


def test_a_note_typed_on_the_phone_is_shown_carried_forward_and_survives_the_loss_of_state(
    dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = counting_proxy(dav.url)
    book = make_book(dav, tmp_path, PEOPLE, url=proxy.url)
    assert book.sync(NOW) == 0
    [reminder] = tasks_of(book, "u-ada")
    assert not reminder.done
    assert show(book, capsys, "2026-11-22T09:05", "Ada Lovelace")["notes"] == []

    note_and_tick_off(dav, reminder, NOTE, "20261122T150000Z")
    assert book.sync("2026-11-22T16:00") == 0
    ada = show(book, capsys, "2026-11-22T16:05", "u-ada")
    assert ada["notes"] == [{"date": "2026-11-22T15:00:00Z", "text": NOTE, "source": "reminder"}]
    assert ada["last_contact"] == "2026-11-22T15:00:00Z" and ada["last_contact_source"] == "reminder"
    assert ada["circle"] == "1" and ada["interval"] == "P14D" and ada["next_due"] == "2026-12-06"
    code, out, _ = run(book, capsys, "2026-11-22T16:05", "show", "Ada Lovelace")
    assert code == 0 and "2026-11-22 (reminder): Her move to Lisbon in January." in out

    # Past the interval, the next reminder carries the latest note; it is not a note of its own.
    assert book.sync("2026-12-07T09:00") == 0
    [new] = [t for t in tasks_of(book, "u-ada") if not t.done]
    assert new.uid != reminder.uid
    assert "Last time, 22 Nov: Her move to Lisbon in January. Ask about the flat." in description(new)
    assert parse_task(new.href, new.etag, new.text, book_zone()).note == ""  # syncd's own lines only

    # state_dir lost: the first sync rebuilds the note from the completed reminder and writes nothing.
    shutil.rmtree(tmp_path / "state")
    proxy.reset()
    assert book.sync("2026-12-07T10:00") == 0
    assert proxy.writes() == [], [(r.method, r.path) for r in proxy.writes()]
    ada = show(book, capsys, "2026-12-07T10:05", "Ada Lovelace")
    assert ada["notes"] == [{"date": "2026-11-22T15:00:00Z", "text": NOTE, "source": "reminder"}]
    assert ada["last_contact_source"] == "reminder"

    # Kept in the state since: the note outlives the completed reminder the user cleared away.
    [done] = [t for t in tasks_of(book, "u-ada") if t.done]
    assert dav.http("DELETE", done.href, **{"If-Match": done.etag}).status_code in (200, 204)
    assert book.sync("2026-12-07T11:00") == 0
    assert show(book, capsys, "2026-12-07T11:05", "Ada Lovelace")["notes"][0]["text"] == NOTE


def book_zone() -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


def test_done_with_a_note_leaves_a_completed_reminder_on_the_server(
    dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = counting_proxy(dav.url)
    book = make_book(dav, tmp_path, PEOPLE, url=proxy.url)
    assert book.sync(NOW) == 0

    # No reminder open for Cyd: a completed one is made to hold the note.
    code, out, err = run(
        book, capsys, "2026-11-22T10:00", "done", "Cyd Charisse", "--note", "Talked about the festival"
    )
    assert code == 0, err
    assert "note kept" in out
    [held] = tasks_of(book, "u-cyd")
    assert held.done and "Talked about the festival" in description(held)
    assert held.todo.get("DUE") is None, "a record, not an item of a day's list"
    cyd = show(book, capsys, "2026-11-22T10:05", "Cyd Charisse")
    assert cyd["notes"] == [{"date": "2026-11-22T09:00:00Z", "text": "Talked about the festival", "source": "manual"}]
    assert cyd["last_contact"] == "2026-11-22T09:00:00Z" and cyd["last_contact_source"] == "manual"

    # Ada's open reminder is closed holding the note.
    code, _, err = run(book, capsys, "2026-11-22T11:00", "done", "Ada Lovelace", "--note", "Lisbon flat found")
    assert code == 0, err
    [closed] = tasks_of(book, "u-ada")
    assert closed.done and "Lisbon flat found" in description(closed)

    proxy.reset()
    assert book.sync("2026-11-22T12:00") == 0
    assert proxy.writes() == [], [(r.method, r.path) for r in proxy.writes()]

    # Without the state, both notes come back from the server, and where the last contacts came from.
    shutil.rmtree(tmp_path / "state")
    assert book.sync("2026-11-22T13:00") == 0
    cyd = show(book, capsys, "2026-11-22T13:05", "u-cyd")
    assert cyd["notes"] == [{"date": "2026-11-22T09:00:00Z", "text": "Talked about the festival", "source": "manual"}]
    ada = show(book, capsys, "2026-11-22T13:05", "u-ada")
    assert ada["notes"] == [{"date": "2026-11-22T10:00:00Z", "text": "Lisbon flat found", "source": "manual"}]
    assert ada["last_contact_source"] == "manual"

    # The weekly review counts the touches by where they came from.
    code, out, _ = run(book, capsys, "2026-11-22T13:10", "review", "week", "--json")
    assert code == 0 and json.loads(out)["touches_by_source"] == {"manual": 2, "done": 1}  # Bob: his card's date
    code, out, _ = run(book, capsys, "2026-11-22T13:10", "review", "week")
    assert "By source: manual 2, done 1" in out

    # A later note comes first.
    assert run(book, capsys, "2026-11-23T11:00", "done", "u-cyd", "--note", "Sent the photos")[0] == 0
    assert [n["text"] for n in show(book, capsys, "2026-11-23T11:05", "u-cyd")["notes"]] == [
        "Sent the photos",
        "Talked about the festival",
    ]


def test_list_filters_and_fields(dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = make_book(dav, tmp_path, PEOPLE)
    assert book.sync(NOW) == 0
    code, out, err = run(book, capsys, "2026-11-22T10:00", "list", "--json")
    assert code == 0, err
    rows = {row["uid"]: row for row in json.loads(out)}
    assert set(rows) == {"u-ada", "u-bob", "u-cyd", "u-dee"}
    assert rows["u-dee"] == {
        "uid": "u-dee",
        "name": "Dee Dee",
        "circle": None,
        "interval": None,
        "last_contact": None,
        "last_contact_source": None,
        "next_due": None,
    }
    assert rows["u-bob"]["next_due"] == "2026-12-04" and rows["u-bob"]["last_contact_source"] == "card"
    assert "notes" not in rows["u-bob"]

    code, out, _ = run(book, capsys, "2026-11-22T10:00", "list", "--circle", "1", "--due", "--json")
    assert code == 0
    assert [(r["uid"], r["circle"], r["next_due"]) for r in json.loads(out)] == [("u-ada", "1", "2026-11-22")]
    code, out, _ = run(book, capsys, "2026-12-05T10:00", "list", "--circle", "1", "--due", "--json")
    assert [r["uid"] for r in json.loads(out)] == ["u-ada", "u-bob"]
    code, out, _ = run(book, capsys, "2026-11-22T10:00", "list", "--circle", "none", "--json")
    assert [r["uid"] for r in json.loads(out)] == ["u-dee"]
    code, out, _ = run(book, capsys, "2026-11-22T10:00", "list", "--circle", "1")
    assert code == 0 and "Ada Lovelace" in out and "Cyd" not in out
    assert run(book, capsys, "2026-11-22T10:00", "list", "--circle", "7")[0] == 2


def test_an_unknown_contact_is_exit_65(radicale: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = make_book(radicale, tmp_path, PEOPLE)
    assert book.sync(NOW) == 0
    code, _, err = run(book, capsys, "2026-11-22T10:00", "show", "Nobody Here", "--json")
    assert code == 65 and "Nobody Here" in err
    code, _, _ = run(book, capsys, "2026-11-22T10:00", "done", "Nobody Here", "--note", "hello")
    assert code == 65
    assert all(t.contact != "" for t in book.tasks()) and len(book.tasks()) == 1


MEETING = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//test//EN\r\n"
    "BEGIN:VEVENT\r\nUID:bob-lunch\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:Lunch\r\n"
    "DTSTART:20261121T110000Z\r\nDTEND:20261121T120000Z\r\n"
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


class Messages:
    """A source of touches shaped like syncd's own (`touches(world, now)`), named by its class only: one
    message to Cyd."""

    def touches(self, world: Any, now: Any) -> dict[str, Any]:
        from datetime import UTC, datetime

        return {"u-cyd": datetime(2026, 11, 21, 18, 0, tzinfo=UTC)}


def test_last_contact_source_meeting_and_mail(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A meeting in `interactions.calendars` is "meeting", a touch from a source of messages is "mail": in
    `show`, `list` and the weekly review."""
    cal_name, cal_url = dav.make_calendar(f"Work {tmp_path.name}", ("VEVENT",))
    dav.put(cal_url + "lunch.ics", MEETING, ICAL)
    book = make_book(dav, tmp_path, PEOPLE, interactions={"calendars": [cal_name]})
    assert book.sync(NOW) == 0
    bob = show(book, capsys, "2026-11-22T09:05", "Bob Dylan")
    assert bob["last_contact"] == "2026-11-21T12:00:00Z" and bob["last_contact_source"] == "meeting"

    from syncd.engine.cycle import Cycle
    from syncd.engine.writing import Writer
    from tests.world import engine

    session = engine(book.cfg)
    try:
        when = datetime_at("2026-11-22T10:00:00+01:00")
        Cycle(session, Writer(session), full=True, sources=[Messages()]).run(when)
    finally:
        session.close()
    assert book.values("u-cyd")["X-SYNCD-LAST-CONTACT"] == "2026-11-21T18:00:00Z"
    _code, out, _ = run(book, capsys, "2026-11-22T10:05", "list", "--json")
    sources = {row["uid"]: row["last_contact_source"] for row in json.loads(out)}
    assert sources == {"u-ada": "card", "u-bob": "meeting", "u-cyd": "mail", "u-dee": None}
    _code, out, _ = run(book, capsys, "2026-11-22T10:05", "review", "week", "--json")
    assert json.loads(out)["touches_by_source"] == {"done": 1, "mail": 1, "meeting": 1}  # done: Cyd's card before


def datetime_at(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text)


def test_done_is_manual_after_the_loss_of_state_and_its_undo_takes_the_note_back(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The reminder `done` closes says so (X-SYNCD-VIA): without the state, its last contact is still
    "manual". `history --undo` of a `done --note` opens the reminder again without the note, and `show` lists
    it no more; ticked off on the phone later, with a note typed there, that one is kept."""
    book = make_book(dav, tmp_path, PEOPLE)
    assert book.sync(NOW) == 0
    assert run(book, capsys, "2026-11-22T10:00", "done", "Ada Lovelace")[0] == 0
    shutil.rmtree(tmp_path / "state")
    assert book.sync("2026-11-22T10:30") == 0
    ada = show(book, capsys, "2026-11-22T10:35", "Ada Lovelace")
    assert ada["last_contact"] == "2026-11-22T09:00:00Z" and ada["last_contact_source"] == "manual"

    # Bob: due on 2026-12-04, a reminder then; `done --note` closes it; the undo takes both back.
    assert book.sync("2026-12-04T09:00") == 0
    [open_one] = [t for t in tasks_of(book, "u-bob") if not t.done]
    assert run(book, capsys, "2026-12-04T10:00", "done", "Bob Dylan", "--note", "Wrong person")[0] == 0
    code, out, _ = run(book, capsys, "2026-12-04T10:05", "history", "Bob Dylan", "--json")
    [entry] = [e for e in json.loads(out) if e["reason"] == "syncd done"]
    code, _, err = run(book, capsys, "2026-12-04T10:10", "history", "--undo", entry["id"])
    assert code == 0, err
    [reopened] = tasks_of(book, "u-bob")
    assert reopened.uid == open_one.uid and not reopened.done
    assert "Wrong person" not in description(reopened) and reopened.todo.get("X-SYNCD-VIA") is None
    assert show(book, capsys, "2026-12-04T10:15", "Bob Dylan")["notes"] == []
    assert book.sync("2026-12-04T10:20") == 0
    assert show(book, capsys, "2026-12-04T10:25", "Bob Dylan")["notes"] == []

    note_and_tick_off(dav, reopened, "Called back", "20261204T120000Z")
    assert book.sync("2026-12-04T13:00") == 0
    bob = show(book, capsys, "2026-12-04T13:05", "Bob Dylan")
    assert bob["notes"] == [{"date": "2026-12-04T12:00:00Z", "text": "Called back", "source": "reminder"}]
    assert bob["last_contact_source"] == "reminder"
