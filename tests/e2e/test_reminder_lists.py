"""Where open reminders live and how many are due, against real Radicale and Xandikos through the command line:
a changed `reminders.task_list` leaves no contact with open reminders in two lists (also on a server that keeps
UIDs unique across an account's calendars, as Cyrus does), a deleted card's open reminder is withdrawn and its
slot filled, and a snooze never makes more than `daily_limit` reminders due on any later day."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from syncd.app.cli import main
from tests.proxy import Forward, ProxyFactory, unique_uids, when
from tests.servers import ICAL, DavServer
from tests.world import NOW, Book, TaskView, complete, duplicates, make_book, move_due, people


def open_due(tasks: list[TaskView], day: date) -> list[TaskView]:
    """Open reminders with DUE on or before `day`."""
    return [t for t in tasks if not t.done and date.fromisoformat(t.due[:10]) <= day]


def list_tasks(book: Book, name: str) -> list[TaskView]:
    kept = book.list_name
    book.list_name = name
    try:
        return book.tasks()
    finally:
        book.list_name = kept


@pytest.mark.parametrize("cyrus", [False, True], ids=["plain", "unique-uids"])
def test_changing_the_task_list_moves_the_open_reminders(
    dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str], cyrus: bool
) -> None:
    """After `reminders.task_list` names another list (on the same day, so the same contacts are due again), the
    new list holds the open reminders, the old one none: they are withdrawn there, not taken for reminders the
    user deleted (no card gets a snooze); the old list's completed reminder stays as history, untouched."""
    proxy = counting_proxy(dav.url, unique_uids() if cyrus else None)
    book = make_book(dav, tmp_path, people(5, "tl"), url=proxy.url)
    old = book.list_name
    assert book.sync(NOW) == 0
    first = book.tasks()
    assert len(first) == 3
    assert complete(dav, first[0], "20261122T080000Z")
    assert book.sync("2026-11-22T10:00") == 0
    before = book.tasks()
    [history] = [t for t in before if t.done]
    still_open = {t.contact for t in before if not t.done}
    assert len(still_open) == 3

    new = f"New {tmp_path.name}"
    book.cfg = dav.config(
        tmp_path,
        server={"url": proxy.url},
        contacts={"addressbooks": [book.ab_name]},
        reminders={"task_list": new, "daily_limit": 3},
    )
    book.list_name = new
    proxy.reset()
    capsys.readouterr()
    assert book.sync("2026-11-22T11:00", "--dry-run") == 0
    planned = capsys.readouterr().out
    assert proxy.writes() == []
    assert planned.count("reminders.task_list names another list now") == 3, planned
    assert planned.count("create (If-None-Match)") == 3, planned
    proxy.reset()
    assert book.sync("2026-11-22T11:00") == 0

    in_old = list_tasks(book, old)
    assert [t for t in in_old if not t.done] == []
    assert [(t.href, t.etag) for t in in_old] == [(history.href, history.etag)]
    in_new = book.tasks()
    assert {t.contact for t in in_new if not t.done} == still_open
    assert duplicates(in_old + in_new) == []
    assert {t.uid for t in in_new}.isdisjoint(t.uid for t in before)
    assert [r for r in proxy.writes() if "/ab-" in r.path] == []  # no card written: nobody snoozed
    assert all("X-SYNCD-SNOOZE" not in values for values in book.all_values().values())
    deletes = [r for r in proxy.writes() if r.method == "DELETE"]
    assert len(deletes) == 3 and all(r.status in (200, 204) for r in deletes), deletes
    assert all(r.status in (200, 201, 204) for r in proxy.writes()), proxy.writes()

    proxy.reset()
    assert book.sync("2026-11-22T12:00") == 0
    assert proxy.writes() == []
    assert {(t.href, t.etag) for t in book.tasks()} == {(t.href, t.etag) for t in in_new}


def test_a_completion_in_the_old_list_is_recorded_after_the_switch(dav: DavServer, tmp_path: Path) -> None:
    """A reminder ticked off in the old list just before `reminders.task_list` changed: the switch records its
    completion in the card (it stays in the old list as history), and that contact gets no new reminder."""
    book = make_book(dav, tmp_path, people(3, "tc"))
    old = book.list_name
    assert book.sync(NOW) == 0
    first = book.tasks()
    assert len(first) == 3
    done = first[0]
    assert complete(dav, done, "20261122T080000Z")
    new = f"New {tmp_path.name}"
    book.cfg = dav.config(
        tmp_path, contacts={"addressbooks": [book.ab_name]}, reminders={"task_list": new, "daily_limit": 3}
    )
    book.list_name = new
    assert book.sync("2026-11-22T11:00") == 0
    assert book.values(done.contact)["X-SYNCD-LAST-CONTACT"] == "2026-11-22T08:00:00Z"
    in_old = list_tasks(book, old)
    assert [(t.contact, t.done) for t in in_old] == [(done.contact, True)]
    assert {t.contact for t in book.tasks() if not t.done} == {t.contact for t in first[1:]}
    assert all("X-SYNCD-SNOOZE" not in values for values in book.all_values().values())


def test_a_deleted_cards_open_reminder_is_withdrawn(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A card deleted on the phone while its reminder is open: the next sync withdraws that reminder (no
    snooze: there is no card to write) and gives the freed slot to the next contact due."""
    book = make_book(dav, tmp_path, people(4, "del"))
    assert book.sync(NOW) == 0
    opened = book.tasks()
    assert len(opened) == 3
    gone = opened[0].contact
    waiting = {uid for uid in book.hrefs} - {t.contact for t in opened}
    card = book.hrefs[gone]
    etag = dav.get(card).headers["ETag"]
    assert dav.http("DELETE", card, **{"If-Match": etag}).status_code in (200, 204)

    capsys.readouterr()
    assert book.sync("2026-11-22T10:00") == 0
    name = str(opened[0].todo["SUMMARY"]).removeprefix("Reach out to ")
    assert f"withdrew the reminder for {name}: the contact's card was deleted" in capsys.readouterr().err
    after = book.tasks()
    assert [t for t in after if t.contact == gone] == []
    due = open_due(after, date(2026, 11, 22))
    assert len(due) == 3 and waiting <= {t.contact for t in due}
    capsys.readouterr()
    assert main(["--config", str(book.cfg), "--now", "2026-11-22T10:30", "today", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)
    assert len(items) == 3 and all(i["reminder"] for i in items) and gone not in {i["uid"] for i in items}


def test_an_unreadable_cards_open_reminder_stays(
    dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A card that fails to parse is not a deleted one: its contact's open reminder is left alone."""
    proxy = counting_proxy(dav.url)
    book = make_book(dav, tmp_path, people(4, "unr"), url=proxy.url)
    assert book.sync(NOW) == 0
    opened = book.tasks()
    victim = opened[0].contact
    proxy.fault = when(Forward(edit=lambda body: body.replace(f"UID:{victim}".encode(), f"UID:{victim}\n:".encode())))
    href = book.hrefs[victim]
    r = dav.get(href)
    dav.put(href, r.text.replace("loves sailing", "loves rowing"), **{"If-Match": r.headers["ETag"]})
    capsys.readouterr()
    assert book.sync("2026-11-22T10:00") == 0
    assert "skipping the card" in capsys.readouterr().err
    proxy.fault = None
    assert {(t.href, t.etag) for t in book.tasks()} == {(t.href, t.etag) for t in opened}


def test_a_snooze_never_makes_more_than_the_daily_limit_due(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Snooze one of the open reminders, let the freed slot fill, then walk the days: on no day are more than
    `daily_limit` reminders due (and, six contacts being due, never fewer). The snoozed contact is not taken
    for one whose reminder the user deleted: its X-SYNCD-SNOOZE stays the day the user chose."""
    book = make_book(dav, tmp_path, people(6, "snz"))
    start = date(2026, 11, 22)
    assert book.sync(NOW) == 0
    snoozed = book.tasks()[0].contact
    until = start + timedelta(days=3)
    assert main(["--config", str(book.cfg), "--now", NOW, "snooze", snoozed, until.isoformat()]) == 0
    assert book.sync("2026-11-22T10:00") == 0
    for offset in range(8):
        day = start + timedelta(days=offset)
        capsys.readouterr()
        assert main(["--config", str(book.cfg), "--now", f"{day.isoformat()}T08:00", "today", "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)  # before the day's sync: what it will leave due
        assert len(listed) == 3, (day, listed)
        assert book.sync(f"{day.isoformat()}T09:00") == 0
        tasks = book.tasks()
        due = open_due(tasks, day)
        assert len(due) == 3, (day, [(t.contact, t.due) for t in due])
        assert duplicates(tasks) == []
    assert book.values(snoozed)["X-SYNCD-SNOOZE"] == until.isoformat()


def test_a_due_date_moved_on_the_phone_is_kept_and_the_limit_holds(dav: DavServer, tmp_path: Path) -> None:
    """The user moves one open reminder's DUE two days ahead on the phone; the next sync fills the freed slot.
    On the moved date that reminder comes due on a full day: it keeps the date the user chose, and the newest of
    syncd's own reminders makes room (withdrawn, its contact waits), so no day has more than `daily_limit` due."""
    book = make_book(dav, tmp_path, people(6, "mv"))
    start = date(2026, 11, 22)
    assert book.sync(NOW) == 0
    chosen = book.tasks()[0]
    moved_to = start + timedelta(days=2)
    assert move_due(dav, chosen, moved_to.strftime("%Y%m%d"))
    for offset in range(6):
        day = start + timedelta(days=offset)
        assert book.sync(f"{day.isoformat()}T09:00") == 0
        tasks = book.tasks()
        due = open_due(tasks, day)
        assert len(due) == 3, (day, [(t.contact, t.due) for t in due])
        assert duplicates(tasks) == []
        [kept] = [t for t in tasks if t.uid == chosen.uid]
        assert kept.due[:10] == moved_to.isoformat()
        if day >= moved_to:
            assert chosen.uid in {t.uid for t in due}
    assert all("X-SYNCD-SNOOZE" not in values for values in book.all_values().values())


def test_a_reminder_holding_a_note_typed_on_the_phone_never_makes_room(dav: DavServer, tmp_path: Path) -> None:
    """The user moves one reminder's DUE ahead and types a note into each of the others, not yet ticked off.
    On the moved date the day is over the limit, but no reminder is withdrawn to make room: withdrawing one of
    the noted reminders would lose what the user wrote (only syncd's own, untouched reminders give way)."""
    book = make_book(dav, tmp_path, people(6, "nt"))
    start = date(2026, 11, 22)
    assert book.sync(NOW) == 0
    chosen = book.tasks()[0]
    moved_to = start + timedelta(days=1)
    assert move_due(dav, chosen, moved_to.strftime("%Y%m%d"))
    assert book.sync(f"{start.isoformat()}T09:00") == 0  # the freed slot is filled
    for task in book.tasks():
        if task.uid != chosen.uid and not task.done:
            cal = Calendar.from_ical(task.text)
            todo = next(iter(cal.walk("VTODO")))
            typed = f"{todo['DESCRIPTION']}\n\nasked about the move to Lisbon"
            todo.pop("DESCRIPTION")
            todo.add("DESCRIPTION", typed)
            r = dav.http("PUT", task.href, cal.to_ical().decode(), **{"Content-Type": ICAL, "If-Match": task.etag})
            assert r.status_code in (200, 201, 204)
    noted = {t.uid for t in book.tasks() if t.uid != chosen.uid and not t.done}
    assert len(noted) == 3
    assert book.sync(f"{moved_to.isoformat()}T09:00") == 0
    still = {t.uid for t in open_due(book.tasks(), moved_to)}
    assert noted | {chosen.uid} == still
    assert all("lisbon" in t.text.lower() for t in book.tasks() if t.uid in noted)
