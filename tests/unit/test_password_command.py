"""`password_command`: the password printed by a program (argv, no shell), with a timeout; every failure a
config error naming the key, and never the program's output."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import syncd.config
from syncd.app.config_file import load_config
from syncd.config import ServerConfig, run_password_command
from syncd.errors import ConfigError

SECRET = "pw-From-A-Command-7731"


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No syncd variable or systemd credential of the machine, and no answer remembered from another test."""
    for name in list(os.environ):
        if name.upper().startswith("SYNCD_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    monkeypatch.setattr(syncd.config, "_COMMAND_PASSWORDS", {})
    yield


def script(tmp_path: Path, body: str, name: str = "secret.py") -> list[str]:
    """A small Python program; returns the argv that runs it."""
    path = tmp_path / name
    path.write_text("import sys, time, pathlib\n" + body, encoding="utf-8")
    return [sys.executable, str(path)]


def toml_list(argv: list[str]) -> str:
    return "[" + ", ".join(f"'{arg}'" for arg in argv) + "]"


def config(tmp_path: Path, argv: list[str], extra: str = "") -> ServerConfig:
    path = tmp_path / "config.toml"
    path.write_text(f"[server]\npassword_command = {toml_list(argv)}\n{extra}", encoding="utf-8")
    path.chmod(0o600)
    return load_config(str(path)).settings.server


def test_first_line_of_stdout_is_the_password(tmp_path: Path) -> None:
    argv = script(tmp_path, f"print({SECRET!r}); print('login: alice'); sys.stderr.write('noise\\n')")
    assert config(tmp_path, argv).resolve_password() == SECRET


def test_runs_once_per_process(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    argv = script(tmp_path, f"pathlib.Path({str(runs)!r}).open('a').write('x'); print({SECRET!r})")
    server = config(tmp_path, argv)
    assert [server.resolve_password() for _ in range(3)] == [SECRET] * 3
    assert config(tmp_path, argv).resolve_password() == SECRET  # the config read again (a reload)
    assert runs.read_text() == "x"


def test_precedence_password_then_file_then_command_then_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "password").write_text("from-credential\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    argv = script(tmp_path, "print('from-command')")
    secret_file = tmp_path / "password"
    secret_file.write_text("from-file\n")
    assert config(tmp_path, argv).resolve_password() == "from-command"  # over the credential
    assert config(tmp_path, argv, f"password_file = '{secret_file}'\n").resolve_password() == "from-file"
    assert config(tmp_path, argv, "password = 'inline'\n").resolve_password() == "inline"
    monkeypatch.setenv("SYNCD_SERVER__PASSWORD", "from-env")
    assert config(tmp_path, argv).resolve_password() == "from-env"


def test_from_the_environment_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = script(tmp_path, f"print({SECRET!r})")
    monkeypatch.setenv("SYNCD_SERVER__PASSWORD_COMMAND", str(argv).replace("'", '"'))
    path = tmp_path / "config.toml"
    path.write_text("[server]\n", encoding="utf-8")
    assert load_config(str(path)).settings.server.resolve_password() == SECRET


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (f"sys.stderr.write({SECRET!r}); print({SECRET!r}); sys.exit(3)", "exited 3"),
        ("print()", "printed no password"),
        (f"sys.stdout.buffer.write(b'\\xff' + {SECRET!r}.encode())", "not UTF-8"),
        (f"import os, signal; print({SECRET!r}, flush=True); os.kill(os.getpid(), signal.SIGKILL)", "signal 9"),
    ],
)
def test_a_failing_command_is_a_config_error_without_its_output(tmp_path: Path, body: str, reason: str) -> None:
    argv = script(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        config(tmp_path, argv).resolve_password()
    message = str(info.value)
    assert message.startswith("server.password_command: ") and reason in message
    assert SECRET not in message
    assert info.value.exit_code == 78


def test_the_key_named_is_the_one_given(tmp_path: Path) -> None:
    """An account's table names its own key (`accounts.home.password_command`)."""
    with pytest.raises(ConfigError, match=r"^accounts\.home\.password_command: .*exited 1"):
        config(tmp_path, script(tmp_path, "sys.exit(1)")).resolve_password("accounts.home")


def test_a_missing_program(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server\.password_command: cannot run 'no-such-pass-7': command not found"):
        run_password_command(["no-such-pass-7", "show"], 5, "server.password_command")


def test_a_program_that_is_not_executable(tmp_path: Path) -> None:
    program = tmp_path / "pw"
    program.write_text("#!/bin/sh\necho x\n")
    with pytest.raises(ConfigError, match=r"cannot run .*: Permission denied"):
        run_password_command([str(program)], 5, "server.password_command")


def test_a_hanging_command_is_stopped_at_its_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    argv = script(tmp_path, f"import os; pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid())); time.sleep(60)")
    server = config(tmp_path, argv, "password_timeout = 0.5\n")
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"server\.password_command: .* did not finish within 0\.5 s and was stopped"):
        server.resolve_password()
    assert time.monotonic() - started < 10
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # stopped and reaped, not left running
        os.kill(pid, 0)


@pytest.mark.parametrize("value", ["'pass show dav/alice'", "[]", "['']", "[1, 2]"])
def test_not_an_argv_list(tmp_path: Path, value: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[server]\npassword_command = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"server\.password_command.*list of strings"):
        load_config(str(path))


def test_timeout_bounds(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[server]\npassword_timeout = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"server\.password_timeout"):
        load_config(str(path))
