"""The command line at its edges: output into a pipe that closes early, arguments that make no sense (dates in
the future or the past, intervals of an hour or a century), and a server that is down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from syncd.app.cli import EXIT_BROKEN_PIPE
from syncd.store.journal import WRITTEN, Journal
from tests.factories import contact_card
from tests.servers import DavServer


def syncd_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "syncd", *args]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SYNCD_")}
    return {**env, **extra}


# Output into a pipe that closes early -------------------------------------------------------------------


def test_history_into_head_stops_quietly(tmp_path: Path) -> None:
    """`syncd history | head -1` with far more output than a pipe holds: no "internal error", nothing on
    stderr, and the status a shell shows for a program ended by a closed pipe."""
    state = tmp_path / "state"
    journal = Journal.in_dir(state)
    for i in range(3000):
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
    argv = " ".join(syncd_argv("--config", str(cfg), "history"))
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
