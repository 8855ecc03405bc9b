"""The change journal, `syncd history` / `--undo`, `sync --dry-run`, restoring X-SYNCD lines a foreign client
dropped, and recovering last-contact dates from completed reminders after the state dir is lost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from syncd.app.cli import main
from syncd.store.journal import INTERRUPTED, WRITTEN, ClosedReminder, Journal, xsyncd_diff
from tests.proxy import CountingProxy
from tests.servers import DavServer
from tests.world import Book, complete, make_book, non_xsyncd

PEOPLE = [
    ("j-ada", "Ada Lovelace", "1", "2026-10-01T12:00:00Z"),
    ("j-bob", "Bob Brown", "2", None),
    ("j-cyd", "Cyd Charisse", "3", "2026-11-20T12:00:00Z"),  # not due
]


def history(book: Book, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--config", str(book.cfg), "history", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# The journal file ------------------------------------------------------------------------------------


def test_journal_merges_outcomes_and_skips_torn_lines(tmp_path: Path) -> None:
    journal = Journal.in_dir(tmp_path)
    first = journal.intent(uid="u", name="U", href="h", reason="r", etag='"1"', before={}, after={"X-SYNCD-A": "1"})
    journal.outcome(first, WRITTEN, '"2"')
    with journal.path.open("ab") as f:
        f.write(b'{"id":"torn","at":"2026')  # a kill -9 in the middle of a line
    second = journal.intent(uid="u", name="U", href="h", reason="r", etag='"2"', before={"X-SYNCD-A": "1"}, after={})
    entries = journal.entries()
    assert [(e.id, e.outcome, e.etag_after) for e in entries] == [(first, WRITTEN, '"2"'), (second, INTERRUPTED, "")]
    assert journal.torn == 1
    assert entries[1].undo_updates() == {"X-SYNCD-A": "1"}
    assert entries[0].undo_updates() == {"X-SYNCD-A": None}
    assert journal.path.stat().st_mode & 0o777 == 0o600


def test_journal_rotates_and_history_reads_both_files(tmp_path: Path) -> None:
    """At max_bytes the journal becomes journal.1.jsonl (replacing the one before); entries read both, and an
    intent and its outcome stay together."""
    journal = Journal(tmp_path / "journal.jsonl", max_bytes=600)
    ids = []
    for i in range(9):
        entry_id = journal.intent(
            uid=f"u{i}", name="U", href="h", reason="r", etag=f'"{i}"', before={}, after={"X-SYNCD-A": str(i)}
        )
        journal.outcome(entry_id, WRITTEN, f'"{i + 1}"')
        ids.append(entry_id)
    assert journal.older.exists() and journal.older.stat().st_size >= 600
    kept = journal.entries()
    assert [e.id for e in kept] == ids[-len(kept) :] and 2 <= len(kept) < len(ids), "the oldest are dropped"
    assert all(e.outcome == WRITTEN for e in kept) and journal.torn == 0
    older = [json.loads(line)["id"] for line in journal.older.read_text().splitlines()]
    assert older and older[0] == kept[0].id and older.count(kept[0].id) == 2, "intent and outcome in one file"


def test_a_closed_reminder_is_recorded_with_the_card_write(tmp_path: Path) -> None:
    """`done` records the reminder it closed with its card write: its text while open, for undoing both."""
    journal = Journal.in_dir(tmp_path)
    first = journal.intent(uid="u", name="U", href="h", reason="done", etag='"1"', before={}, after={"X-SYNCD-A": "1"})
    journal.outcome(first, WRITTEN, '"2"')
    other = journal.intent(uid="v", name="V", href="i", reason="done", etag='"1"', before={}, after={"X-SYNCD-A": "1"})
    assert journal.latest("u") == first and journal.latest("v") == other and journal.latest("w") is None
    journal.closed_reminder(first, ClosedReminder("r-1", "http://x/r-1.ics", '"9"', "BEGIN:VCALENDAR\r\n"))
    by_id = {e.id: e for e in Journal.in_dir(tmp_path).entries()}
    assert by_id[first].reminder == ClosedReminder("r-1", "http://x/r-1.ics", '"9"', "BEGIN:VCALENDAR\r\n")
    assert by_id[first].outcome == WRITTEN and by_id[other].reminder is None
    assert by_id[first].as_json()["reminder"] == {"uid": "r-1", "href": "http://x/r-1.ics", "etag_after": '"9"'}


def test_xsyncd_diff_shows_only_syncd_lines() -> None:
    before = "BEGIN:VCARD\r\nUID:x\r\nX-SYNCD-CIRCLE:1\r\nX-SYNCD-SNOOZE:2026-01-01\r\nEND:VCARD\r\n"
    after = "BEGIN:VCARD\r\nUID:x\r\nX-SYNCD-CIRCLE:1\r\nX-SYNCD-SNOOZE:2026-02-01\r\nEND:VCARD\r\n"
    assert xsyncd_diff(before, after) == ["- X-SYNCD-SNOOZE:2026-01-01", "+ X-SYNCD-SNOOZE:2026-02-01"]


# history and undo against the real servers ---------------------------------------------------------------


def test_history_explains_and_undoes(dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = make_book(dav, tmp_path, PEOPLE)
    assert book.sync() == 0
    [ada] = [t for t in book.tasks() if t.contact == "j-ada"]
    assert complete(dav, ada, "20261122T101500Z")
    original = book.card_text("j-ada")
    assert book.sync("2026-11-22T12:00") == 0
    assert book.values("j-ada")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T10:15:00Z"

    code, out, _ = history(book, capsys, "Ada Lovelace", "--json")
    assert code == 0
    [entry] = json.loads(out)
    assert entry["reason"] == "reminder completed" and entry["outcome"] == "written"
    assert entry["changes"] == [
        {"property": "X-SYNCD-LAST-CONTACT", "before": "2026-10-01T12:00:00Z", "after": "2026-11-22T10:15:00Z"}
    ]
    assert entry["href"] == book.hrefs["j-ada"] and entry["etag_before"] and entry["etag_after"]
    code, out, _ = history(book, capsys)
    assert f"undo: syncd history --undo {entry['id'][:6]}\n" in out  # the short id; the full one works too
    assert "X-SYNCD-LAST-CONTACT: 2026-10-01T12:00:00Z → 2026-11-22T10:15:00Z" in out

    code, out, _ = history(book, capsys, "--undo", entry["id"])
    assert code == 0 and "undid" in out
    assert book.values("j-ada")["X-SYNCD-LAST-CONTACT"] == "2026-10-01T12:00:00Z"
    assert non_xsyncd(book.card_text("j-ada")) == non_xsyncd(original)
    # The undo is journaled too, and undoing the same change twice is refused (the card moved on).
    code, out, _ = history(book, capsys, "j-ada", "--json")
    assert [e["reason"] for e in json.loads(out)] == ["reminder completed", f"undo {entry['id']}"]
    code, _, err = history(book, capsys, "--undo", entry["id"])
    assert code == 65 and "not undone" in err
    code, _, err = history(book, capsys, "Nobody")
    assert code == 65 and "no change recorded" in err


# --dry-run ---------------------------------------------------------------------------------------------


def test_dry_run_prints_every_write_and_makes_none(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = CountingProxy(dav.url).start()
    try:
        book = make_book(dav, tmp_path, PEOPLE, url=proxy.url)
        capsys.readouterr()
        assert book.sync(NOW := "2026-11-22T09:00", "--dry-run") == 0
        out = capsys.readouterr().out
        assert proxy.writes() == [] and book.tasks() == []
        assert f"task list '{book.list_name}': create" in out
        assert out.count(": create (If-None-Match) — Reach out to") == 2  # Ada and Bob
        assert not (tmp_path / "state" / "journal.jsonl").exists()

        assert book.sync(NOW) == 0
        [ada] = [t for t in book.tasks() if t.contact == "j-ada"]
        assert complete(dav, ada, "20261122T101500Z")
        proxy.reset()
        capsys.readouterr()
        assert book.sync("2026-11-22T12:00", "--dry-run") == 0
        out = capsys.readouterr().out
        assert proxy.writes() == []
        assert "- X-SYNCD-LAST-CONTACT:2026-10-01T12:00:00Z" in out
        assert "+ X-SYNCD-LAST-CONTACT:2026-11-22T10:15:00Z" in out
        assert book.values("j-ada")["X-SYNCD-LAST-CONTACT"] == "2026-10-01T12:00:00Z"
        # The real sync then makes exactly that write (and the dry run did not consume the completion).
        assert book.sync("2026-11-22T12:00") == 0
        assert book.values("j-ada")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T10:15:00Z"
        proxy.reset()
        capsys.readouterr()
        assert book.sync("2026-11-22T12:05", "--dry-run") == 0
        assert "nothing to write" in capsys.readouterr().out
    finally:
        proxy.close()


# Repair --------------------------------------------------------------------------------------------------


def strip_xsyncd(text: str, note: str) -> str:
    """What a client that drops unknown properties writes back after the user edited the NOTE."""
    lines = [line for line in text.split("\r\n") if not line.upper().startswith("X-SYNCD-")]
    return "\r\n".join(line if not line.startswith("NOTE:") else f"NOTE:{note}" for line in lines)


def test_vanished_xsyncd_lines_are_restored(dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = make_book(dav, tmp_path, PEOPLE)
    assert book.sync() == 0
    before = book.values("j-cyd")
    r = dav.get(book.hrefs["j-cyd"])
    dav.put(book.hrefs["j-cyd"], strip_xsyncd(r.text, "Edited on the phone"), **{"If-Match": r.headers["ETag"]})
    assert book.values("j-cyd") == {}
    capsys.readouterr()
    assert book.sync("2026-11-22T12:00") == 0
    err = capsys.readouterr().err
    assert book.values("j-cyd") == before
    assert "NOTE:Edited on the phone" in book.card_text("j-cyd")
    assert "Cyd Charisse" in err and "every X-SYNCD line vanished after an edit elsewhere; restoring" in err
    _code, out, _ = history(book, capsys, "j-cyd", "--json")
    assert [e["reason"] for e in json.loads(out)] == ["restore: X-SYNCD lines vanished after an edit elsewhere"]
    # Removing only some lines (or `set --circle none`) is the user's choice: left alone.
    assert main(["--config", str(book.cfg), "set", "j-cyd", "--interval", "P10D"]) == 0
    r = dav.get(book.hrefs["j-cyd"])
    dav.put(book.hrefs["j-cyd"], r.text.replace("X-SYNCD-INTERVAL:P10D\r\n", ""), **{"If-Match": r.headers["ETag"]})
    assert book.sync("2026-11-22T12:10") == 0
    assert "X-SYNCD-INTERVAL" not in book.values("j-cyd") and book.values("j-cyd")["X-SYNCD-CIRCLE"] == "3"


def test_lost_state_dir_recovers_last_contact_from_completed_reminders(dav: DavServer, tmp_path: Path) -> None:
    book = make_book(dav, tmp_path, PEOPLE)
    assert book.sync() == 0
    found = {t.contact: t for t in book.tasks()}
    assert complete(dav, found["j-ada"], "20261122T101500Z")
    assert complete(dav, found["j-bob"], "20261122T111500Z")
    # Bob's card meanwhile got a later contact by hand; a foreign client dropped Ada's X-SYNCD lines.
    assert main(["--config", str(book.cfg), "done", "j-bob", "--on", "2026-11-23T08:00:00Z"]) == 0
    r = dav.get(book.hrefs["j-ada"])
    dav.put(book.hrefs["j-ada"], strip_xsyncd(r.text, "new note"), **{"If-Match": r.headers["ETag"]})
    shutil.rmtree(tmp_path / "state")  # the whole state dir is gone (journal and copies included)
    assert book.sync("2026-11-23T12:00") == 0
    assert book.values("j-ada")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T10:15:00Z"  # from the completed task
    assert book.values("j-bob")["X-SYNCD-LAST-CONTACT"] == "2026-11-23T08:00:00Z"  # never backwards
    assert len([t for t in book.tasks() if t.contact == "j-ada"]) == 1
