"""Writes the server refuses (HTTP 403 with a DAV:error precondition, as Cyrus answers) are never reported as
done: a one-shot command exits 69 naming the contact and the server's reason; `history` says "refused" in
words and JSON alike and offers no undo; `sync` makes every other write, then says what was refused and exits
69. Cyrus cannot run here: the proxy answers the chosen PUT in front of a real Radicale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.app.cli import main
from tests.proxy import ProxyFactory, Record, Request, Respond, when
from tests.servers import DavServer
from tests.world import Book, complete, completions_recorded, make_book, people

XML = (("Content-Type", "application/xml; charset=utf-8"),)
BAD_CARD = (
    b'<?xml version="1.0"?><D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
    b"<C:valid-address-data/></D:error>"
)
SAME_UID = (
    b'<?xml version="1.0"?><D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    b"<C:unique-scheduling-object-resource/></D:error>"
)
NOW = "2026-11-22T09:00"


def cli(book: Book, *args: str, now: str = NOW) -> int:
    return main(["--config", str(book.cfg), "--now", now, *args])


def put_statuses(records: list[Record], suffix: str) -> list[int]:
    return [r.status for r in records if r.method == "PUT" and r.path.endswith(suffix)]


def test_set_refused_exits_69_and_history_says_refused(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = counting_proxy(radicale.url, when(Respond(403, BAD_CARD, XML), method="PUT", path="/yuki.vcf"))
    book = make_book(
        radicale, tmp_path, [("yuki", "Yuki Tanaka", None, None), ("sam", "Sam Stone", "1", None)], url=proxy.url
    )
    assert cli(book, "set", "Yuki Tanaka", "--circle", "2") == 69
    captured = capsys.readouterr()
    assert "nothing written" not in captured.out and "circle 2" not in captured.out
    last = captured.err.strip().splitlines()[-1]
    assert "Yuki Tanaka" in last and "valid-address-data" in last and "refused" in last
    assert book.values("yuki") == {}
    assert put_statuses(proxy.snapshot(), "/yuki.vcf") == [403], "a refusal is not sent again"

    # A write the server accepts, for contrast: written, with its undo.
    assert cli(book, "set", "Sam Stone", "--circle", "2") == 0
    capsys.readouterr()

    assert cli(book, "history") == 0
    human = capsys.readouterr().out
    blocks = human.strip().split("\n\n")
    assert len(blocks) == 2
    [yuki] = [b for b in blocks if "Yuki Tanaka" in b]
    [sam] = [b for b in blocks if "Sam Stone" in b]
    assert "refused by the server: valid-address-data" in yuki
    assert "undo" not in yuki and "did not answer" not in yuki and "written" not in yuki
    assert "Sam Stone" in sam and "undo: syncd history --undo" in sam

    assert cli(book, "history", "--json") == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert sorted(entries) == ["Sam Stone", "Yuki Tanaka"]
    refused, written = entries["Yuki Tanaka"], entries["Sam Stone"]
    assert refused["outcome"] == "refused" and "valid-address-data" in refused["detail"]
    assert refused["undo"] is None and written["outcome"] == "written" and written["undo"]

    assert cli(book, "history", "--undo", refused["id"]) == 65
    assert "refused by the server" in capsys.readouterr().err
    assert book.values("yuki") == {}


def test_a_412_naming_a_condition_is_a_refusal_not_a_race(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Xandikos refuses a card with 412 and a DAV:error (the status of a lost race, too): syncd reports the
    refusal after one PUT instead of re-reading and sending the card four more times."""
    xandikos_says = (
        b'<ns0:error xmlns:ns0="DAV:" xmlns:ns1="urn:ietf:params:xml:ns:carddav"><ns1:valid-address-data />'
        b"<ns0:responsedescription>Not a valid vCard file</ns0:responsedescription></ns0:error>"
    )
    answer = Respond(412, xandikos_says, (("Content-Type", 'text/xml; encoding="utf-8"'),))
    proxy = counting_proxy(radicale.url, when(answer, method="PUT", path="/yuki.vcf"))
    book = make_book(radicale, tmp_path, [("yuki", "Yuki Tanaka", None, None)], url=proxy.url)
    assert cli(book, "set", "Yuki Tanaka", "--circle", "2") == 69
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "Yuki Tanaka" in last and "valid-address-data; Not a valid vCard file (HTTP 412)" in last
    assert put_statuses(proxy.snapshot(), "/yuki.vcf") == [412]
    assert book.values("yuki") == {}


def test_done_whose_reminder_close_is_refused_exits_69(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """`done` writes the card, then the server refuses to mark the open reminder done: exit 69, one line
    naming the contact and the reason; the card keeps the contact it recorded."""
    proxy = counting_proxy(radicale.url)
    book = make_book(radicale, tmp_path, [("yuki", "Yuki Tanaka", "1", None)], url=proxy.url)
    assert book.sync() == 0
    assert [t.contact for t in book.tasks()] == ["yuki"]
    capsys.readouterr()
    text = (("Content-Type", "text/plain"),)
    proxy.fault = when(Respond(403, b"Calendar data refused\n", text), method="PUT", body=b"X-SYNCD-CONTACT:yuki")
    assert cli(book, "done", "Yuki Tanaka", now="2026-11-22T10:00") == 69
    captured = capsys.readouterr()
    last = captured.err.strip().splitlines()[-1]
    assert "Yuki Tanaka" in last and "Calendar data refused" in last and "reminder" in last
    assert "marked done" not in captured.out
    assert book.values("yuki")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T09:00:00Z"
    assert [t.done for t in book.tasks()] == [False]


def test_sync_writes_the_others_when_one_card_is_refused(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = counting_proxy(radicale.url)
    book = make_book(radicale, tmp_path, people(8, "r"), url=proxy.url)
    assert book.sync() == 0
    opened = book.tasks()
    assert len(opened) == 3
    for task in opened:
        assert complete(radicale, task, "20261122T101500Z")
    refused_uid = opened[0].contact
    proxy.fault = when(Respond(403, BAD_CARD, XML), method="PUT", path=f"/{refused_uid}.vcf")
    proxy.reset()
    capsys.readouterr()

    assert book.sync("2026-11-22T12:00") == 69
    err = capsys.readouterr().err
    summary = next(line for line in err.splitlines() if "sync: " in line and "contacts read" in line)
    assert "1 card write refused by the server" in summary
    last = err.strip().splitlines()[-1]
    name = next(p[1] for p in people(8, "r") if p[0] == refused_uid)
    assert name in last and "valid-address-data" in last
    # The refused card is as it was; the other completions are in their cards; new reminders were created.
    assert book.values(refused_uid).get("X-SYNCD-LAST-CONTACT") != "2026-11-22T10:15:00Z"
    for task in opened[1:]:
        assert book.values(task.contact)["X-SYNCD-LAST-CONTACT"] == "2026-11-22T10:15:00Z"
    assert put_statuses(proxy.snapshot(), f"/{refused_uid}.vcf") == [403]
    created = put_statuses(proxy.snapshot(), ".ics")
    assert 201 in created and 403 not in created, "the reminders after the refused card were created"

    # Once the server takes it, the completion is recorded: nothing was lost.
    proxy.fault = None
    assert book.sync("2026-11-22T12:30") == 0
    assert book.values(refused_uid)["X-SYNCD-LAST-CONTACT"] == "2026-11-22T10:15:00Z"
    assert completions_recorded(book) == []


def test_sync_writes_the_others_when_one_reminder_is_refused(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first reminder PUT is refused (Cyrus: a UID already used in another calendar of the account): the
    other reminders are still created, the summary and the exit status say so, and the next sync creates it
    (the refused reminder is not taken for one the user deleted, so the contact is not snoozed)."""
    refused: list[str] = []

    def refuse_first(request: Request) -> Respond:
        refused.append(request.body.split(b"X-SYNCD-CONTACT:", 1)[1].split(b"\r\n", 1)[0].decode())
        return Respond(403, SAME_UID, XML)

    proxy = counting_proxy(radicale.url, when(refuse_first, method="PUT", path=".ics", times=1))
    book = make_book(radicale, tmp_path, people(8, "u"), url=proxy.url)
    assert book.sync() == 69
    err = capsys.readouterr().err
    summary = next(line for line in err.splitlines() if "sync: " in line and "contacts read" in line)
    assert "2 created" in summary and "1 reminder write refused by the server" in summary
    [uid] = refused
    name = next(p[1] for p in people(8, "u") if p[0] == uid)
    last = err.strip().splitlines()[-1]
    assert name in last and "unique-scheduling-object-resource" in last
    assert put_statuses(proxy.snapshot(), ".ics") == [403, 201, 201]
    assert len(book.tasks()) == 2 and uid not in [t.contact for t in book.tasks()]

    assert book.sync("2026-11-22T09:30") == 0
    assert uid in [t.contact for t in book.tasks() if not t.done]
    assert "X-SYNCD-SNOOZE" not in book.values(uid), "a refused reminder is not one the user deleted"


def test_sync_with_a_refused_withdrawal_goes_on_and_says_so(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A contact no longer tracked has its open reminder withdrawn (DELETE If-Match); the server refuses:
    the reminder stays, the rest of the cycle runs (a reminder ticked off frees a slot, which the cycle fills
    after the withdrawal), the summary and the exit status say so."""
    proxy = counting_proxy(radicale.url)
    book = make_book(radicale, tmp_path, people(4, "w"), url=proxy.url)
    assert book.sync() == 0
    untracked, ticked = book.tasks()[:2]
    assert cli(book, "set", untracked.contact, "--circle", "none") == 0
    assert complete(radicale, ticked, "20261122T091000Z")
    proxy.fault = when(Respond(403, b"Deleting is not allowed here\n"), method="DELETE")
    proxy.reset()
    capsys.readouterr()
    assert book.sync("2026-11-22T09:30") == 69
    err = capsys.readouterr().err
    summary = next(line for line in err.splitlines() if "sync: " in line and "contacts read" in line)
    assert "1 created" in summary and "1 reminder write refused by the server" in summary
    assert "Deleting is not allowed here" in err.strip().splitlines()[-1]
    writes = [(r.method, r.status) for r in proxy.writes()]
    assert writes.index(("DELETE", 403)) < writes.index(("PUT", 201)), writes
    assert untracked.contact in [t.contact for t in book.tasks() if not t.done]

    proxy.fault = None
    assert book.sync("2026-11-22T10:00") == 0
    assert untracked.contact not in [t.contact for t in book.tasks()]
