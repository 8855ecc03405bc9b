"""What syncd keeps in `state_dir` (cached cards with their e-mail addresses and notes, the change journal) is
readable by its owner only, whatever the umask: the folder syncd creates is 0700, every file in it 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.app.cli import main
from syncd.store.journal import Journal
from syncd.store.state import State
from tests.servers import DavServer
from tests.world import complete, engine, make_book

PEOPLE = [
    ("priv-ada", "Ada Lovelace", "1", "2026-10-01T12:00:00Z"),
    ("priv-bob", "Bob Brown", "2", None),
]


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The umask of a typical login shell: new files 0644, new folders 0755."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def loose(state_dir: Path) -> list[str]:
    """Everything under state_dir that a group or other users could read, write or enter."""
    found = []
    for path in [state_dir, *state_dir.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_IMODE(mode) & 0o077:
            found.append(f"{path.relative_to(state_dir.parent)}: {stat.filemode(mode)}")
    return found


def test_a_real_sync_leaves_state_dir_owner_only(
    radicale: DavServer, tmp_path: Path, permissive_umask: None, capsys: pytest.CaptureFixture[str]
) -> None:
    book = make_book(radicale, tmp_path, PEOPLE)
    state_dir = tmp_path / "state"
    assert not state_dir.exists()
    assert book.sync() == 0  # creates state_dir, the state file and two reminders
    [ada] = [t for t in book.tasks() if t.contact == "priv-ada"]
    assert complete(radicale, ada, "20261122T101500Z")
    assert book.sync("2026-11-22T12:00") == 0  # records the completion: a card write, journaled
    assert main(["--config", str(book.cfg), "--now", "2026-11-22T13:00", "done", "Bob Brown"]) == 0
    assert (state_dir / "journal.jsonl").exists()
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700

    # While a session has the state open, SQLite's side files (-wal, -shm) exist too.
    session = engine(book.cfg)
    try:
        with session.state.transaction():
            session.state.set_meta("probe", "1")
        files = sorted(p.name for p in state_dir.iterdir())
        assert {"state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm", "journal.jsonl"} <= set(files), files
        assert loose(state_dir) == []
    finally:
        session.close()
    assert loose(state_dir) == []


def test_files_left_readable_by_an_earlier_version_are_made_owner_only(tmp_path: Path, permissive_umask: None) -> None:
    """A state file (and its side files) that an earlier syncd left 0644 is 0600 once syncd opens it; a
    state_dir the user made is left as they made it, and the files syncd makes in it are owner-only."""
    state_dir = tmp_path / "mine"
    state_dir.mkdir(mode=0o755)
    state = State.in_dir(state_dir)
    with state.transaction():
        state.set_meta("probe", "1")
    state.close()
    for name in ("state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm"):
        path = state_dir / name
        if not path.exists():
            path.write_bytes(b"")
        path.chmod(0o644)
    state = State.in_dir(state_dir)
    try:
        assert state.get_meta("probe") == "1"
        journal = Journal.in_dir(state_dir)
        journal.outcome(journal.intent(uid="u", name="U", href="h", reason="r", etag="1", before={}, after={}), "x")
        assert [p for p in loose(state_dir) if not p.endswith("mine: drwxr-xr-x")] == []
    finally:
        state.close()
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o755
