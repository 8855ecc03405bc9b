"""Messages in IMAP folders count as contact: through the command line against a real Dovecot (tests/mailserver.py)
and a real Radicale, with a recorder in front of Dovecot that proves syncd fetched no body and changed nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from syncd.app.cli import main
from syncd.config import MailConfig
from syncd.imap import mailbox
from syncd.store.state import State
from tests.factories import vcard
from tests.mailserver import PASSWORD, USER, Dovecot, Recorder, start_dovecot
from tests.servers import DavServer
from tests.world import card_values, cards_text, find_list, tasks_by_contact

SENT = "Sent Messages"
OLD = "X-SYNCD-LAST-CONTACT:2027-01-01T12:00:00Z"
EARLIER = "X-SYNCD-LAST-CONTACT:2026-06-01T12:00:00Z"
WRITES = re.compile(r"^(STORE|UID STORE|APPEND|EXPUNGE|UID EXPUNGE|COPY|UID COPY|MOVE|UID MOVE|SELECT|DELETE|CREATE)\b")


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    server = start_dovecot()
    yield server
    server.stop()


@pytest.fixture
def recorder(dovecot: Dovecot) -> Iterator[Recorder]:
    relay = Recorder(dovecot.port).start()
    yield relay
    relay.stop()


def message(date: str | None, *headers: str) -> bytes:
    lines = [f"Date: {date}"] if date is not None else []
    lines += [*headers, "Subject: a private subject", "Message-ID: <x@example.org>"]
    return ("\r\n".join(lines) + "\r\n\r\nA PRIVATE BODY\r\n").encode()


def syncd(config: Path, now: str, *args: str) -> int:
    return main(["--config", str(config), "--now", now, *args])


def setup(radicale: DavServer, tmp_path: Path, url: str, **mail: object) -> tuple[Path, str, str]:
    ab_name, ab_url = radicale.make_addressbook()
    people = {
        "alice": vcard("alice", "Alice Archer", "EMAIL;TYPE=work:alice@example.org", "X-SYNCD-CIRCLE:1", OLD),
        "bob": vcard("bob", "Bob Brown", "EMAIL:Bob@Example.org", "X-SYNCD-CIRCLE:1", OLD),
        "carol": vcard("carol", "Carol Chen", "EMAIL:carol@example.org", "X-SYNCD-CIRCLE:1", OLD),
        "dave": vcard("dave", "Dave Dunn", "EMAIL:dave@example.org", "X-SYNCD-CIRCLE:1", EARLIER),
        "erin": vcard("erin", "Erin Ede", "EMAIL:erin@example.org", "X-SYNCD-CIRCLE:1", OLD),
    }
    for uid, text in people.items():
        radicale.put(ab_url + f"{uid}.vcf", text)
    list_name = f"Keep in touch {tmp_path.name}"
    cfg = radicale.config(
        tmp_path,
        contacts={"addressbooks": [ab_name]},
        reminders={"task_list": list_name, "daily_limit": 10},
        mail={"url": url, "username": USER, "password": PASSWORD, **mail},
    )
    return cfg, ab_url, list_name


def last(radicale: DavServer, ab_url: str, uid: str) -> str:
    return card_values(radicale, ab_url, uid)["X-SYNCD-LAST-CONTACT"]


def assert_private(recorder: Recorder) -> None:
    commands = recorder.commands()
    fetches = [c for c in commands if c.upper().startswith("UID FETCH") or c.upper().startswith("FETCH")]
    for command in fetches:
        items = command.split(" ", 3)[3]
        assert items in (
            "(BODY.PEEK[HEADER.FIELDS (DATE TO CC BCC)])",
            "(BODY.PEEK[HEADER.FIELDS (DATE FROM TO CC BCC)])",
            "(INTERNALDATE)",
        ), command
    assert not [c for c in commands if WRITES.match(c.upper())], commands


def test_sent_mail_counts_as_contact(
    radicale: DavServer, dovecot: Dovecot, recorder: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, ab_url, list_name = setup(radicale, tmp_path, recorder.url, folders=["Sent", "Archive"])
    # 20 February: everyone is due and gets a reminder; the folder is empty.
    dovecot.append(SENT, message("Mon, 15 Feb 2027 10:00:00 +0000", "To: nobody@example.org"))
    assert syncd(cfg, "2027-02-20T09:00", "sync") == 0
    assert sorted(tasks_by_contact(radicale, find_list(radicale, list_name))) == [
        "alice",
        "bob",
        "carol",
        "dave",
        "erin",
    ]
    err = capsys.readouterr().err
    assert "no folder 'Archive'" in err

    dovecot.append(SENT, message("Mon, 1 Mar 2027 10:00:00 +0000", "To: Alice Archer <alice@example.org>"))
    dovecot.append(
        SENT,
        message(
            "Mon, 1 Mar 2027 11:00:00 +0100", "To: someone@example.org", "Cc: =?utf-8?q?B=C3=B6b?= <BOB@EXAMPLE.ORG>"
        ),
    )
    dovecot.append(SENT, message(None, "To: erin@example.org"))  # no Date: skipped
    dovecot.append(SENT, message("the day after tomorrow", "To: erin@example.org"))  # not a date: skipped
    dovecot.append(
        SENT, message("Sat, 1 Jan 2033 10:00:00 +0000", "Bcc: dave@example.org"), '"01-Mar-2027 12:00:00 +0000"'
    )
    dovecot.append(SENT, message("Mon, 1 Mar 2027 10:00:00 +0000", "To: ,,<<< @@ >", "Cc: =?bad?x?zz?="))
    dovecot.append(SENT, message("Mon, 1 Mar 2027 10:00:00 +0000", "From: carol@example.org", "To: me@example.org"))
    recorder.clear()
    assert syncd(cfg, "2027-03-02T09:00", "sync") == 0
    err = capsys.readouterr().err
    values = {uid: last(radicale, ab_url, uid) for uid in ("alice", "bob", "carol", "dave", "erin")}
    arrival = dovecot.arrivals(SENT)[4]  # Dovecot records its own clock for an INTERNALDATE ahead of it
    assert arrival < datetime(2027, 3, 2, tzinfo=UTC)
    assert values == {
        "alice": "2027-03-01T10:00:00Z",
        "bob": "2027-03-01T10:00:00Z",
        "carol": "2027-01-01T12:00:00Z",  # a message FROM her counts only with count_received
        "dave": arrival.strftime("%Y-%m-%dT%H:%M:%SZ"),  # a Date in the future (2033): its arrival
        "erin": "2027-01-01T12:00:00Z",
    }
    found = tasks_by_contact(radicale, find_list(radicale, list_name))
    status = {uid: str(next(iter(t[0][2].walk("VTODO")))["STATUS"]) for uid, t in found.items()}
    assert status == {
        "alice": "COMPLETED",
        "bob": "COMPLETED",
        "carol": "NEEDS-ACTION",
        "dave": "NEEDS-ACTION",  # the arrival is before the reminder was made
        "erin": "NEEDS-ACTION",
    }
    assert "1 message without a Date skipped" in err
    assert "1 message with a Date that is not a date skipped" in err
    assert "1 message without a readable address skipped" in err
    assert_private(recorder)
    assert any("BODY.PEEK[HEADER.FIELDS (DATE TO CC BCC)]" in c for c in recorder.commands())

    # Nothing new: nothing fetched, no folder even opened; no card written.
    before = cards_text(radicale, ab_url)
    recorder.clear()
    assert syncd(cfg, "2027-03-02T09:05", "sync") == 0
    commands = recorder.commands()
    assert not [c for c in commands if "FETCH" in c.upper() or c.upper().startswith(("EXAMINE", "UID SEARCH"))]
    assert any(c.upper().startswith("STATUS") for c in commands)
    assert cards_text(radicale, ab_url) == before

    # A later message the same day as the one recorded: the card is not written again (once a day).
    dovecot.append(SENT, message("Mon, 1 Mar 2027 18:00:00 +0000", "To: alice@example.org"))
    assert syncd(cfg, "2027-03-02T09:10", "sync") == 0
    assert cards_text(radicale, ab_url) == before
    # The next day's message moves it forward.
    dovecot.append(SENT, message("Tue, 2 Mar 2027 08:00:00 +0000", "To: alice@example.org"))
    assert syncd(cfg, "2027-03-02T09:15", "sync") == 0
    assert last(radicale, ab_url, "alice") == "2027-03-02T08:00:00Z"

    # count_received: the folder is read afresh, From included (without it From is never fetched), and Carol's
    # message counts.
    text = cfg.read_text()
    cfg.write_text(text.replace("[mail]", "[mail]\ncount_received = true"))
    recorder.clear()
    assert syncd(cfg, "2027-03-02T09:20", "sync") == 0
    assert last(radicale, ab_url, "carol") == "2027-03-01T10:00:00Z"
    assert any("HEADER.FIELDS (DATE FROM TO CC BCC)" in c for c in recorder.commands())
    assert_private(recorder)


def test_new_uidvalidity_reads_the_folder_afresh(
    radicale: DavServer, dovecot: Dovecot, recorder: Recorder, tmp_path: Path
) -> None:
    cfg, ab_url, _ = setup(radicale, tmp_path, recorder.url)
    dovecot.append(SENT, message("Mon, 1 Mar 2027 10:00:00 +0000", "To: alice@example.org"))
    dovecot.append(SENT, message("Mon, 1 Mar 2027 10:00:00 +0000", "To: someone@example.org"))
    assert syncd(cfg, "2027-03-02T09:00", "sync") == 0
    assert last(radicale, ab_url, "alice") == "2027-03-01T10:00:00Z"
    assert any(c.startswith("LIST") for c in recorder.commands())  # "Sent" is the folder marked \\Sent
    # The next cycle asks STATUS of the folder found, nothing else.
    recorder.clear()
    assert syncd(cfg, "2027-03-02T09:05", "sync") == 0
    sent = [c.split(" ", 1)[0].upper() for c in recorder.commands()]
    assert sent == ["CAPABILITY", "LOGIN", "STATUS", "LOGOUT"], recorder.commands()
    before = dovecot.uidvalidity(SENT)
    conn = dovecot.connect()
    assert conn.delete(f'"{SENT}"')[0] == "OK"
    conn.logout()
    dovecot.append(SENT, message("Mon, 1 Mar 2027 10:00:00 +0000", "To: bob@example.org"))  # UID 1 again
    assert dovecot.uidvalidity(SENT) != before
    assert syncd(cfg, "2027-03-02T10:00", "sync") == 0
    assert last(radicale, ab_url, "bob") == "2027-03-01T10:00:00Z"
    assert_private(recorder)


def test_first_scan_reaches_back_one_longest_interval(
    radicale: DavServer, dovecot: Dovecot, recorder: Recorder, tmp_path: Path
) -> None:
    cfg, ab_url, _ = setup(radicale, tmp_path, recorder.url)
    # Everyone is in circle 1 (14 days): a message from January is not fetched.
    dovecot.append(
        SENT, message("Fri, 1 Jan 2027 10:00:00 +0000", "To: erin@example.org"), '"01-Jan-2026 10:00:00 +0000"'
    )
    dovecot.append(SENT, message("Mon, 1 Mar 2027 10:00:00 +0000", "To: alice@example.org"))
    assert syncd(cfg, "2027-03-02T09:00", "sync") == 0
    commands = recorder.commands()
    assert any(re.match(r"UID SEARCH SENTSINCE 15-Feb-2027$", c) for c in commands), commands
    fetches = [c for c in commands if c.startswith("UID FETCH")]
    assert fetches and all(c.split()[2] == "2" for c in fetches), fetches
    assert last(radicale, ab_url, "erin") == "2027-01-01T12:00:00Z"
    assert last(radicale, ab_url, "alice") == "2027-03-01T10:00:00Z"


def test_mail_server_down_is_one_warning_and_exit_69(
    radicale: DavServer, dovecot: Dovecot, recorder: Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _ab_url, list_name = setup(radicale, tmp_path, recorder.url)
    recorder.down = True
    assert syncd(cfg, "2027-02-20T09:00", "sync") == 69
    err = capsys.readouterr().err
    assert err.count("mail:") >= 1 and "contacts and reminders were synced" in err
    assert len(tasks_by_contact(radicale, find_list(radicale, list_name))) == 5  # the DAV side was written
    recorder.down = False
    assert syncd(cfg, "2027-02-20T09:05", "sync") == 0


def test_server_without_special_use(radicale: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = start_dovecot(special_use=False)
    try:
        server.append(SENT, message("Mon, 1 Mar 2027 10:00:00 +0000", "To: alice@example.org"))
        cfg, ab_url, _ = setup(radicale, tmp_path, server.url)
        assert syncd(cfg, "2027-03-02T09:00", "sync") == 0
        assert "no folder 'Sent' on the mail server (and no folder is marked \\Sent)" in capsys.readouterr().err
        assert last(radicale, ab_url, "alice") == "2027-01-01T12:00:00Z"
        # Named as the server names it, the folder is read.
        cfg.write_text(cfg.read_text().replace("[mail]", f'[mail]\nfolders = ["{SENT}"]'))
        assert syncd(cfg, "2027-03-02T09:05", "sync") == 0
        assert last(radicale, ab_url, "alice") == "2027-03-01T10:00:00Z"
    finally:
        server.stop()


def test_a_folder_of_hundreds_reads_every_message_exactly(dovecot: Dovecot, recorder: Recorder, tmp_path: Path) -> None:
    """Hundreds of answers, many cut by the end of what the connection has buffered, common and odd forms mixed,
    one dated in the future (its INTERNALDATE is asked after the FETCH: the FETCH was read to its end, no
    further): every message is read, as each says."""
    conn = dovecot.connect()
    conn.create(f'"{SENT}"')
    expected: dict[str, str] = {}
    for i in range(400):
        to = f"person{i % 37}.with.a.rather.long.name@example.org"
        day = 1 + i % 27
        zone = ["+0000", "+0100", "-0230", "+1400"][i % 4]
        if i % 5 == 0:  # folded, and an encoded word: the full reader
            headers = [
                f"Date: Mon, {day} Feb 2027 10:00:00 {zone}",
                f"To: =?utf-8?q?P=C3=A9r?= <{to}>,",
                "\tx@example.org",
            ]
        elif i % 5 == 1:  # To before Date, a Cc
            headers = [f"To: P <{to}>", f"Date: {day} Feb 2027 10:00:00 {zone}", "CC: x@example.org"]
        else:
            headers = [f"Date: Mon, {day} Feb 2027 10:00:00 {zone}", f"To: {to}"]
        typ, data = conn.append(f'"{SENT}"', None, '"01-Mar-2027 10:00:00 +0000"', message(None, *headers))
        assert typ == "OK", data
        offset = (int(zone[1:3]) * 60 + int(zone[3:])) * (1 if zone[0] == "+" else -1)
        at = datetime(2027, 2, day, 10, tzinfo=UTC) - timedelta(minutes=offset)
        for address in (to, "x@example.org") if i % 5 in (0, 1) else (to,):
            expected[address] = max(expected.get(address, ""), at.isoformat())
    typ, data = conn.append(
        f'"{SENT}"',
        None,
        '"01-Mar-2027 12:00:00 +0000"',
        message("Sat, 1 Jan 2033 10:00:00 +0000", "To: z@example.org"),
    )
    assert typ == "OK", data
    conn.logout()
    expected["z@example.org"] = dovecot.arrivals(SENT)[-1].isoformat()  # what Dovecot kept as its arrival
    config = MailConfig(url=recorder.url, username=USER, password=PASSWORD)
    state = State.in_dir(tmp_path)
    try:
        now = datetime(2027, 3, 2, 9, tzinfo=UTC)
        found = mailbox.scan(config, PASSWORD, state, date(2027, 1, 1), now)
        assert (found.fetched, found.counted, found.skipped) == (401, 401, {})
        assert state.mail_addresses(mailbox.account_key(config), "to") == expected
    finally:
        state.close()
    assert [c.split(" ", 3)[3] for c in recorder.commands() if c.startswith("UID FETCH")] == [
        "(BODY.PEEK[HEADER.FIELDS (DATE TO CC BCC)])",
        "(INTERNALDATE)",
    ]
    assert_private(recorder)
