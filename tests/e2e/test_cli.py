"""The command line as a new user runs it: check, set, done, snooze, exit codes, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from syncd.app.cli import main
from syncd.app.config_file import load_config
from syncd.app.localserver import free_port
from syncd.app.wiring import open_session
from syncd.core.xsyncd import xsyncd_values
from syncd.engine.reading import Reader
from tests.factories import contact_card
from tests.proxy import ProxyFactory, Respond, when
from tests.servers import DavServer
from tests.world import card_values


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def book(dav: DavServer, tmp_path: Path) -> tuple[DavServer, str, Path]:
    ab_name, ab_url = dav.make_addressbook()
    dav.put(ab_url + "p1.vcf", contact_card("cli-1", "Paula Park", None, None))
    dav.put(ab_url + "p2.vcf", contact_card("cli-2", "Sam Stone", "2", None))
    dav.put(ab_url + "p3.vcf", contact_card("cli-3", "Sam Stone", None, None))  # an ambiguous name
    cfg = dav.config(
        tmp_path,
        contacts={"addressbooks": [ab_name]},
        reminders={"task_list": f"CLI {tmp_path.name}"},
    )
    return dav, ab_url, cfg


def test_set_done_snooze(book: tuple[DavServer, str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    dav, ab_url, cfg = book
    before = {href: dav.get(href).text for href in dav.list_hrefs(ab_url)}
    assert main(["--config", str(cfg), "set", "paula park", "--circle", "1", "--interval", "3w"]) == 0
    assert "Paula Park: circle 1, interval P3W" in capsys.readouterr().out
    assert card_values(dav, ab_url, "cli-1") == {"X-SYNCD-CIRCLE": "1", "X-SYNCD-INTERVAL": "P3W"}
    # Setting it again writes nothing.
    assert main(["--config", str(cfg), "set", "cli-1", "--circle", "1"]) == 0
    assert "nothing written" in capsys.readouterr().out

    assert main(["--config", str(cfg), "--now", "2026-11-22T10:00:00+01:00", "done", "cli-1"]) == 0
    assert card_values(dav, ab_url, "cli-1")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T09:00:00Z"
    # An earlier date never moves it backwards.
    assert main(["--config", str(cfg), "done", "cli-1", "--on", "2026-01-01"]) == 0
    assert card_values(dav, ab_url, "cli-1")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T09:00:00Z"

    assert main(["--config", str(cfg), "--now", "2026-11-22T10:00", "snooze", "cli-1", "2w"]) == 0
    assert card_values(dav, ab_url, "cli-1")["X-SYNCD-SNOOZE"] == "2026-12-06"
    assert main(["--config", str(cfg), "--now", "2026-11-22T10:00", "snooze", "cli-1", "2027-01-15"]) == 0
    assert card_values(dav, ab_url, "cli-1")["X-SYNCD-SNOOZE"] == "2027-01-15"

    assert main(["--config", str(cfg), "set", "cli-1", "--circle", "none", "--interval", "none"]) == 0
    assert card_values(dav, ab_url, "cli-1") == {
        "X-SYNCD-CIRCLE": "none",
        "X-SYNCD-LAST-CONTACT": "2026-11-22T09:00:00Z",
        "X-SYNCD-SNOOZE": "2027-01-15",
    }
    # The other cards were not touched at all.
    for href, text in before.items():
        if "cli-1" not in text:
            assert dav.get(href).text == text


def test_snooze_moves_the_open_reminder(book: tuple[DavServer, str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Snoozing a contact whose reminder is open and due moves that reminder to the snooze date (DUE, DTSTART
    and its alarm), conditionally; the next sync neither recreates nor snoozes anything."""
    dav, ab_url, cfg = book
    now = "2026-11-22T10:00"
    assert main(["--config", str(cfg), "--now", now, "sync"]) == 0
    settings = load_config(str(cfg)).settings
    engine = open_session(settings)
    try:
        world = Reader(engine).read(create_task_list=False)
        task = world.open_reminders()["cli-2"]
        assert task.due == date(2026, 11, 22)
    finally:
        engine.close()
    assert main(["--config", str(cfg), "--now", now, "snooze", "cli-2", "2026-12-06"]) == 0
    out = capsys.readouterr().out
    assert "not due before 2026-12-06" in out and "open reminder (due 2026-11-22) now falls due then" in out
    moved = dav.get(task.href).text
    vtodo = moved.split("BEGIN:VTODO")[1].split("END:VTODO")[0]
    dated = [line for line in vtodo.splitlines() if line.startswith(("DUE", "DTSTART", "TRIGGER"))]
    assert dated and all("20261206" in line for line in dated), dated
    assert task.text.count("BEGIN:VALARM") == moved.count("BEGIN:VALARM")
    assert card_values(dav, ab_url, "cli-2")["X-SYNCD-SNOOZE"] == "2026-12-06"
    assert main(["--config", str(cfg), "--now", now, "today"]) == 0
    assert "Sam Stone" not in capsys.readouterr().out.split("next sync")[0]
    assert main(["--config", str(cfg), "--now", "2026-11-22T11:00", "sync"]) == 0
    after = open_session(settings)
    try:
        world = Reader(after).read(create_task_list=False)
        assert [t.due for t in world.tasks if t.contact_uid == "cli-2"] == [date(2026, 12, 6)]
    finally:
        after.close()


def test_snooze_when_the_reminder_cannot_be_moved(
    dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server refuses the reminder's PUT: the snooze is in the card, the reminder keeps its date, and the
    command fails (69) with one line naming the contact, what was done, what was refused and why."""
    ab_name, ab_url = dav.make_addressbook()
    dav.put(ab_url + "p2.vcf", contact_card("cli-2", "Sam Stone", "2", None))
    proxy = counting_proxy(dav.url, when(Respond(403), method="PUT", path=".ics", skip=1))
    cfg = dav.config(
        tmp_path,
        server={"url": proxy.url},
        contacts={"addressbooks": [ab_name]},
        reminders={"task_list": f"CLI {tmp_path.name}"},
    )
    assert main(["--config", str(cfg), "--now", "2026-11-22T10:00", "sync"]) == 0
    capsys.readouterr()
    assert main(["--config", str(cfg), "--now", "2026-11-22T10:00", "snooze", "cli-2", "2026-12-06"]) == 69
    captured = capsys.readouterr()
    assert "falls due then" not in captured.out
    last = captured.err.strip().splitlines()[-1]
    assert "Sam Stone: not due before 2026-12-06" in last and "refused to move the open reminder" in last
    assert "HTTP 403" in last
    assert card_values(dav, ab_url, "cli-2")["X-SYNCD-SNOOZE"] == "2026-12-06"
    assert [r.status for r in proxy.snapshot() if r.method == "PUT" and r.path.endswith(".ics")] == [201, 403]


def test_unknown_and_ambiguous_contacts_exit_65(book: tuple[DavServer, str, Path]) -> None:
    _, _, cfg = book
    result = run_cli("--config", str(cfg), "done", "Nobody Here")
    assert result.returncode == 65
    assert "no contact named" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("--config", str(cfg), "done", "sam stone")
    assert result.returncode == 65
    assert "cli-2" in result.stderr and "cli-3" in result.stderr  # lists the candidates
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_reports_what_it_found(book: tuple[DavServer, str, Path]) -> None:
    dav, _, cfg = book
    result = run_cli("--config", str(cfg), "check")
    assert result.returncode == 0, result.stderr
    assert "3 contacts, 1 tracked" in result.stdout
    assert "not found: the first sync creates it" in result.stdout
    if dav.password:
        assert dav.password not in result.stdout + result.stderr


def test_wrong_password_exits_77_without_leaking_it(radicale: DavServer, tmp_path: Path) -> None:
    cfg = radicale.config(tmp_path, server={"password": "wrong-Secret-123"})
    result = run_cli("--config", str(cfg), "check")
    assert result.returncode == 77
    assert "401" in result.stderr and "wrong-Secret-123" not in result.stdout + result.stderr
    result = run_cli("--config", str(cfg), "--verbose", "sync")
    assert result.returncode == 77
    assert "wrong-Secret-123" not in result.stdout + result.stderr


def test_unreachable_server_exits_69(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[server]\nurl = "http://127.0.0.1:{free_port()}/"\n', encoding="utf-8"
    )
    result = run_cli("--config", str(cfg), "sync")
    assert result.returncode == 69
    assert "connection refused" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_bad_config_exits_78_naming_key_and_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[reminders]\ndaily_limit = "many"\n', encoding="utf-8")
    result = run_cli("--config", str(cfg), "sync")
    assert result.returncode == 78
    assert "reminders.daily_limit" in result.stderr and str(cfg) in result.stderr


def test_usage_errors_exit_2() -> None:
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("set").returncode == 2
    result = run_cli("--help")
    assert result.returncode == 0 and "reach out" in result.stdout.lower()


def test_broken_card_is_skipped_named_and_never_written(xandikos: DavServer, tmp_path: Path) -> None:
    # Radicale refuses such cards on upload (400); Xandikos stores what it is given, as many servers do.
    dav = xandikos
    ab_name, ab_url = dav.make_addressbook()
    dav.put(ab_url + "ok.vcf", contact_card("b-ok", "Olga Ok", "1", None))
    no_uid = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:No Uid\r\nX-SYNCD-CIRCLE:1\r\nEND:VCARD\r\n"
    dav.put(ab_url + "nouid.vcf", no_uid)
    served = dav.get(ab_url + "nouid.vcf").text
    cfg = dav.config(tmp_path, contacts={"addressbooks": [ab_name]}, reminders={"task_list": f"B {tmp_path.name}"})
    result = run_cli("--config", str(cfg), "--now", "2026-11-22T09:00", "sync")
    assert result.returncode == 0, result.stderr
    assert "nouid.vcf" in result.stderr and "no UID" in result.stderr
    assert dav.get(ab_url + "nouid.vcf").text == served
    assert xsyncd_values(served) == {"X-SYNCD-CIRCLE": "1"}
