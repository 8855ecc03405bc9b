"""The local state file: damage is repaired from the server, an unusable state_dir is a clear config error."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.errors import ConfigError
from syncd.state import State


def test_a_damaged_file_is_started_afresh(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    state = State(path)
    try:
        state.remember("r1", "c1", "http://x/r1.ics", "2026-11-22", "open", False)
        assert set(state.reminders()) == {"r1"}
    finally:
        state.close()
    assert "is damaged" in caplog.text


def test_an_unusable_state_file_names_state_dir_and_deletes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.mkdir()  # cannot be opened as a database (as a read-only or foreign-owned one cannot)
    (path / "keep").write_text("mine")
    with pytest.raises(ConfigError) as caught:
        State(path)
    assert str(caught.value).startswith("state_dir: cannot use") and str(path) in str(caught.value)
    assert (path / "keep").read_text() == "mine"
