"""`server.auth` through the command line, against SabreDAV, which answers Digest only (as Baïkal does by default):
"auto" and "digest" sync; "basic" exits 77 with one line that says the server asks for Digest and names the key;
a wrong password under Digest exits 77 too, and no password is ever printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.app.cli import main
from tests.factories import contact_card
from tests.servers import DavServer
from tests.world import find_list, tasks_by_contact


def configured(dav: DavServer, tmp_path: Path, **server: str) -> tuple[Path, str]:
    ab_name, ab_url = dav.make_addressbook()
    dav.put(ab_url + "a1.vcf", contact_card("auth-1", "Abe Auth", "1", "2026-10-01T12:00:00Z"))
    list_name = f"Auth {tmp_path.name}"
    cfg = dav.config(
        tmp_path, server=dict(server), contacts={"addressbooks": [ab_name]}, reminders={"task_list": list_name}
    )
    return cfg, list_name


@pytest.mark.parametrize("auth", ["auto", "digest"])
def test_digest_server_syncs(
    sabredav: DavServer, tmp_path: Path, auth: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, list_name = configured(sabredav, tmp_path, auth=auth)
    assert main(["--config", str(cfg), "--now", "2026-11-22T09:00", "sync"]) == 0
    assert list(tasks_by_contact(sabredav, find_list(sabredav, list_name))) == ["auth-1"]
    capsys.readouterr()
    assert main(["--config", str(cfg), "--now", "2026-11-22T09:05", "today", "--json"]) == 0
    assert [item["uid"] for item in json.loads(capsys.readouterr().out)] == ["auth-1"]


def test_basic_against_a_digest_server_exits_77_naming_server_auth(
    sabredav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _ = configured(sabredav, tmp_path, auth="basic")
    assert main(["--config", str(cfg), "--now", "2026-11-22T09:00", "sync"]) == 77
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert "HTTP 401" in line and "asks for Digest" in line and 'server.auth = "auto"' in line, line
    assert sabredav.password not in captured.out + captured.err


@pytest.mark.parametrize("auth", ["auto", "digest"])
def test_wrong_password_under_digest_exits_77(
    sabredav: DavServer, tmp_path: Path, auth: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _ = configured(sabredav, tmp_path, auth=auth, password="wrong-Secret-123")
    assert main(["--config", str(cfg), "--now", "2026-11-22T09:00", "sync"]) == 77
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert "refused user 'alice' (HTTP 401): check server.username and the password" in line, line
    assert "wrong-Secret-123" not in captured.out + captured.err
