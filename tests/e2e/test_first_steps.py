"""A new user's first steps on the command line, against a real Radicale: no config yet, starting from the
example, and what the one-shot commands print (their answer on stdout, no log noise on stderr)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import DavServer


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user with no syncd config anywhere (and no syncd variable set)."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SYNCD_")}
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY", "JOURNAL_STREAM"):
        env.pop(name, None)
    env["HOME"] = str(home)
    env.update(extra)
    return env


def syncd(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args], capture_output=True, text=True, timeout=120, env=env, cwd=cwd
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    if Path("/etc/syncd/config.toml").is_file():
        pytest.skip("this machine has /etc/syncd/config.toml")
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_check_without_a_config_says_where_it_looked_and_what_to_do(home: Path) -> None:
    result = syncd("check", env=clean_env(home))
    assert result.returncode == 78
    assert "OK" not in result.stdout  # nothing was OK
    lines = result.stdout.splitlines()
    assert lines[0].startswith("config     no config file found")
    places = [line.strip() for line in lines[1:5]]
    assert places == [
        "--config PATH (not given)",
        "$SYNCD_CONFIG (not set)",
        f"{home / '.config' / 'syncd' / 'config.toml'} (no such file)",
        "/etc/syncd/config.toml (no such file)",
    ]
    advice = "mkdir -p ~/.config/syncd && syncd init --example > ~/.config/syncd/config.toml"
    assert advice in result.stdout
    [error] = result.stderr.splitlines()  # one line, and it says the same, not "server.url ... missing"
    assert error.startswith("syncd: no config file found") and advice in error and "server.url" not in error
    # Any command that needs the server says so too.
    result = syncd("today", env=clean_env(home))
    assert result.returncode == 78 and advice in result.stderr


def test_the_example_as_copied_loads_and_checks(radicale: DavServer, home: Path, tmp_path: Path) -> None:
    """Follow the advice: the example goes where syncd looks; with only the server's url, user name and
    password set (here from the environment), `syncd check` passes against a real server."""
    env = clean_env(home)
    example = syncd("init", "--example", env=env)
    assert example.returncode == 0 and example.stderr == ""
    target = home / ".config" / "syncd" / "config.toml"
    target.parent.mkdir(parents=True)
    target.write_text(example.stdout, encoding="utf-8")

    # As it is: it loads and validates; only the made-up server cannot be reached.
    state = tmp_path / "state"
    as_is = syncd("check", env={**env, "SYNCD_SERVER__TIMEOUT": "2", "SYNCD_STATE_DIR": str(state)})
    assert f"config     {target}: OK" in as_is.stdout, as_is.stdout + as_is.stderr
    assert as_is.returncode == 69, as_is.stderr  # dav.example.org: not reachable, not a config error

    server = {
        "SYNCD_SERVER__URL": radicale.url,
        "SYNCD_SERVER__USERNAME": radicale.username,
        "SYNCD_SERVER__PASSWORD": radicale.password,
        "SYNCD_STATE_DIR": str(state),
    }
    result = syncd("check", env={**env, **server})
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"config     {target}: OK" in result.stdout
    assert "reached; principal" in result.stdout
    assert radicale.password not in result.stdout + result.stderr


def test_init_without_example_is_a_usage_error(home: Path) -> None:
    result = syncd("init", env=clean_env(home))
    assert result.returncode == 2
    assert "syncd init --example" in result.stderr
    assert not (home / ".config").exists()  # nothing written
