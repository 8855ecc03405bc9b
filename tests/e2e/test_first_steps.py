"""A new user's first steps on the command line, against a real Radicale: no config yet, starting from the
example, and what the one-shot commands print (their answer on stdout, no log noise on stderr)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import wcwidth

from tests.factories import contact_card
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
        [sys.executable, "-m", "syncd", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,  # no terminal: nothing is asked
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


def test_check_with_the_environment_alone(radicale: DavServer, home: Path, tmp_path: Path) -> None:
    """No file, but the server in SYNCD_* variables (a container, say): check says both and passes."""
    env = clean_env(
        home,
        SYNCD_SERVER__URL=radicale.url,
        SYNCD_SERVER__USERNAME=radicale.username,
        SYNCD_SERVER__PASSWORD=radicale.password,
        SYNCD_STATE_DIR=str(tmp_path / "state"),
    )
    result = syncd("check", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("config     no config file found")
    assert "           using the environment (SYNCD_*) and the defaults: OK\n" in result.stdout
    assert "reached; principal" in result.stdout


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


@pytest.fixture
def one_contact(radicale: DavServer, home: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A config for a real Radicale with one address book holding one contact in circle 1, and the
    environment to run syncd in."""
    name, url = radicale.make_addressbook()
    radicale.put(url + "ada.vcf", contact_card("first-ada", "Ada Lovelace", "1", None))
    cfg = radicale.config(tmp_path, contacts={"addressbooks": [name]}, reminders={"task_list": f"F {tmp_path.name}"})
    return cfg, clean_env(home)


def test_one_shot_commands_print_their_answer_and_no_log_lines(one_contact: tuple[Path, dict[str, str]]) -> None:
    cfg, env = one_contact
    for args, answer in [
        (("set", "Ada Lovelace", "--interval", "3w"), "Ada Lovelace: interval P3W\n"),
        (("done", "Ada Lovelace", "--on", "2026-11-20"), "Ada Lovelace: last contact"),
        (("snooze", "Ada Lovelace", "2027-01-15"), "Ada Lovelace: not due before 2027-01-15\n"),
    ]:
        result = syncd("--config", str(cfg), "--now", "2026-11-22T10:00", *args, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(answer), result.stdout
        assert result.stderr == "", result.stderr  # the card write is the answer, not an INFO line besides it


def test_dry_run_says_what_would_be_written(one_contact: tuple[Path, dict[str, str]]) -> None:
    cfg, env = one_contact
    result = syncd("--config", str(cfg), "--now", "2026-11-22T10:00", "sync", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    assert "would create a reminder: reach out to Ada Lovelace (circle 1)" in result.stderr
    assert "INFO    reminder: reach out" not in result.stderr
    [summary] = [line for line in result.stderr.splitlines() if "sync (dry run: nothing written)" in line]
    assert "1 contact read (1 tracked)" in summary and "1 would be created" in summary, summary
    assert "0 cards would be written" in summary and ", 1 created" not in summary, summary
    assert "task " in result.stdout and "create (If-None-Match)" in result.stdout
    # The real cycle says it did.
    result = syncd("--config", str(cfg), "--now", "2026-11-22T10:00", "sync", env=env)
    assert result.returncode == 0, result.stderr
    assert "reminder: reach out to Ada Lovelace (circle 1)" in result.stderr
    assert "would create" not in result.stderr and "would be" not in result.stderr
    assert "1 contact read (1 tracked), 1 due today, 1 created" in result.stderr


def test_check_counts_in_words(one_contact: tuple[Path, dict[str, str]]) -> None:
    cfg, env = one_contact
    result = syncd("--config", str(cfg), "check", env=env)
    assert result.returncode == 0, result.stderr
    assert ": 1 contact, 1 tracked;" in result.stdout and "1 contacts" not in result.stdout


def test_report_lets_no_matplotlib_line_through(one_contact: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    """matplotlib warns when it has no writable cache directory (a service's home, say) and when it builds
    its font cache; none of that reaches the user."""
    cfg, env = one_contact
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("", encoding="utf-8")
    env = {**env, "MPLCONFIGDIR": str(not_a_dir / "matplotlib")}
    page = tmp_path / "report.html"
    result = syncd("--config", str(cfg), "--now", "2026-11-22T10:00", "report", "--html", str(page), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {page}\n"
    assert result.stderr == ""
    verbose = syncd("--config", str(cfg), "--verbose", "report", "--html", str(page), env=env)
    assert verbose.returncode == 0 and "matplotlib" in verbose.stderr.lower()  # still there for --verbose


def test_today_lines_up_wide_names_and_gives_phone_and_email_apart(
    radicale: DavServer, home: Path, tmp_path: Path
) -> None:
    name, url = radicale.make_addressbook()
    radicale.put(url + "ada.vcf", contact_card("w-ada", "Ada Lovelace", "1", None))
    radicale.put(url + "lee.vcf", contact_card("w-lee", "小龙 李", "1", None))
    radicale.put(url + "emoji.vcf", contact_card("w-zoe", "Zoë 👋🏽", "1", None))
    cfg = radicale.config(tmp_path, contacts={"addressbooks": [name]}, reminders={"task_list": f"W {tmp_path.name}"})
    env = clean_env(home)
    result = syncd("--config", str(cfg), "--now", "2026-11-22T10:00", "today", "--json", env=env)
    assert result.returncode == 0, result.stderr
    items = {item["uid"]: item for item in json.loads(result.stdout)}
    assert items["w-ada"]["phone"] == "+49 151 0000000" and items["w-ada"]["email"] == "ada@example.org"
    assert items["w-lee"]["email"] == "小龙@example.org"
    assert all("reach" not in item for item in items.values())

    result = syncd("--config", str(cfg), "--now", "2026-11-22T10:00", "today", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0]
    assert header.split() == ["NAME", "CIRCLE", "DUE", "LAST", "CONTACT", "PHONE", "EMAIL"]
    rows = [line for line in lines[2:] if "2026-11-22 (new)" in line]
    assert len(rows) == 3
    for column in ("DUE", "PHONE"):
        start = wcwidth.width(header[: header.index(column)])
        value = "2026-11-22" if column == "DUE" else "+49"
        assert {wcwidth.width(row[: row.index(value)]) for row in rows} == {start}, result.stdout


def test_dates_in_the_users_zone_and_history_newest_first(one_contact: tuple[Path, dict[str, str]]) -> None:
    """The config's zone is Europe/Berlin: a day given is shown as that day (the card keeps UTC); history lists
    the newest change first, in local time, with short ids that --undo takes."""
    cfg, env = one_contact

    def run(*args: str) -> str:
        result = syncd("--config", str(cfg), "--now", "2026-11-22T10:00", *args, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert run("set", "Ada Lovelace", "--interval", "3w") == "Ada Lovelace: interval P3W\n"
    assert run("done", "Ada Lovelace", "--on", "2026-11-20") == "Ada Lovelace: last contact 2026-11-20\n"
    assert run("snooze", "Ada Lovelace", "2027-01-15") == "Ada Lovelace: not due before 2027-01-15\n"
    assert run("done", "Ada Lovelace") == "Ada Lovelace: last contact 2026-11-22 10:00\n"

    changes = json.loads(run("history", "--json"))  # for scripts: the journal's order, UTC, full ids
    assert [c["reason"] for c in changes] == ["syncd set", "syncd done", "syncd snooze", "syncd done"]
    assert [c["changes"][0]["after"] for c in changes[1::2]] == ["2026-11-19T23:00:00Z", "2026-11-22T09:00:00Z"]
    assert all(c["at"].endswith("Z") and len(c["id"]) == 10 for c in changes)

    out = run("history")
    heads = [line for line in out.splitlines() if line and not line.startswith(" ")]
    zone = ZoneInfo("Europe/Berlin")
    expected = [
        f"{datetime.fromisoformat(c['at']).astimezone(zone):%Y-%m-%d %H:%M}  {c['id'][:6]}  Ada Lovelace (first-ada)"
        f"  {c['reason']}"
        for c in reversed(changes)
    ]
    assert heads == expected, out
    assert f"undo: syncd history --undo {changes[-1]['id'][:6]}\n" in out

    out = run("history", "--limit", "2")
    assert [line.split("  ")[-1] for line in out.splitlines() if line and not line.startswith(" ")][:2] == [
        "syncd done",
        "syncd snooze",
    ]
    assert out.endswith("2 older changes not shown (--limit N shows more, --limit 0 all).\n")

    assert "undid" in run("history", "--undo", changes[-1]["id"][:6])
    last = json.loads(run("history", "--json", "--limit", "1"))
    assert [c["reason"] for c in last] == [f"undo {changes[-1]['id']}"]
    assert last[0]["changes"][0]["after"] == "2026-11-19T23:00:00Z"
