"""What syncd keeps in `state_dir` is readable by its owner only: the state file caches every card (names,
e-mail addresses, notes), the journal every value syncd wrote. The folder syncd creates is 0700; a folder the
user made is left as they made it. Every file syncd creates in it is 0600, whatever the umask."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("syncd.store")

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_dir(path: Path) -> None:
    """Create `path` (0700) when it is missing; missing parents get the usual mode, like `mkdir -p`."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another syncd process made it just now
        path.mkdir(mode=DIR_MODE)


def create_file(path: Path) -> None:
    """Make sure `path` exists as an owner-only file before another library creates it (SQLite gives its -wal,
    -shm and -journal files the mode of the database file); one left open to others by an earlier version of
    syncd is made owner-only. Anything else at `path` (a folder, another user's file) is left alone."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
    except FileExistsError:
        tighten(path)


def tighten(path: Path) -> None:
    """An existing regular file of this user: no group or other permissions."""
    try:
        found = path.lstat()
    except FileNotFoundError:
        return
    if not stat.S_ISREG(found.st_mode) or found.st_uid != os.getuid() or not found.st_mode & 0o077:
        return
    try:
        path.chmod(stat.S_IMODE(found.st_mode) & FILE_MODE)
    except OSError as err:
        log.warning("%s is readable by other users and cannot be made private: %s", path, err.strerror)
