"""The command line at its edges: output into a pipe that closes early, arguments that make no sense (dates in
the future or the past, intervals of an hour or a century), and a server that is down."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import syncd.dav.client
from syncd.app.cli import EXIT_BROKEN_PIPE, main
from syncd.app.localserver import free_port
from syncd.store.journal import WRITTEN, Journal
from tests.factories import contact_card
from tests.proxy import CountingProxy, ProxyFactory, Reset
from tests.servers import DavServer
from tests.world import card_values


def syncd_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "syncd", *args]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SYNCD_")}
    return {**env, **extra}


# Output into a pipe that closes early -------------------------------------------------------------------


def test_history_into_head_stops_quietly(tmp_path: Path) -> None:
    """`syncd history --limit 0 | head -1` with far more output than a pipe holds: no "internal error", nothing on
    stderr, and the status a shell shows for a program ended by a closed pipe."""
    state = tmp_path / "state"
    journal = Journal.in_dir(state)
    for i in range(1000):  # some 180 KB of output: more than a pipe holds
        entry = journal.intent(
            uid=f"u{i}",
            name=f"Person {i}",
            href=f"/c/{i}.vcf",
            reason="syncd set",
            etag=f'"{i}"',
            before={},
            after={"X-SYNCD-CIRCLE": "1"},
        )
        journal.outcome(entry, WRITTEN, f'"{i + 1}"')
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'state_dir = "{state}"\n', encoding="utf-8")
    argv = shlex.join(syncd_argv("--config", str(cfg), "history", "--limit", "0"))  # all 1000, not the newest 20
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {argv} | head -1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) == 1
    assert result.returncode == EXIT_BROKEN_PIPE == 141


@pytest.mark.parametrize("command", [["today"], ["today", "--json"], ["audit"]])
def test_output_into_a_closed_pipe_stops_quietly(radicale: DavServer, tmp_path: Path, command: list[str]) -> None:
    """The reader closes its end before syncd writes anything: syncd stops quietly, whatever the size."""
    ab_name, ab_url = radicale.make_addressbook()
    for i in range(3):
        radicale.put(f"{ab_url}p{i}.vcf", contact_card(f"pipe-{i}", f"Pia Pipe {i}", "1", None))
    cfg = radicale.config(tmp_path, contacts={"addressbooks": [ab_name]}, reminders={"task_list": f"P {tmp_path.name}"})
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read it
    try:
        result = subprocess.run(
            syncd_argv("--config", str(cfg), "--now", "2026-11-22T09:00", *command),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            env=clean_env(),
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == EXIT_BROKEN_PIPE


# Arguments that make no sense are refused before the server is asked --------------------------------------

NOW = "2026-11-22T10:00"  # Europe/Berlin, as the fixture's config says


@pytest.fixture
def proxied(radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory) -> tuple[Path, CountingProxy, str]:
    """A config whose server is a recording proxy in front of Radicale, with one tracked contact."""
    ab_name, ab_url = radicale.make_addressbook()
    radicale.put(ab_url + "d1.vcf", contact_card("date-1", "Dora Date", "1", "2026-11-01T09:00:00Z"))
    proxy = counting_proxy(radicale.url)
    cfg = radicale.config(
        tmp_path,
        server={"url": proxy.url},
        contacts={"addressbooks": [ab_name]},
        reminders={"task_list": f"D {tmp_path.name}"},
    )
    return cfg, proxy, ab_url


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["done", "date-1", "--on", "2026-12-22"], ["--on", "2026-12-22", "in the future"]),
        (["done", "date-1", "--on", "2026-11-22T11:30"], ["--on", "in the future"]),
        (["snooze", "date-1", "2026-11-01"], ["2026-11-01", "not after today (2026-11-22)"]),
        (["snooze", "date-1", "2026-11-22"], ["not after today"]),
        (["snooze", "date-1", "PT1H"], ["not after today"]),
        (["set", "date-1", "--interval", "PT1H"], ["--interval", "between 1 day and 10 years"]),
        (["set", "date-1", "--interval", "P100Y"], ["--interval", "between 1 day and 10 years"]),
        (["set", "date-1", "--interval", "30min"], ["--interval", "unknown unit 'min'"]),
    ],
)
def test_senseless_dates_and_intervals_are_refused_before_the_server_is_asked(
    proxied: tuple[Path, CountingProxy, str], radicale: DavServer, args: list[str], words: list[str]
) -> None:
    cfg, proxy, ab_url = proxied
    before = card_values(radicale, ab_url, "date-1")
    result = subprocess.run(
        syncd_argv("--config", str(cfg), "--now", NOW, *args),
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("syncd: "), result.stderr
    for word in words:
        assert word in lines[0]
    assert proxy.snapshot() == []  # refused before any request
    assert card_values(radicale, ab_url, "date-1") == before


def test_sensible_dates_and_intervals_are_taken(proxied: tuple[Path, CountingProxy, str], radicale: DavServer) -> None:
    """The bounds themselves: today as a date (its midnight has passed), tomorrow for a snooze, a day and ten
    years as an interval, and the short forms the config accepts too."""
    cfg, proxy, ab_url = proxied
    for args in (
        ["done", "date-1", "--on", "2026-11-22"],
        ["snooze", "date-1", "2026-11-23"],
        ["set", "date-1", "--interval", "1d"],
        ["set", "date-1", "--interval", "10y"],
    ):
        result = subprocess.run(
            syncd_argv("--config", str(cfg), "--now", NOW, *args),
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(),
        )
        assert result.returncode == 0, (args, result.stderr)
    values = card_values(radicale, ab_url, "date-1")
    assert values["X-SYNCD-LAST-CONTACT"] == "2026-11-21T23:00:00Z"
    assert values["X-SYNCD-SNOOZE"] == "2026-11-23"
    assert values["X-SYNCD-INTERVAL"] == "P10Y"
    assert proxy.snapshot()


# Lists from the environment ------------------------------------------------------------------------------


def test_a_list_key_from_the_environment(radicale: DavServer, tmp_path: Path) -> None:
    """`SYNCD_CONTACTS__ADDRESSBOOKS=Name` is a list of one name; a malformed list exits 78 naming the key
    and the variable, with the form it needs."""
    ab_name, ab_url = radicale.make_addressbook()
    radicale.put(ab_url + "e1.vcf", contact_card("env-1", "Emil Env", "1", None))
    cfg = radicale.config(tmp_path, reminders={"task_list": f"E {tmp_path.name}"})
    argv = syncd_argv("--config", str(cfg), "--now", NOW, "today", "--json")
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, env=clean_env(SYNCD_CONTACTS__ADDRESSBOOKS=ab_name)
    )
    assert result.returncode == 0, result.stderr
    assert [item["uid"] for item in json.loads(result.stdout)] == ["env-1"]
    for value in ("[" + ab_name, f'["{ab_name}"'):
        result = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, env=clean_env(SYNCD_CONTACTS__ADDRESSBOOKS=value)
        )
        assert result.returncode == 78
        line = result.stderr.strip()
        assert "\n" not in line and "internal error" not in line
        assert line.startswith("syncd: contacts.addressbooks: ")
        assert "$SYNCD_CONTACTS__ADDRESSBOOKS" in line and "a JSON list such as" in line


# A server that is down ----------------------------------------------------------------------------------


def test_an_interactive_command_asks_a_failing_server_once(
    radicale: DavServer,
    tmp_path: Path,
    counting_proxy: ProxyFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every connection is reset: `today`, `done` and `check` send each request once and exit 69 at once;
    `sync` (like the daemon) still retries the same request with backoff."""
    monkeypatch.setattr(syncd.dav.client, "RETRY_BACKOFF", 0.01)  # `sync`'s retries, without the wait
    proxy = counting_proxy(radicale.url, lambda request: Reset())
    cfg = radicale.config(tmp_path, server={"url": proxy.url}, reminders={"task_list": f"R {tmp_path.name}"})
    for args in (["today"], ["done", "someone"], ["check"]):
        before = len(proxy.snapshot())
        assert main(["--config", str(cfg), "--now", NOW, *args]) == 69
        assert "cannot reach" in capsys.readouterr().err
        asked = Counter((r.method, r.path) for r in proxy.snapshot()[before:])
        assert asked and max(asked.values()) == 1, (args, asked)
    before = len(proxy.snapshot())
    assert main(["--config", str(cfg), "--now", NOW, "sync"]) == 69
    asked = Counter((r.method, r.path) for r in proxy.snapshot()[before:])
    assert max(asked.values()) == 1 + syncd.dav.client.RETRIES


def test_today_gives_up_at_once_on_a_closed_port(tmp_path: Path) -> None:
    """Nothing listens on the server's port and syncd has never read it: exit 69 with the usual line, in less
    than half the time the retries' waits would add up to (7.5 s), interpreter start not counted."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[server]\nurl = "http://127.0.0.1:{free_port()}/"\n', encoding="utf-8"
    )
    started = time.monotonic()
    result = subprocess.run(
        syncd_argv("--config", str(cfg), "today"), capture_output=True, text=True, timeout=60, env=clean_env()
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 69
    assert result.stderr.count("\n") == 1 and "connection refused" in result.stderr
    assert "offline" not in result.stderr  # nothing known to show
    python_alone = time.monotonic()
    subprocess.run([sys.executable, "-c", "import syncd.app.cli"], check=True, timeout=60)
    startup = time.monotonic() - python_alone
    backoff = syncd.dav.client.RETRY_BACKOFF
    waits = sum(min(backoff * 2**i, 8.0) for i in range(syncd.dav.client.RETRIES))
    assert elapsed - startup < waits / 2, (elapsed, startup, waits)


def test_today_with_the_server_down_shows_the_last_known_list(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a sync, the server goes away: `today` prints the list as the last read left it (the same array
    for --json) and says on stderr, in one line, that it is offline; the exit status is 69 (server down)."""
    ab_name, ab_url = radicale.make_addressbook()
    for i, name in enumerate(["Olga Online", "Otto Offline", "Ora Old"]):
        radicale.put(f"{ab_url}o{i}.vcf", contact_card(f"off-{i}", name, "1", None))
    proxy = counting_proxy(radicale.url)
    cfg = radicale.config(
        tmp_path,
        server={"url": proxy.url},
        contacts={"addressbooks": [ab_name]},
        reminders={"task_list": f"O {tmp_path.name}", "daily_limit": 2},
    )
    assert main(["--config", str(cfg), "--now", NOW, "sync"]) == 0
    capsys.readouterr()
    assert main(["--config", str(cfg), "--now", NOW, "today", "--json"]) == 0
    online = json.loads(capsys.readouterr().out)
    assert len(online) == 2
    assert main(["--config", str(cfg), "--now", NOW, "today"]) == 0
    table = capsys.readouterr().out
    proxy.close()

    assert main(["--config", str(cfg), "--now", NOW, "today", "--json"]) == 69
    captured = capsys.readouterr()
    assert json.loads(captured.out) == online
    line = captured.err.strip()
    assert "\n" not in line and line.startswith("syncd: offline: ") and "connection refused" in line
    assert main(["--config", str(cfg), "--now", NOW, "today"]) == 69
    captured = capsys.readouterr()
    assert captured.out == table
    assert captured.err.startswith("syncd: offline: ")
