"""The one path that reads the server: the account (discovered, or from the cache), the address books and the
task list, each through the read cache (syncd.dav.incremental) — used by the cycle and by every command."""

from __future__ import annotations

import logging
import re

from syncd.core.account import Account, Collection, same_resource
from syncd.core.circles import Membership, group_members, resolve
from syncd.core.contacts import Contact
from syncd.core.reminders import BrokenTask, Task, parse_task
from syncd.dav import incremental, tasks
from syncd.dav.client import HTTPStatusError, NotFound
from syncd.dav.discovery import describe_collection, discover, select_addressbooks
from syncd.engine.session import Session
from syncd.engine.world import World
from syncd.errors import AuthError, ConfigError, DataError, ServerError, SyncdError
from syncd.store import account_cache
from syncd.store.copies import Copies
from syncd.store.members import CARD, Broken, Parsed

log = logging.getLogger("syncd")


class NotCached(Exception):
    """An offline read found no earlier read of the account or of one of its collections in the cache."""


_SERVER_KEY = re.compile(
    r"\bserver\.(url|username|password|password_file|password_command|auth|verify_tls|carddav_url|caldav_url|timeout)\b"
)


def _named(err: SyncdError, name: str, serves: list[str]) -> SyncdError:
    """The error of one account of several, naming it and its keys (same exit code)."""
    section = f"accounts.{name}" if name else "server"
    keys = _SERVER_KEY.sub(section + r".\1", str(err))
    message = f"[{section}] ({' and '.join(serves)}): {keys}"
    for cls in (AuthError, ConfigError, DataError, ServerError):
        if isinstance(err, cls):
            return cls(message)
    return SyncdError(message)


class Reader:
    def __init__(self, session: Session, *, offline: bool = False) -> None:
        """`offline`: read what the last successful read left in the cache, and ask the server nothing (for a
        command whose server is down); NotCached when that is not there."""
        self.session = session
        self.offline = offline
        self.read_urls: list[str] = []  # the collections read, in order
        # url -> (token, what sync-collection answered for it), asked before the read (syncd.engine.quiet)
        self.listed: dict[str, tuple[str, incremental.Listing]] = {}
        self._account_cached = False
        self.accounts: dict[str, Account] = {}  # each account in use by name ("" = [server]), as last read

    # The account -------------------------------------------------------------------------------------

    def account(self, *, fresh: bool = False) -> Account:
        """What the roles read: the address books of `contacts.account`, the calendars of `reminders.account`.
        Each account in use is taken from the cache when discovered recently for its server settings and it
        holds every collection the config names there (syncd.store.account_cache), else discovered now, and
        only for the parts it serves (`self.accounts`)."""
        parts: dict[str, Account] = {}
        cached = True
        for name, serves in self.session.settings.roles.items():
            part = None if fresh else self._cached(name, serves)
            if part is None:
                part = self._discover(name, serves)
                cached = False
            parts[name] = part
        self.accounts = parts
        self._account_cached = cached
        return self._merged()

    def _cached(self, name: str, serves: list[str]) -> Account | None:
        account = account_cache.load_account(self.session.state, self.session.settings, name=name)
        return account if account is not None and self._covers(account, serves) else None

    def _discover(self, name: str, serves: list[str]) -> Account:
        settings = self.session.settings
        clients = self.session.clients
        client = clients.contacts if "contacts" in serves else clients.calendars
        if serves == ["meetings"]:
            client = clients.meetings
        key = f"accounts.{name}" if name else "server"
        cards, calendars = "contacts" in serves, serves != ["contacts"]
        try:
            account = discover(client, settings.server_for(name), cards=cards, calendars=calendars, key=key)
        except SyncdError as err:
            if len(settings.roles) == 1:
                raise
            raise _named(err, name, serves) from err
        account_cache.save_account(self.session.state, settings, account, name=name)
        return account

    def _merged(self) -> Account:
        settings = self.session.settings
        contacts, reminders = self.accounts[settings.contacts.account], self.accounts[settings.reminders.account]
        if contacts is reminders:
            return contacts
        # The calendars list is the reminders account's own: a task list created in it is kept there.
        principal = reminders.principal or contacts.principal
        return Account(
            principal, contacts.addressbook_home, reminders.calendar_home, contacts.addressbooks, reminders.calendars
        )

    def _covers(self, account: Account, serves: list[str]) -> bool:
        settings = self.session.settings
        names: list[str] = []
        if "reminders" in serves:
            names += [settings.reminders.task_list, settings.reminders.calendar]
        if "meetings" in serves:
            names += settings.interactions.calendars
        known = {c.name for c in account.calendars}
        if "contacts" in serves:
            try:
                select_addressbooks(account, settings.contacts.addressbooks)
            except ConfigError:
                return False
        return all(name in known for name in names if name)

    def meetings_account(self) -> Account | None:
        """The account of `interactions.calendars` when it is not the reminders account's (read after
        `account()`)."""
        settings = self.session.settings
        if settings.interactions.account == settings.reminders.account:
            return None
        return self.accounts.get(settings.interactions.account)

    # Everything --------------------------------------------------------------------------------------

    def read(self, *, create_task_list: bool) -> World:
        if self.offline:
            parts: dict[str, Account] = {}
            for name in self.session.settings.roles:
                part = account_cache.load_account(self.session.state, self.session.settings, max_age=None, name=name)
                if part is None:
                    raise NotCached("no account was read before")
                parts[name] = part
            self.accounts = parts
            return self._read(self._merged(), create_task_list=False)
        account = self.account()
        known = len(account.calendars)
        try:
            world = self._read(account, create_task_list=create_task_list)
        except NotFound:
            if not self._account_cached:
                raise
            log.info("a collection is no longer where it was; discovering the account again")
            account = self.account(fresh=True)
            known = len(account.calendars)
            world = self._read(account, create_task_list=create_task_list)
        calendars = world.account.calendars
        for i, created in enumerate(calendars[known:], start=known):
            # made by syncd in this read: ask the server what it supports (sync-collection) once
            calendars[i] = describe_collection(self.session.clients.calendars, created.url) or created
        if len(calendars) != known:
            name = self.session.settings.reminders.account
            account_cache.save_account(self.session.state, self.session.settings, self.accounts[name], name=name)
        return world

    def _read(self, account: Account, *, create_task_list: bool) -> World:
        settings = self.session.settings
        addressbooks, everyone, broken = self.contacts(account)
        groups = group_members(everyone.values())
        people = {uid: c for uid, c in everyone.items() if not c.is_group}
        memberships = self.memberships(people, groups)
        name = settings.reminders.task_list
        task_list = tasks.find_task_list(account, name)
        if task_list is None and create_task_list:
            task_list = tasks.create_task_list(self.session.clients.calendars, account, name)
        broken_tasks: list[str] = []
        found = self.tasks(task_list, broken_tasks) if task_list is not None else []
        world = World(account, addressbooks, people, groups, memberships, broken, task_list, found, broken_tasks)
        world.meetings_account = self.meetings_account()
        return world

    def memberships(self, people: dict[str, Contact], groups: dict[str, set[str]]) -> dict[str, Membership]:
        """The circle of each tracked contact (warnings about NOTE tags and unknown circles are logged)."""
        notes: list[str] = []
        found: dict[str, Membership] = {}
        for uid, contact in people.items():
            membership = resolve(contact, self.session.settings.circle_rules, groups, notes)
            if membership is not None:
                found[uid] = membership
        for note in notes:
            log.warning("%s", note)
        return found

    # Address books and the task list -----------------------------------------------------------------

    def contacts(self, account: Account) -> tuple[list[Collection], dict[str, Contact], list[str]]:
        """The selected address books, their contacts by UID (group cards included), and the hrefs of the
        cards skipped (broken, or a second card with a UID already read)."""
        addressbooks = select_addressbooks(account, self.session.settings.contacts.addressbooks)
        if not addressbooks:
            log.warning("the account has no address books")
        contacts: dict[str, Contact] = {}
        broken: list[str] = []
        known: dict[str, str] | None = None  # UID -> the href syncd last saw it at, read when two cards share a UID
        for addressbook in addressbooks:
            for contact in self.addressbook(addressbook, broken):
                if contact.uid not in contacts:
                    contacts[contact.uid] = contact
                    continue
                # Two cards with one UID: keep the one syncd knew for it (the listing order is no guide).
                keep, skip = contacts[contact.uid], contact
                if known is None:
                    known = {uid: copy.href for uid, copy in Copies(self.session.state).all().items()}
                if same_resource(skip.href, known.get(contact.uid, "")):
                    keep, skip = skip, keep
                log.warning("%s: UID %s is also used by %s; skipped", skip.href, contact.uid, keep.href)
                broken.append(skip.href)
                contacts[contact.uid] = keep
        return addressbooks, contacts, broken

    def addressbook(self, addressbook: Collection, broken: list[str]) -> list[Contact]:
        """The readable contacts of one address book (a broken card: a warning, its href in `broken`)."""
        found: list[Contact] = []
        for href, parsed in self._collection(addressbook, incremental.card_reader(addressbook)):
            if isinstance(parsed, Broken):
                log.warning("skipping the card %s: %s (it is left as it is)", href, parsed.reason)
                broken.append(href)
            elif isinstance(parsed, Contact):
                for warning in parsed.warnings:
                    log.warning("%s (%s): %s", parsed.name, href, warning)
                found.append(parsed)
        return found

    def tasks(self, task_list: Collection, broken: list[str] | None = None) -> list[Task]:
        """Every syncd reminder in the task list (broken tasks: a warning each, left alone, their hrefs in
        `broken`)."""
        found: list[Task] = []
        for href, parsed in self._collection(task_list, incremental.task_reader(self.session.zone)):
            if isinstance(parsed, Broken):
                log.warning("skipping the task %s: %s (it is left as it is)", href, parsed.reason)
                if broken is not None:
                    broken.append(href)
            elif isinstance(parsed, Task):
                found.append(parsed)
        return found

    def reminders_at(self, hrefs: list[str]) -> dict[str, Task | None]:
        """Each href's syncd reminder as the server holds it now, one GET each; None when it is gone, or not
        readable as a syncd reminder any more. For the few reminders syncd knew in a task list that
        `reminders.task_list` no longer names (that list is not read as a whole)."""
        client = self.session.clients.calendars
        found: dict[str, Task | None] = {}
        for href in hrefs:
            try:
                response = client.get(href)
                text = response.body.decode("utf-8", "replace")
                found[href] = parse_task(href, response.etag, text, self.session.zone)
            except NotFound:
                found[href] = None
            except BrokenTask as err:
                log.warning("the task %s can no longer be read (%s); it is left as it is", href, err)
                found[href] = None
            except HTTPStatusError as err:
                if not 400 <= err.status < 500:
                    raise
                log.warning("could not read the task %s (%s); it is left as it is", href, err)
                found[href] = None
        return found

    def _collection(self, collection: Collection, reader: incremental.Reader) -> list[tuple[str, Parsed]]:
        """Through the local cache: only what changed since the last read is downloaded (syncd.dav.incremental)."""
        if self.offline:
            cached = incremental.cached_collection(self.session.state, collection, reader)
            if cached is None:
                raise NotCached(f"{collection.url} was not read before")
            return cached
        self.session.watch_writes()
        client = self.session.clients.contacts if reader.kind == CARD else self.session.clients.calendars
        stats = incremental.ReadStats()
        self.read_urls.append(collection.url)
        listed = self.listed.pop(collection.url, None)
        try:
            entries = incremental.read_collection(
                client, self.session.state, collection, reader, stats, listed, progress=self.session.progress
            )
        except AuthError as err:  # credentials refused after a cached discovery: which account's
            roles = self.session.settings.roles
            if len(roles) == 1:
                raise
            settings = self.session.settings
            name = settings.contacts.account if reader.kind == CARD else settings.reminders.account
            raise _named(err, name, roles[name]) from err
        log.debug(
            "%s: %s, %d listed, %d fetched, %d from the cache, %d deleted",
            collection.url,
            stats.how,
            stats.listed,
            stats.fetched,
            stats.cached,
            stats.deleted,
        )
        return entries
