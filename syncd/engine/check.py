"""`syncd check`: what syncd finds on the server — address books (read as the sync reads them), the task list
and what a phone will make of it (VTODO only? the user's own? a change feed?), the calendars the config names;
with `--probe`, what the server keeps of a card (a scratch card written, read back and deleted). The words are
syncd.app.output.checked. `reach` is the discovery `syncd init` makes before a config exists."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

from syncd.core.account import Account, Collection, canonical, same_resource
from syncd.core.circles import group_members
from syncd.core.providers import advice
from syncd.dav import discovery, tasks
from syncd.dav.client import DavClient
from syncd.dav.discovery import find_calendar, select_addressbooks
from syncd.dav.incremental import NoSync, TokenRefused, current_token, sync_collection
from syncd.engine.reading import Reader
from syncd.engine.session import Session
from syncd.errors import ServerError


@dataclass(slots=True)
class AddressBook:
    collection: Collection
    selected: bool
    people: int = 0
    tracked: int = 0


@dataclass(slots=True)
class Reached:
    """One account in use: its name ("" = [server]), what it serves, what discovery found there."""

    name: str
    serves: list[str]
    account: Account


@dataclass(slots=True)
class Findings:
    account: Account
    accounts: list[Reached] = field(default_factory=list)
    addressbooks: list[AddressBook] = field(default_factory=list)
    broken: int = 0  # cards that cannot be read
    task_list: Collection | None = None
    tasks: int = 0
    sharing: discovery.Sharing | None = None  # of the task list
    calendars: dict[str, bool] = field(default_factory=dict)  # the events calendar: found?
    meetings: dict[str, bool] = field(default_factory=dict)  # interactions.calendars: found?
    providers: list[str] = field(default_factory=list)  # what the known providers' quirks mean here

    @property
    def people(self) -> int:
        return sum(a.people for a in self.addressbooks)

    @property
    def tracked(self) -> int:
        return sum(a.tracked for a in self.addressbooks)


def reach(session: Session) -> Account:
    """The account as the server shows it to these credentials, discovered now; nothing is stored (`init` asks
    this before there is a config, or a state folder)."""
    return discovery.discover(session.clients.contacts, session.settings.server)


def discover(session: Session) -> tuple[Reader, Account]:
    """The account as discovered now (never from the cache)."""
    reader = Reader(session)
    return reader, reader.account(fresh=True)


def inspect(session: Session, reader: Reader, account: Account) -> Findings:
    settings = session.settings
    found = Findings(account)
    for name, serves in settings.roles.items():
        found.accounts.append(Reached(name, serves, reader.accounts[name]))
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
        found.sharing = discovery.sharing(session.clients.calendars, found.task_list.url)
    if settings.reminders.calendar:
        found.calendars[settings.reminders.calendar] = find_calendar(account, settings.reminders.calendar) is not None
    meetings = reader.meetings_account() or account
    for name in settings.interactions.calendars:
        found.meetings[name] = find_calendar(meetings, name) is not None
    found.providers = provider_advice(session, account)
    return found


def owned(account: Account, sharing: discovery.Sharing) -> bool | None:
    """The task list is the user's own (True), someone else's (False), or the server does not say (None)."""
    if not sharing.owner or not account.principal:
        return None
    return same_resource(sharing.owner, account.principal)


# The scratch card `check --probe` writes: syncd's own property and one no program knows, with a parameter.
PROBE_PROPERTIES = ("X-SYNCD-PROBE", "X-SYNCD-PROBE-UNKNOWN;X-SYNCD-PARAM=kept")


@dataclass(slots=True)
class Probe:
    """What a scratch member written into `collection` and deleted again showed."""

    collection: Collection
    kept: dict[str, bool] = field(default_factory=dict)  # for a card: each X- property, kept as written?
    deletion_reported: bool | None = None  # the change feed named the deleted member (None: no change feed)
    left_behind: str = ""  # the member's URL when it could not be deleted
    error: str = ""  # why the probe could not be made


def probe_card(client: DavClient, addressbook: Collection) -> Probe:
    """Write a scratch card (If-None-Match: *) holding `PROBE_PROPERTIES`, read it back, delete it (If-Match),
    and ask the change feed whether it reports the deletion. The card is deleted whatever happens."""
    uid = f"syncd-probe-{secrets.token_hex(8)}"
    value = secrets.token_hex(6)
    lines = [f"{prop}:{value}" for prop in PROBE_PROPERTIES]
    text = "\r\n".join(
        ["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", "FN:syncd check --probe", "N:check;syncd;;;", *lines, "END:VCARD"]
    )
    found = Probe(addressbook)

    def read_back(body: str) -> None:
        unfolded = body.replace("\r\n ", "").replace("\n ", "").replace("\r\n\t", "").replace("\n\t", "")
        got = {line.strip().upper() for line in unfolded.splitlines()}
        for prop, line in zip(PROBE_PROPERTIES, lines, strict=True):
            found.kept[prop.split(";")[0]] = line.upper() in got

    _scratch(client, addressbook, f"{uid}.vcf", text, "text/vcard", found, read_back)
    return found


def probe_task_list(client: DavClient, task_list: Collection) -> Probe:
    """A scratch task written, deleted, and looked for in the change feed: does it report deletions?"""
    uid = f"syncd-probe-{secrets.token_hex(8)}"
    text = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//syncd//check//EN",
            "BEGIN:VTODO",
            f"UID:{uid}",
            "DTSTAMP:20000101T000000Z",
            "SUMMARY:syncd check --probe",
            "END:VTODO",
            "END:VCALENDAR",
            "",
        ]
    )
    found = Probe(task_list)
    _scratch(client, task_list, f"{uid}.ics", text, "text/calendar", found, lambda _body: None)
    return found


def _scratch(
    client: DavClient,
    collection: Collection,
    name: str,
    text: str,
    content_type: str,
    found: Probe,
    read_back: Callable[[str], None],
) -> None:
    href = urljoin(collection.url, name)
    etag = ""
    there = False
    try:
        etag = client.put(href, text, content_type, create=True)
        there = True
        answer = client.get(href)
        etag = answer.etag or etag
        read_back(answer.text())
        token = current_token(client, collection.url) if collection.supports_sync else None
        client.delete(href, etag)
        there = False
        if token:
            try:
                found.deletion_reported = canonical(href) in sync_collection(client, collection.url, token).deleted
            except (NoSync, TokenRefused):
                found.deletion_reported = False
    except ServerError as err:
        found.error = str(err)
    finally:
        if there:
            try:
                client.delete(href, etag or client.get(href).etag)
            except ServerError:
                found.left_behind = href


def probe(session: Session, found: Findings) -> list[Probe]:
    """`check --probe`: a scratch card in the first address book syncd reads, and a scratch task in the task
    list when it exists; each deleted again."""
    out = []
    books = [book.collection for book in found.addressbooks if book.selected]
    if books:
        out.append(probe_card(session.clients.contacts, books[0]))
    if found.task_list is not None:
        out.append(probe_task_list(session.clients.calendars, found.task_list))
    return out


def provider_advice(session: Session, account: Account) -> list[str]:
    """What the known providers of the contacts' and the reminders' servers mean for this setup."""
    settings = session.settings
    card, cal = settings.server_for(settings.contacts.account), settings.server_for(settings.reminders.account)
    contacts = account.addressbook_home or card.carddav_url or card.url
    reminders = account.calendar_home or cal.caldav_url or cal.url
    return advice(contacts, reminders)
