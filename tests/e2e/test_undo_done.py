"""`syncd history --undo` of a `done` undoes all of it: the card's last contact, the reminder `done` closed (open
again, as the phone saw it before), syncd's record of that reminder, and the touch in the audit. The next sync
then has nothing to write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from syncd.app.cli import main
from tests.proxy import CountingProxy, ProxyFactory
from tests.servers import DavServer
from tests.world import Book, TaskView, complete, duplicates, make_book, move_due

PEOPLE = [
    ("u-ada", "Ada Lovelace", "1", "2026-10-01T12:00:00Z"),  # due: a reminder on the first sync
    ("u-cyd", "Cyd Charisse", "3", "2026-11-20T12:00:00Z"),  # not due
]
NOW = "2026-11-22T09:00"


def run(book: Book, capsys: pytest.CaptureFixture[str], now: str, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", str(book.cfg), "--now", now, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ada_in_audit(book: Book, capsys: pytest.CaptureFixture[str], now: str) -> dict[str, Any]:
    code, out, _ = run(book, capsys, now, "audit", "--json")
    assert code == 0
    [ada] = [k for k in json.loads(out)["key_contacts"] if k["uid"] == "u-ada"]
    return {key: ada[key] for key in ("last_contact", "touches", "days_since")}


def ada_tasks(book: Book) -> list[TaskView]:
    return [t for t in book.tasks() if t.contact == "u-ada"]


def undo_done(book: Book, capsys: pytest.CaptureFixture[str], now: str) -> str:
    code, out, _ = run(book, capsys, now, "history", "Ada Lovelace", "--json")
    assert code == 0
    [entry] = [e for e in json.loads(out) if e["reason"] == "syncd done"]
    assert entry["reminder"] is not None
    assert urlsplit(entry["reminder"]["href"]).path == urlsplit(ada_tasks(book)[0].href).path
    code, out, err = run(book, capsys, now, "history", "--undo", entry["id"])
    assert code == 0, err
    return out


@pytest.mark.parametrize("sync_between", [False, True], ids=["undone-at-once", "undone-after-a-sync"])
def test_undo_of_done_reopens_the_reminder_and_the_next_sync_writes_nothing(
    dav: DavServer,
    tmp_path: Path,
    counting_proxy: ProxyFactory,
    capsys: pytest.CaptureFixture[str],
    sync_between: bool,
) -> None:
    proxy: CountingProxy = counting_proxy(dav.url)
    book = make_book(dav, tmp_path, PEOPLE, url=proxy.url)
    assert book.sync(NOW) == 0
    [reminder] = ada_tasks(book)
    assert not reminder.done and reminder.due == "2026-11-22"
    audit_before = ada_in_audit(book, capsys, "2026-11-22T09:30")
    assert audit_before["last_contact"] == "2026-10-01"

    code, out, _ = run(book, capsys, "2026-11-22T10:00", "done", "Ada Lovelace")
    assert code == 0 and "marked done" in out
    assert [t.done for t in ada_tasks(book)] == [True]
    assert book.values("u-ada")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T09:00:00Z"
    if sync_between:  # the cycle after `done` records the touch in syncd's history
        assert book.sync("2026-11-22T10:30") == 0
        assert ada_in_audit(book, capsys, "2026-11-22T10:35")["last_contact"] == "2026-11-22"

    out = undo_done(book, capsys, "2026-11-22T11:00")
    assert "the reminder it closed is open again" in out
    assert book.values("u-ada")["X-SYNCD-LAST-CONTACT"] == "2026-10-01T12:00:00Z"
    [reopened] = ada_tasks(book)
    assert reopened.uid == reminder.uid and not reopened.done, "open again, as before `done`"
    assert reopened.due == "2026-11-22", "with its original DUE"
    assert reopened.todo.get("COMPLETED") is None and reopened.todo.get("PERCENT-COMPLETE") is None
    assert str(reopened.todo["STATUS"]) == "NEEDS-ACTION"

    # The next syncs write nothing: no 412 on today's reminder UID, no new reminder, nothing closed.
    for at in ("2026-11-22T11:30", "2026-11-22T12:00"):
        proxy.reset()
        assert book.sync(at) == 0
        assert proxy.writes() == [], [(r.method, r.path, r.status) for r in proxy.writes()]
        assert [r for r in proxy.snapshot() if r.status == 412] == []
    assert duplicates(book.tasks()) == []
    assert [(t.uid, t.done) for t in ada_tasks(book)] == [(reminder.uid, False)]

    # `today` lists what the phone sees; the audit counts no touch of the undone `done`.
    code, out, _ = run(book, capsys, "2026-11-22T12:05", "today", "--json")
    assert code == 0
    [ada] = [item for item in json.loads(out) if item["uid"] == "u-ada"]
    assert ada["due"] == "2026-11-22" and ada["last_contact"] == "2026-10-01T12:00:00Z"
    assert ada_in_audit(book, capsys, "2026-11-22T12:10") == audit_before

    # Ticked off on the phone later, the reminder is recorded as any completion is.
    assert complete(dav, ada_tasks(book)[0], "20261122T150000Z")
    assert book.sync("2026-11-22T16:00") == 0
    assert book.values("u-ada")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T15:00:00Z"


def test_undo_of_done_keeps_a_change_the_phone_made_since(
    radicale: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The closed reminder was edited on the phone after `done` (its due date moved): the undo opens it again
    conditionally on its ETag now, and the move stays."""
    book = make_book(radicale, tmp_path, PEOPLE)
    assert book.sync(NOW) == 0
    assert run(book, capsys, "2026-11-22T10:00", "done", "Ada Lovelace")[0] == 0
    [closed] = ada_tasks(book)
    assert closed.done and move_due(radicale, closed, "20261124")
    assert "the reminder it closed is open again" in undo_done(book, capsys, "2026-11-22T11:00")
    [reopened] = ada_tasks(book)
    assert not reopened.done and reopened.due == "2026-11-24"
    assert book.values("u-ada")["X-SYNCD-LAST-CONTACT"] == "2026-10-01T12:00:00Z"
    assert book.sync("2026-11-22T11:30") == 0
    assert [(t.uid, t.done, t.due) for t in ada_tasks(book)] == [(closed.uid, False, "2026-11-24")]
