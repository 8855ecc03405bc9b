"""`syncd check`: what syncd finds on the server — address books (read as the sync reads them), the task list,
the calendars the config names. The words are syncd.app.output.checked."""

from __future__ import annotations

from dataclasses import dataclass, field

from syncd.core.account import Account, Collection
from syncd.core.circles import group_members
from syncd.dav import tasks
from syncd.dav.discovery import find_calendar, select_addressbooks
from syncd.engine.reading import Reader
from syncd.engine.session import Session


@dataclass(slots=True)
class AddressBook:
    collection: Collection
    selected: bool
    people: int = 0
    tracked: int = 0


@dataclass(slots=True)
class Findings:
    account: Account
    addressbooks: list[AddressBook] = field(default_factory=list)
    broken: int = 0  # cards that cannot be read
    task_list: Collection | None = None
    tasks: int = 0
    calendars: dict[str, bool] = field(default_factory=dict)  # the events calendar: found?
    meetings: dict[str, bool] = field(default_factory=dict)  # interactions.calendars: found?

    @property
    def people(self) -> int:
        return sum(a.people for a in self.addressbooks)

    @property
    def tracked(self) -> int:
        return sum(a.tracked for a in self.addressbooks)


def discover(session: Session) -> tuple[Reader, Account]:
    """The account as discovered now (never from the cache)."""
    reader = Reader(session)
    return reader, reader.account(fresh=True)


def inspect(session: Session, reader: Reader, account: Account) -> Findings:
    settings = session.settings
    found = Findings(account)
    chosen = select_addressbooks(account, settings.contacts.addressbooks)
    for collection in account.addressbooks:
        book = AddressBook(collection, collection in chosen)
        found.addressbooks.append(book)
        if not book.selected:
            continue
        broken: list[str] = []
        contacts = reader.addressbook(collection, broken)
        found.broken += len(broken)
        people = {c.uid: c for c in contacts if not c.is_group}
        book.people = len(people)
        book.tracked = len(reader.memberships(people, group_members(contacts)))
    found.task_list = tasks.find_task_list(account, settings.reminders.task_list)
    if found.task_list is not None:
        found.tasks = len(tasks.read_tasks(session.clients.calendars, found.task_list))
    if settings.reminders.calendar:
        found.calendars[settings.reminders.calendar] = find_calendar(account, settings.reminders.calendar) is not None
    for name in settings.interactions.calendars:
        found.meetings[name] = find_calendar(account, name) is not None
    return found
