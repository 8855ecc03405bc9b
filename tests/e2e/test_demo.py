"""`syncd demo --once` as a new user runs it: a local Radicale, sample contacts, one cycle, today's list."""

from __future__ import annotations

import os
import subprocess
import sys


def test_demo_once() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "syncd", "--now", "2026-11-22T08:00", "demo", "--once"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "TZ": "Europe/Berlin"},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Loaded 300 sample contacts" in out
    assert "5 created" in out  # the default daily limit
    assert "NAME" in out and "CIRCLE" in out and "LAST CONTACT" in out
    assert "Keep in touch" in out and "username" in out and "password" in out
    assert "Your network: Of your 300 contacts, " in out and "touches a day; the daily limit is 5" in out
    assert 'in the calendar "Keep in touch — agenda"' in out
    # Exactly five people in the table.
    table = out.split("NAME", 1)[1].split("\n\n", 1)[0].strip().splitlines()[2:]
    assert len(table) == 5, table
