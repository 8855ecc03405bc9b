"""The writes a cycle or a command intends, as small values: decided first (syncd.engine.plan), then performed
or, for `--dry-run`, described (syncd.engine.writing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.core.contacts import Contact
from syncd.core.reminders import Task
from syncd.dav.carddav import Compute


@dataclass(slots=True)
class PatchCard:
    """Change the X-SYNCD lines of a contact's card (and nothing else): GET, patch, PUT If-Match."""

    contact: Contact
    compute: Compute
    reason: str


@dataclass(slots=True)
class CloseTask:
    """Mark an open reminder done: the contact was reached some other way at `when`."""

    task: Task
    name: str
    when: datetime


@dataclass(slots=True)
class WithdrawTask:
    """Delete (If-Match) an open reminder syncd no longer wants open: its contact is no longer tracked or was
    deleted, it is in a task list `reminders.task_list` no longer names, or it was snoozed and today's slots
    are taken. Never a "skip" by the user: no snooze follows."""

    task: Task
    name: str
    reason: str = "no longer tracked"


@dataclass(slots=True)
class CreateTask:
    """Create a reminder (PUT If-None-Match: *); `task.href` is set once the task list is known."""

    task: Task
    name: str
    circle: str
