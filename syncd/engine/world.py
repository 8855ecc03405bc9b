"""What one read of the server found (`World`), and what a cycle did (`Summary`, `Refusal`) or shows
(`TodayItem`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from syncd.core.account import Account, Collection
from syncd.core.circles import Membership
from syncd.core.contacts import Contact, format_instant
from syncd.core.reminders import Task
from syncd.core.words import counted


@dataclass(slots=True)
class World:
    """Everything one pass read from the server."""

    account: Account
    addressbooks: list[Collection]
    contacts: dict[str, Contact]  # people (no group cards) by UID
    groups: dict[str, set[str]]
    memberships: dict[str, Membership]  # tracked contacts only
    broken: list[str]
    task_list: Collection | None
    tasks: list[Task]
    broken_tasks: list[str] = field(default_factory=list)  # hrefs of tasks that could not be read
    # open reminders syncd knew in a task list `reminders.task_list` no longer names, still there (their
    # withdrawal failed): their contacts have an open reminder, so they get no second one
    elsewhere: list[Task] = field(default_factory=list)
    # the account of `interactions.calendars` when it is not the one of the task list (None: `account`)
    meetings_account: Account | None = None

    def open_reminders(self) -> dict[str, Task]:
        return {t.contact_uid: t for t in self.tasks if t.open}

    def due_reminders(self, today: date) -> Iterator[tuple[Task, date, Contact, Membership | None]]:
        """Open reminders due today or earlier, with their DUE, contact and circle (a reminder whose contact
        is not in the address books any more is left out)."""
        for task in self.tasks:
            if not task.open or task.due is None or task.due > today:
                continue
            contact = self.contacts.get(task.contact_uid)
            if contact is not None:
                yield task, task.due, contact, self.memberships.get(contact.uid)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A write the server refused (HTTP 4xx): it was not made."""

    kind: str  # "card" or "reminder"
    name: str  # the contact's name
    href: str
    reason: str  # the server's reason (syncd.dav.client.explain)

    def __str__(self) -> str:
        return f"{self.name}'s {self.kind}: {self.reason}"


@dataclass(slots=True)
class Summary:
    contacts: int = 0
    tracked: int = 0
    broken: int = 0
    due: int = 0
    created: int = 0
    completed: int = 0
    snoozed: int = 0
    closed: int = 0
    withdrawn: int = 0
    cards_written: int = 0
    restored: int = 0
    waiting: int = 0
    requests: int = 0
    writes: int = 0
    warnings: list[str] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)  # writes the server refused; every other was made
    mail_failed: str = ""  # why the mail server ([mail]) could not be read; "" = it was, or no [mail]

    def line(self, dry_run: bool = False) -> str:
        """The cycle in one line; a dry run's says what would be written, as nothing was."""

        def did(past: str) -> str:
            return f"would be {past}" if dry_run else past

        parts = [
            f"{counted(self.contacts, 'contact')} read ({self.tracked} tracked"
            + (f", {self.broken} skipped as broken" if self.broken else "")
            + ")",
            f"{self.due} due today",
            f"{self.created} {did('created')}",
            f"{self.completed} completed",
            f"{counted(self.cards_written, 'card')} {did('written')}",
        ]
        if self.snoozed:
            parts.append(f"{self.snoozed} {did('snoozed')} after deletion")
        if self.closed:
            parts.append(f"{counted(self.closed, 'reminder')} {did('closed')}")
        if self.withdrawn:
            parts.append(f"{self.withdrawn} {did('withdrawn')}")
        if self.restored:
            parts.append(f"X-SYNCD lines {did('restored')} on {counted(self.restored, 'card')}")
        if self.waiting:
            parts.append(f"{self.waiting} more due, waiting for a free slot")
        for kind in ("card", "reminder"):
            count = sum(1 for r in self.refused if r.kind == kind)
            if count:
                parts.append(f"{counted(count, kind + ' write')} refused by the server")
        return ", ".join(parts)

    def refusals(self, shown: int = 3) -> str:
        """The refused writes, for one line: the first `shown` of them, then how many more."""
        named = "; ".join(str(r) for r in self.refused[:shown])
        more = len(self.refused) - shown
        return named + (f"; and {more} more (see the warnings above)" if more > 0 else "")

    def as_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__slots__}


# What a quiet cycle repeats from the summary of the cycle it stands for (the rest was 0 there).
QUIET_SUMMARY = ("contacts", "tracked", "broken", "due", "waiting")


@dataclass(slots=True)
class TodayItem:
    uid: str
    name: str
    circle: str
    due: date
    last_contact: datetime | None
    phone: str  # the first phone number, "" when none
    email: str  # the first e-mail address, "" when none
    reminder: str | None  # href of the open reminder, None = created by the next sync

    @property
    def reach(self) -> str:
        """Phone and e-mail in one line, for the report's table."""
        return " · ".join(p for p in (self.phone, self.email) if p)

    def as_json(self) -> dict[str, object]:
        return {
            "uid": self.uid,
            "name": self.name,
            "circle": self.circle,
            "due": self.due.isoformat(),
            "last_contact": format_instant(self.last_contact) if self.last_contact else None,
            "phone": self.phone or None,
            "email": self.email or None,
            "reminder": self.reminder,
        }
