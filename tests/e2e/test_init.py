"""`syncd init` against real Radicale and Xandikos: the config it writes (0600, and a 0600 password file beside it
for a password it was given) passes `check` and `sync` as it is; what it refuses (no --url without a terminal,
an existing file, a wrong password) writes nothing; on a terminal it asks, and lists the address books to choose
from."""

from __future__ import annotations

import os
import pty
import re
import select
import stat
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.app.cli import main
from tests.factories import contact_card
from tests.servers import DavServer


@pytest.fixture
def clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No syncd variable set; config and state under tmp_path."""
    for name in list(os.environ):
        if name.upper().startswith("SYNCD_") or name in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    yield tmp_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def task_uids(dav: DavServer, name: str) -> list[str]:
    """The UIDs of the tasks in the calendar with this display name (found through the calendar home)."""
    from syncd.config import ServerConfig
    from syncd.dav.client import DavClient
    from syncd.dav.discovery import discover, find_calendar

    with DavClient(username=dav.username, password=dav.password) as client:
        account = discover(client, ServerConfig(url=dav.url, username=dav.username))
        calendar = find_calendar(account, name)
    assert calendar is not None, name
    return [dav.get(href).text.split("UID:", 1)[1].split("\r\n", 1)[0] for href in dav.list_hrefs(calendar.url)]


def test_flags_write_a_private_config_that_check_and_sync_take_as_it_is(
    dav: DavServer, clean: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen, chosen_url = dav.make_addressbook()
    other, _ = dav.make_addressbook()
    dav.put(chosen_url + "ada.vcf", contact_card(f"ada-{uuid.uuid4().hex[:6]}", "Ada Lovelace", "1", None))
    task_list = f"Touch {uuid.uuid4().hex[:8]}"
    cfg = clean / "conf" / "config.toml"
    args = ["--config", str(cfg), "init", "--url", dav.url, "--addressbook", chosen, "--task-list", task_list]
    args += ["--timezone", "America/New_York"]
    if dav.username:
        args += ["--username", dav.username]
        monkeypatch.setenv("SYNCD_SERVER__PASSWORD", dav.password)
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"config     {cfg}: OK" in out  # init ran check on what it wrote
    assert mode(cfg) == 0o600
    written = cfg.read_bytes()
    data = tomllib.loads(written.decode())
    assert data["server"]["url"] == dav.url
    assert data["contacts"]["addressbooks"] == [chosen]
    assert data["reminders"]["task_list"] == task_list
    assert data["schedule"]["timezone"] == "America/New_York"
    password = cfg.parent / "password"
    if dav.username:
        assert data["server"]["username"] == dav.username
        assert data["server"]["password_file"] == str(password)
        assert mode(password) == 0o600 and password.read_text().strip() == dav.password
        assert dav.password not in written.decode() + out
    else:
        assert "password_file" not in data["server"] and not password.exists()

    monkeypatch.delenv("SYNCD_SERVER__PASSWORD", raising=False)  # the files alone must do
    assert main(["--config", str(cfg), "check"]) == 0
    out = capsys.readouterr().out
    assert "1 contact, 1 tracked" in out
    assert f"'{other}'" in out and "not selected" in out
    assert main(["--config", str(cfg), "sync"]) == 0
    assert len(task_uids(dav, task_list)) == 1  # Ada's reminder, in the task list init named
    assert cfg.read_bytes() == written


def test_a_password_file_given_is_named_not_copied(
    radicale: DavServer, clean: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = clean / "secret"
    secret.write_text(radicale.password + "\n")
    secret.chmod(0o600)
    cfg = clean / "config.toml"
    assert main(["--config", str(cfg), "init", "--url", radicale.url, "--username", radicale.username,
                 "--password-file", str(secret), "--timezone", "UTC"]) == 0  # fmt: skip
    assert tomllib.loads(cfg.read_text())["server"]["password_file"] == str(secret)
    assert not (clean / "password").exists()
    assert main(["--config", str(cfg), "check"]) == 0


def test_a_password_command_is_written_as_the_program_to_run(
    radicale: DavServer, clean: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = clean / "secret store"
    secret.write_text(radicale.password + "\n")
    cfg = clean / "config.toml"
    command = f"cat '{secret}'"
    assert main(["--config", str(cfg), "init", "--url", radicale.url, "--username", radicale.username,
                 "--password-command", command, "--timezone", "UTC"]) == 0  # fmt: skip
    server = tomllib.loads(cfg.read_text())["server"]
    assert server["password_command"] == ["cat", str(secret)]
    assert "password_file" not in server and not (clean / "password").exists()
    assert radicale.password not in cfg.read_text()
    assert main(["--config", str(cfg), "sync"]) == 0


def test_without_config_flag_it_writes_where_syncd_looks(
    xandikos: DavServer, clean: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--url", xandikos.url]) == 0
    cfg = clean / "xdg" / "syncd" / "config.toml"
    assert mode(cfg) == 0o600
    assert main(["check"]) == 0  # found by the lookup, unchanged
    assert f"config     {cfg}: OK" in capsys.readouterr().out


def test_no_url_without_a_terminal_is_a_usage_error(clean: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = clean / "config.toml"
    assert main(["--config", str(cfg), "init", "--username", "alice"]) == 2
    assert "--url" in capsys.readouterr().err
    assert not cfg.exists()
    assert main(["--config", str(cfg), "init", "--url", "dav.example.org"]) == 2
    assert "not an http:// or https:// URL" in capsys.readouterr().err
    assert main(["--config", str(cfg), "init", "--url", "https://dav.example.org/", "--timezone", "Mars/Base"]) == 2
    assert "not an IANA time zone" in capsys.readouterr().err
    assert not cfg.exists()


def test_an_existing_config_is_replaced_only_with_force(
    xandikos: DavServer, clean: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = clean / "config.toml"
    cfg.write_text("# mine\n")
    assert main(["--config", str(cfg), "init", "--url", xandikos.url]) == 73
    assert "--force" in capsys.readouterr().err
    assert cfg.read_text() == "# mine\n"
    assert main(["--config", str(cfg), "init", "--url", xandikos.url, "--force"]) == 0
    assert tomllib.loads(cfg.read_text())["server"]["url"] == xandikos.url
    assert mode(cfg) == 0o600


def test_a_wrong_password_writes_nothing_and_exits_77(
    radicale: DavServer, clean: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNCD_SERVER__PASSWORD", "wrong-Secret-123")
    cfg = clean / "config.toml"
    assert main(["--config", str(cfg), "init", "--url", radicale.url, "--username", radicale.username]) == 77
    assert "wrong-Secret-123" not in "".join(capsys.readouterr())
    assert not cfg.exists() and not (clean / "password").exists()


class Terminal:
    """syncd run on a pseudo-terminal (its controlling terminal: getpass reads there), driven by its prompts."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: nothing of pytest's may run here
            try:
                os.execve(sys.executable, [sys.executable, "-m", "syncd", *args], env)
            finally:
                os._exit(127)
        self.pid, self.fd, self.seen = pid, fd, ""

    def expect(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.seen)
            if found is not None:
                self.seen = self.seen[found.end() :]
                return found
            left = deadline - time.monotonic()
            assert left > 0, f"waited for {pattern!r}; the terminal shows:\n{self.seen}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                assert chunk, f"syncd ended before {pattern!r}; the terminal shows:\n{self.seen}"
                self.seen += chunk.decode("utf-8", "replace")

    def send(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def finish(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                self.seen += chunk.decode("utf-8", "replace")
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"syncd did not end; the terminal shows:\n{self.seen}")


def test_on_a_terminal_it_asks_and_lets_the_user_choose_address_books(radicale: DavServer, tmp_path: Path) -> None:
    first, _ = radicale.make_addressbook()
    second, _ = radicale.make_addressbook()
    radicale.make_addressbook()  # not chosen
    task_list = f"Asked {uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SYNCD_")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg"), XDG_STATE_HOME=str(tmp_path / "state"), TERM="dumb")
    cfg = tmp_path / "here" / "config.toml"
    term = Terminal(["--config", str(cfg), "init"], env)
    term.expect(r"Server URL .*: ")
    term.send(radicale.url)
    term.expect(r"User name[^:]*: ")
    term.send(radicale.username)
    term.expect(r"Password for alice: ")
    term.send(radicale.password)
    term.expect(r"Time zone \[[^\]]+\]: ")
    term.send("Europe/Lisbon")
    listing = term.expect(r"(?s)Address books on the server:\r?\n(.*?)Which ones[^:]*: ").group(1)
    numbers = {m.group(2): m.group(1) for m in re.finditer(r"(\d+)\. '([^']+)'", listing)}
    term.send(f"{numbers[second]}, {numbers[first]}")
    term.expect(r"Task list for the reminders[^:]*: ")
    term.send(task_list)
    assert term.finish() == 0, term.seen
    assert radicale.password not in term.seen  # getpass did not echo it
    data = tomllib.loads(cfg.read_text())
    assert data["server"] == {
        "url": radicale.url,
        "username": radicale.username,
        "password_file": str(cfg.parent / "password"),
    }
    assert data["contacts"]["addressbooks"] == [second, first]
    assert data["reminders"]["task_list"] == task_list
    assert data["schedule"]["timezone"] == "Europe/Lisbon"
    assert mode(cfg) == 0o600 and mode(cfg.parent / "password") == 0o600
    assert "reached; principal" in term.seen  # the check that follows
