"""The local state file: damage is repaired from the server, an unusable state_dir is a clear config error."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.errors import ConfigError
from syncd.store.state import State, recheck


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


def test_damage_inside_the_file_is_found_by_the_check_after_a_failed_cycle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A process checks a state file once (`PRAGMA quick_check` reads all of it); after a failed cycle
    (`recheck`) the next open checks again, and a file damaged inside, not only in its header, is started
    afresh."""
    path = tmp_path / "state.sqlite3"
    state = State(path)
    try:
        with state.transaction():
            for i in range(2000):
                state.remember(f"r{i}", f"c{i}", f"http://x/r{i}.ics" + "x" * 200, "2026-11-22", "open", False)
        state.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        state.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(3 * page, len(data) - page, page):  # scribble over every page but the first ones
        data[offset + 100 : offset + 300] = b"\xff" * 200
    path.write_bytes(bytes(data))
    recheck()
    state = State(path)
    try:
        assert state.reminders() == {}, "started afresh"
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


def test_a_version_1_file_gains_touch_sources_and_notes_and_keeps_its_touches(tmp_path: Path) -> None:
    """A state file of schema version 1 (touches without a source, no notes table) is brought up to date when
    opened: its touches stay, each without a source until one is recorded."""
    import sqlite3

    from syncd.core.contacts import parse_instant
    from syncd.core.notes import Note

    path = tmp_path / "state.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE touches (contact_uid TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (contact_uid, at));"
        "INSERT INTO touches VALUES ('c1', '2026-11-01T10:00:00Z');"
        "PRAGMA user_version = 1;"
    )
    db.close()
    state = State(path)
    try:
        assert state.db.execute("PRAGMA user_version").fetchone()[0] == 2
        assert state.touches() == [("c1", "2026-11-01T10:00:00Z")]
        assert state.touch_sources() == {}
        with state.transaction():
            state.remember_sourced_touches([("c1", "2026-11-01T10:00:00Z", "meeting")])
            state.remember_sourced_touches([("c1", "2026-11-01T10:00:00Z", "mail")])  # the first one known stays
        assert state.touch_sources() == {("c1", "2026-11-01T10:00:00Z"): "meeting"}
        when = parse_instant("2026-11-02T09:00:00Z")
        assert when is not None
        with state.transaction():
            state.remember_notes([Note("r1", "c1", when, "Lisbon", "reminder")])
        assert state.notes() == {"r1": Note("r1", "c1", when, "Lisbon", "reminder")}
    finally:
        state.close()
