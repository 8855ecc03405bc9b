"""One sync cycle: read -> reconcile -> plan -> write.

This module is the only one that combines the adapters (carddav, tasks, state) with the pure core (circles,
reconcile, planner, reminders). Commands in `cli` call into `Engine`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import astuple, dataclass, field
from datetime import UTC, date, datetime

from syncd.config import Settings
from syncd.core import birthdays, notetags, repair
from syncd.core.account import Account, Collection, same_resource
from syncd.core.circles import Membership, group_members, resolve
from syncd.core.contacts import (
    CIRCLE,
    INTERVAL,
    LAST_CONTACT,
    SNOOZE,
    Contact,
    find_contact,
    format_instant,
    parse_date,
    parse_instant,
)
from syncd.core.planner import OpenReminder, Tracked, backlog, due_date, plan
from syncd.core.reconcile import Reconciliation, reconcile
from syncd.core.reminders import Task, build_task, complete_text, reschedule_text
from syncd.dav import carddav, incremental, interactions, tasks
from syncd.dav.client import DavClient, HTTPStatusError, NotFound, ResponseTooLarge
from syncd.dav.discovery import describe_collection, discover, select_addressbooks
from syncd.errors import ConfigError, DataError, PreconditionFailed, ServerError
from syncd.store import account_cache, quiet
from syncd.store.copies import Copies
from syncd.store.journal import Entry, Journal, xsyncd_diff
from syncd.store.members import Broken, Parsed
from syncd.store.state import State, SyncedCollection
from syncd.store.writehook import WriteHook

log = logging.getLogger("syncd")


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

    def line(self) -> str:
        parts = [
            f"{self.contacts} contacts read ({self.tracked} tracked"
            + (f", {self.broken} skipped as broken" if self.broken else "")
            + ")",
            f"{self.due} due today",
            f"{self.created} created",
            f"{self.completed} completed",
            f"{self.cards_written} cards written",
        ]
        if self.snoozed:
            parts.append(f"{self.snoozed} snoozed after deletion")
        if self.closed:
            parts.append(f"{self.closed} reminders closed")
        if self.withdrawn:
            parts.append(f"{self.withdrawn} withdrawn")
        if self.restored:
            parts.append(f"{self.restored} cards' X-SYNCD lines restored")
        if self.waiting:
            parts.append(f"{self.waiting} more due, waiting for a free slot")
        return ", ".join(parts)

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
    reach: str
    reminder: str | None  # href of the open reminder, None = created by the next sync

    def as_json(self) -> dict[str, object]:
        return {
            "uid": self.uid,
            "name": self.name,
            "circle": self.circle,
            "due": self.due.isoformat(),
            "last_contact": format_instant(self.last_contact) if self.last_contact else None,
            "reach": self.reach,
            "reminder": self.reminder,
        }


class Engine:
    def __init__(self, settings: Settings, client: DavClient, state: State | None = None) -> None:
        self.settings = settings
        self.client = client
        self._state = state
        self.zone = settings.schedule.zone
        self.dry_run = False  # `sync --dry-run`: every write goes to `planned` instead of the server
        self.full = False  # `sync --full`: plan even when nothing changed since the last cycle (syncd.quiet)
        self.planned: list[str] = []
        self.unwritten: set[str] = set()  # contact UIDs whose card write failed this run
        self._journal: Journal | None = None
        self._watching = False  # the read cache follows this client's writes
        self._account_cached = False  # the account came from the cache
        self._read_urls: list[str] = []  # the collections this cycle read
        self._listed: dict[str, tuple[str, incremental.Listing]] = {}  # url -> (token, its answer) this cycle
        self._events_token: tuple[str, str] | None = None  # (url, sync token) of the events calendar this cycle

    @property
    def state(self) -> State:
        if self._state is None:
            self._state = State.in_dir(self.settings.state_dir)
        return self._state

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal.in_dir(self.settings.state_dir)
        return self._journal

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None
        self.client.close()

    # Reading ---------------------------------------------------------------------------------------

    def read_contacts(self, account: Account) -> tuple[list[Collection], dict[str, Contact], list[str]]:
        addressbooks = select_addressbooks(account, self.settings.contacts.addressbooks)
        if not addressbooks:
            log.warning("the account has no address books")
        contacts: dict[str, Contact] = {}
        broken: list[str] = []
        known: dict[str, str] | None = None  # UID -> the href syncd last saw it at, read when two cards share a UID
        for addressbook in addressbooks:
            for href, parsed in self._read_collection(addressbook, incremental.card_reader(addressbook)):
                if isinstance(parsed, Broken):
                    log.warning("skipping the card %s: %s (it is left as it is)", href, parsed.reason)
                    broken.append(href)
                    continue
                if not isinstance(parsed, Contact):
                    continue
                contact = parsed
                for warning in contact.warnings:
                    log.warning("%s (%s): %s", contact.name, href, warning)
                if contact.uid in contacts:
                    # Two cards with one UID: keep the one syncd knew for it (the listing order is no guide).
                    keep, skip = contacts[contact.uid], contact
                    if known is None:
                        known = {uid: copy.href for uid, copy in Copies(self.state).all().items()}
                    if same_resource(skip.href, known.get(contact.uid, "")):
                        keep, skip = skip, keep
                    log.warning("%s: UID %s is also used by %s; skipped", skip.href, contact.uid, keep.href)
                    broken.append(skip.href)
                    contacts[contact.uid] = keep
                    continue
                contacts[contact.uid] = contact
        return addressbooks, contacts, broken

    def read_task_list(self, task_list: Collection, broken: list[str] | None = None) -> list[Task]:
        """Every syncd reminder in the task list (broken tasks: a warning each, left alone, their hrefs in
        `broken`)."""
        found: list[Task] = []
        for href, parsed in self._read_collection(task_list, incremental.task_reader(self.zone)):
            if isinstance(parsed, Broken):
                log.warning("skipping the task %s: %s (it is left as it is)", href, parsed.reason)
                if broken is not None:
                    broken.append(href)
            elif isinstance(parsed, Task):
                found.append(parsed)
        return found

    def _read_collection(self, collection: Collection, reader: incremental.Reader) -> list[tuple[str, Parsed]]:
        """Through the local cache: only what changed since the last read is downloaded (syncd.incremental)."""
        if not self._watching:
            self.client.write_listeners.append(WriteHook(self.state, self.zone))
            self._watching = True
        stats = incremental.ReadStats()
        self._read_urls.append(collection.url)
        listed = self._listed.pop(collection.url, None)
        entries = incremental.read_collection(self.client, self.state, collection, reader, stats, listed)
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

    def discover(self, *, fresh: bool = False) -> Account:
        """The account: from the cache when discovered recently for these server settings and it holds every
        collection the config names (syncd.cache), else discovered now."""
        if not fresh:
            account = account_cache.load_account(self.state, self.settings)
            if account is not None and self._covers(account):
                self._account_cached = True
                return account
        account = discover(self.client, self.settings.server)
        account_cache.save_account(self.state, self.settings, account)
        self._account_cached = False
        return account

    def _covers(self, account: Account) -> bool:
        names = [self.settings.reminders.task_list, self.settings.reminders.calendar]
        names += list(self.settings.interactions.calendars)
        known = {c.name for c in account.calendars}
        try:
            select_addressbooks(account, self.settings.contacts.addressbooks)
        except ConfigError:
            return False
        return all(name in known for name in names if name)

    def read(self, *, create_task_list: bool) -> World:
        account = self.discover()
        known = len(account.calendars)
        try:
            world = self._read(account, create_task_list=create_task_list)
        except NotFound:
            if not self._account_cached:
                raise
            log.info("a collection is no longer where it was; discovering the account again")
            account = self.discover(fresh=True)
            known = len(account.calendars)
            world = self._read(account, create_task_list=create_task_list)
        for i, created in enumerate(world.account.calendars[known:], start=known):
            # made by syncd in this read: ask the server what it supports (sync-collection) once
            world.account.calendars[i] = describe_collection(self.client, created.url) or created
        if len(world.account.calendars) != known or not self._account_cached:
            account_cache.save_account(self.state, self.settings, world.account)
        return world

    def _read(self, account: Account, *, create_task_list: bool) -> World:
        addressbooks, everyone, broken = self.read_contacts(account)
        groups = group_members(everyone.values())
        people = {uid: c for uid, c in everyone.items() if not c.is_group}
        notes: list[str] = []
        memberships: dict[str, Membership] = {}
        for uid, contact in people.items():
            membership = resolve(contact, self.settings.circle_rules, groups, notes)
            if membership is not None:
                memberships[uid] = membership
        for note in notes:
            log.warning("%s", note)
        name = self.settings.reminders.task_list
        task_list = tasks.find_task_list(account, name)
        if task_list is None and create_task_list:
            task_list = tasks.create_task_list(self.client, account, name)
        broken_tasks: list[str] = []
        found = self.read_task_list(task_list, broken_tasks) if task_list is not None else []
        return World(account, addressbooks, people, groups, memberships, broken, task_list, found, broken_tasks)

    # Writing cards -----------------------------------------------------------------------------------

    def write_card(
        self,
        contact: Contact,
        compute: Callable[[dict[str, str]], Mapping[str, str | None]],
        reason: str = "",
    ) -> bool:
        """Patch the contact's X-SYNCD lines on the server; returns whether a PUT happened (or, in a dry
        run, would). Every PUT is recorded in the change journal with `reason`."""
        journal = None if self.dry_run else self.journal.bind(contact.uid, contact.name, reason)
        compute = repair.keep_lines(contact, compute)
        try:
            result = carddav.write_xsyncd(self.client, contact.href, compute, journal=journal, dry_run=self.dry_run)
        except HTTPStatusError as err:
            if 400 <= err.status < 500:
                log.warning("could not write %s (%s): %s", contact.name, contact.href, err)
                self.unwritten.add(contact.uid)
                return False
            raise
        except ResponseTooLarge as err:
            log.warning("could not write %s (%s): %s; the card is left as it is", contact.name, contact.href, err)
            self.unwritten.add(contact.uid)
            return False
        except NotFound:
            log.warning(
                "could not write %s (%s): the card was deleted on the server meanwhile", contact.name, contact.href
            )
            self.unwritten.add(contact.uid)
            return False
        if result is None:
            return False
        if result.dry_run:
            contact.xsyncd = dict(result.after)
            diff = xsyncd_diff(result.original, result.text)
            self.planned.append(f"card {contact.name} ({contact.href}){': ' + reason if reason else ''}")
            self.planned.extend("    " + line for line in diff)
            return True
        contact.xsyncd = dict(result.after)
        contact.etag = result.etag
        changes = ", ".join(
            f"{k}: {result.before.get(k, '—')} → {result.after.get(k, '—')}"
            for k in sorted(set(result.before) | set(result.after))
            if result.before.get(k) != result.after.get(k)
        )
        log.info("wrote %s (%s): %s", contact.name, contact.href, changes or "tidied duplicate X-SYNCD lines")
        return True

    # The cycle ---------------------------------------------------------------------------------------

    def sync(self, now: datetime) -> Summary:
        """One cycle. A cycle whose inputs are those of the last one, which wrote nothing, stops after asking
        each collection what changed (syncd.quiet)."""
        if not self.dry_run and not self.full:
            summary = self._quiet_cycle(now)
            if summary is not None:
                return summary
        with quiet.Warnings() as warned:
            summary = self._sync(now)
        if not self.dry_run:
            self._leave_memo(now, summary, warned.kept)
        return summary

    def _quiet_cycle(self, now: datetime) -> Summary | None:
        """The remembered summary when nothing changed since the last cycle, which wrote nothing; else None
        (what the collections answered is kept for the full cycle, which then asks nothing twice)."""
        self._listed.clear()
        if not quiet.applies(self.settings):
            return None
        memo = quiet.load(self.state)
        if memo is None:
            return None
        start_requests = sum(self.client.counts.values())
        account = self.discover()
        try:
            addressbooks = select_addressbooks(account, self.settings.contacts.addressbooks)
        except ConfigError:
            return None
        task_list = tasks.find_task_list(account, self.settings.reminders.task_list)
        if task_list is None or not addressbooks:
            return None
        collections = [*addressbooks, task_list]
        synced = self._synced([c.url for c in collections])
        today = now.astimezone(self.zone).date()
        if quiet.digest(self.settings, today, synced, self._reminder_rows()) != memo.digest:
            return None
        for collection in collections:
            row = synced[collection.url]
            assert row is not None and row.token is not None  # the digest said so
            if not self._unchanged(collection.url, row.token):
                return None
        if bool(self.settings.reminders.calendar) != bool(memo.tokens):
            return None
        for url, token in memo.tokens.items():  # the events calendar
            if not self._unchanged(url, token):
                return None
        self._listed.clear()
        summary = Summary(**memo.summary)  # type: ignore[arg-type]
        summary.requests = sum(self.client.counts.values()) - start_requests
        quiet.repeat_warnings(memo)
        log.debug("nothing changed since the last cycle, which wrote nothing: nothing to plan")
        log.info("sync: %s", summary.line())
        return summary

    def _unchanged(self, url: str, token: str) -> bool:
        """Whether the collection reports no change since `token` (its answer is kept for the full cycle)."""
        try:
            listing = incremental.sync_collection(self.client, url, token)
        except (incremental.TokenRefused, incremental.NoSync, NotFound):
            return False
        self._listed[url] = (token, listing)
        return not listing.etags and not listing.deleted and listing.token == token

    def before_events(self, calendar: Collection) -> None:
        """Called just before the events calendar is read: its sync token, for the memo (syncd.quiet)."""
        self._events_token = None
        if quiet.applies(self.settings) and calendar.supports_sync:
            token = incremental.current_token(self.client, calendar.url)
            self._events_token = (calendar.url, token) if token else None

    def _leave_memo(self, now: datetime, summary: Summary, warnings: list[tuple[str, str]]) -> None:
        """After a full cycle: a memo for the next one when this one wrote nothing (else none)."""
        memo = None
        urls = list(dict.fromkeys(self._read_urls))
        wrote = summary.writes or self.unwritten
        events_known = not self.settings.reminders.calendar or self._events_token is not None
        if quiet.applies(self.settings) and not wrote and urls and events_known and not self.state.unconfirmed(urls):
            today = now.astimezone(self.zone).date()
            found = quiet.digest(self.settings, today, self._synced(urls), self._reminder_rows())
            if found is not None:
                tokens = dict([self._events_token]) if self._events_token else {}
                memo = quiet.Memo(found, {k: getattr(summary, k) for k in QUIET_SUMMARY}, warnings, tokens)
        quiet.save(self.state, memo)

    def _synced(self, urls: list[str]) -> dict[str, SyncedCollection | None]:
        rows = {row.url: row for row in self.state.synced_collections()}
        return {url: rows.get(url) for url in urls}

    def _reminder_rows(self) -> list[tuple[object, ...]]:
        return [astuple(row) for row in self.state.reminders().values()]

    def _sync(self, now: datetime) -> Summary:
        self._read_urls.clear()
        self._events_token = None
        start_requests = sum(self.client.counts.values())
        start_writes = self.client.writes
        self.unwritten.clear()
        self.planned.clear()
        world = self.read(create_task_list=not self.dry_run)
        if world.task_list is None and self.dry_run:
            world.task_list = self._planned_task_list(world)
        assert world.task_list is not None
        summary = Summary(contacts=len(world.contacts), tracked=len(world.memberships), broken=len(world.broken))
        copies = Copies(self.state).all()  # read once: restoring and saving both compare with it
        self._restore_vanished(world, copies, summary)
        # Only reminders of this task list: after `reminders.task_list` names another list, the old list's
        # reminders are not "deleted by the user" (which would snooze every contact that had one).
        known = {
            uid: row
            for uid, row in self.state.reminders().items()
            if same_resource(row.href.rsplit("/", 1)[0], world.task_list.url)
        }
        # A reminder that is there but unreadable (say, a client wrote a bad date into it) is not deleted.
        known = {u: r for u, r in known.items() if not any(same_resource(r.href, b) for b in world.broken_tasks)}
        met = interactions.touches(
            self.client,
            world.account,
            self.settings.interactions,
            world.contacts,
            [m.interval for m in world.memberships.values()],
            now,
            self.zone,
        )
        recon = reconcile(world.contacts, world.memberships, world.tasks, known, now, self.zone, met)
        self._mirror_note_tags(world, summary)
        self._apply_contact_updates(world, recon, summary)
        self._close_and_withdraw(world, recon, now, summary)
        created = self._create_reminders(world, now, summary)
        if not self.dry_run:
            self._save_state(world, recon, created)
            self._save_copies(world, copies)
            from syncd.engine import insights  # imported here: reviews and events are not needed to start a cycle

            insights.after_sync(self, world, now)  # review history; digest/review events in reminders.calendar
        today = now.astimezone(self.zone).date()
        summary.due = sum(1 for t in world.tasks if t.open and t.due is not None and t.due <= today)
        summary.requests = sum(self.client.counts.values()) - start_requests
        summary.writes = self.client.writes - start_writes
        log.info("sync%s: %s", " (dry run: nothing written)" if self.dry_run else "", summary.line())
        return summary

    def _planned_task_list(self, world: World) -> Collection:
        """Dry run without a task list: where the sync would create it."""
        from urllib.parse import urljoin

        name = self.settings.reminders.task_list
        home = world.account.calendar_home or ""
        self.planned.append(f"task list {name!r}: create (VTODO-only) under {home}")
        return Collection(url=urljoin(home, "new-task-list/"), name=name, kind="calendar", components={"VTODO"})

    def _restore_vanished(self, world: World, copies: Mapping[str, repair.Copy], summary: Summary) -> None:
        """Put back X-SYNCD lines that another client dropped (see `repair`), before anything reads them."""
        lost = repair.vanished(world.contacts, copies)
        notes: list[str] = []
        for uid, values in sorted(lost.items()):
            contact = world.contacts[uid]
            shown = ", ".join(f"{k}:{v}" for k, v in sorted(values.items()))
            log.warning(
                "%s (%s): every X-SYNCD line vanished after an edit elsewhere; restoring %s",
                contact.name,
                contact.href,
                shown,
            )

            def compute(current: dict[str, str], values: dict[str, str] = values) -> dict[str, str | None]:
                return {} if current else dict(values)  # lines that came back meanwhile win

            if self.write_card(contact, compute, "restore: X-SYNCD lines vanished after an edit elsewhere"):
                summary.restored += 1
                membership = resolve(contact, self.settings.circle_rules, world.groups, notes)
                if membership is not None:
                    world.memberships[uid] = membership
        for note in notes:
            log.warning("%s", note)

    def _save_copies(self, world: World, known: Mapping[str, repair.Copy]) -> None:
        copies = Copies(self.state)
        with self.state.transaction():
            copies.save(world.contacts.values(), known)

    def _mirror_note_tags(self, world: World, summary: Summary) -> None:
        """NOTE tags (#circle2, #every 3w, #pause) that differ from the card's X-SYNCD fields are written there."""
        circles = list(self.settings.circles)
        for contact in world.contacts.values():
            tags = notetags.parse(contact.note)
            if not notetags.mirror_updates(tags, contact.xsyncd, circles):
                continue
            if self.write_card(
                contact, functools.partial(notetags.mirror_updates, tags, circles=circles), "NOTE tag changed"
            ):
                summary.cards_written += 1

    def _apply_contact_updates(self, world: World, recon: Reconciliation, summary: Summary) -> None:
        for uid in sorted(set(recon.last_contact) | set(recon.snooze)):
            contact = world.contacts[uid]
            when = recon.last_contact.get(uid)
            until = recon.snooze.get(uid)

            def compute(
                current: dict[str, str], when: datetime | None = when, until: date | None = until
            ) -> dict[str, str | None]:
                updates: dict[str, str | None] = {}
                if when is not None:
                    existing = parse_instant(current.get(LAST_CONTACT, ""))
                    if existing is None or when > existing:
                        updates[LAST_CONTACT] = format_instant(when)
                if until is not None:
                    held = parse_date(current.get(SNOOZE, ""))
                    if held is None or until > held:
                        updates[SNOOZE] = until.isoformat()
                return updates

            reasons = (["reminder completed"] if when is not None else []) + (
                ["reminder deleted: snooze"] if until is not None else []
            )
            reason = " and ".join(reasons)
            if self.write_card(contact, compute, reason):
                summary.cards_written += 1
                summary.completed += uid in recon.last_contact
                summary.snoozed += uid in recon.snooze
                if until is not None:
                    log.info("%s: reminder deleted, so not due before %s", contact.name, until.isoformat())
            elif uid in self.unwritten:
                # Not recorded in the card: keep the completion / deletion pending for the next cycle.
                recon.recorded -= {t.uid for t in world.tasks if t.contact_uid == uid and t.done}
                recon.deleted -= {r.uid for r in self.state.reminders().values() if r.contact_uid == uid}
                log.warning("%s: the card was not written; the next sync tries again", contact.name)

    def _close_and_withdraw(self, world: World, recon: Reconciliation, now: datetime, summary: Summary) -> None:
        for task in recon.complete:
            contact = world.contacts[task.contact_uid]
            when = contact.last_contact or now
            if self.dry_run:
                self.planned.append(f"task {task.href}: mark done ({contact.name} reached {format_instant(when)})")
                summary.closed += 1
                continue
            try:
                etag = tasks.update_task(self.client, task.href, task.etag, complete_text(task.text, when, now))
            except PreconditionFailed:
                log.info("%s changed on the server meanwhile; will look again next cycle", task.href)
                continue
            task.done, task.completed, task.etag = True, when, etag
            recon.recorded.add(task.uid)
            summary.closed += 1
        for task in recon.withdraw:
            if self.dry_run:
                name = world.contacts[task.contact_uid].name
                self.planned.append(f"task {task.href}: delete (If-Match) — {name} is no longer tracked")
                summary.withdrawn += 1
                continue
            try:
                tasks.delete_task(self.client, task.href, task.etag)
            except PreconditionFailed:
                log.info("%s changed on the server meanwhile; left in place", task.href)
                continue
            world.tasks.remove(task)
            recon.deleted.add(task.uid)
            summary.withdrawn += 1
            log.info("withdrew the reminder for %s: no longer tracked", world.contacts[task.contact_uid].name)

    def tracked(self, world: World) -> list[Tracked]:
        out = []
        for uid, membership in world.memberships.items():
            contact = world.contacts[uid]
            out.append(self._tracked_one(contact, membership))
        return out

    def _tracked_one(self, contact: Contact, membership: Membership) -> Tracked:
        bday = contact.bday if self.settings.circles[membership.circle].birthdays else None
        return Tracked(contact.uid, membership.circle, membership.interval, contact.last_contact, contact.snooze, bday)

    def _open(self, world: World, now: datetime) -> list[OpenReminder]:
        today = now.astimezone(self.zone).date()
        return [OpenReminder(t.contact_uid, t.due or today) for t in world.tasks if t.open]

    def _create_reminders(self, world: World, now: datetime, summary: Summary) -> list[Task]:
        assert world.task_list is not None
        tracked = self.tracked(world)
        planned = plan(
            tracked,
            self._open(world, now),
            list(self.settings.circles),
            self.settings.reminders.daily_limit,
            now,
            self.zone,
        )
        created: list[Task] = []
        for item in planned:
            contact = world.contacts[item.uid]
            membership = world.memberships[item.uid]
            uid, text = build_task(
                contact=contact,
                circle=membership.circle,
                interval=membership.interval,
                priority=self.settings.priority(membership.circle),
                due=item.due,
                due_time=self.settings.reminders.due_clock,
                zone=self.zone,
                now=now,
                summary=birthdays.title(contact.name, item.birthday),
            )
            if self.dry_run:
                href, new = tasks.task_href(world.task_list, uid), True
                self.planned.append(
                    f"task {href}: create (If-None-Match) — Reach out to {contact.name}, due {item.due.isoformat()}"
                    f", circle {membership.circle}"
                )
            else:
                href, new = tasks.create_task(self.client, world.task_list, uid, text)
            task = Task(
                href,
                "",
                uid,
                contact.uid,
                birthdays.title(contact.name, item.birthday),
                item.due,
                False,
                None,
                item.due,
                text,
            )
            world.tasks.append(task)
            created.append(task)
            if new:
                summary.created += 1
                log.info("reminder: reach out to %s (circle %s)", contact.name, membership.circle)
        summary.waiting = backlog(tracked, self._open(world, now), now, self.zone)
        return created

    def _save_state(self, world: World, recon: Reconciliation, created: list[Task]) -> None:
        known = self.state.reminders()
        with self.state.transaction():
            for uid in recon.deleted:
                self.state.forget(uid)
            for task in world.tasks:
                previously = known.get(task.uid)
                recorded = task.uid in recon.recorded or (previously is not None and previously.recorded)
                self.state.remember(
                    task.uid,
                    task.contact_uid,
                    task.href,
                    task.due.isoformat() if task.due else None,
                    "done" if task.done else "open",
                    recorded,
                )

    # Views and one-off commands ----------------------------------------------------------------------

    def today(self, now: datetime) -> list[TodayItem]:
        """Open reminders due today or earlier, then whoever the next sync would add (read-only)."""
        world = self.read(create_task_list=False)
        today = now.astimezone(self.zone).date()
        items = [
            TodayItem(
                contact.uid,
                contact.name,
                membership.circle if membership else "",
                due,
                contact.last_contact,
                contact.reach,
                task.href,
            )
            for task, due, contact, membership in world.due_reminders(today)
        ]
        rank = {key: i for i, key in enumerate(self.settings.circles)}
        items.sort(key=lambda i: (i.due, rank.get(i.circle, len(rank)), i.name.casefold()))
        tracked = self.tracked(world)
        for item in plan(
            tracked,
            self._open(world, now),
            list(self.settings.circles),
            self.settings.reminders.daily_limit,
            now,
            self.zone,
        ):
            contact = world.contacts[item.uid]
            items.append(
                TodayItem(
                    contact.uid,
                    contact.name,
                    world.memberships[item.uid].circle,
                    item.due,
                    contact.last_contact,
                    contact.reach,
                    None,
                )
            )
        return items

    def contact(self, query: str) -> tuple[World, Contact]:
        world = self.read(create_task_list=False)
        return world, find_contact(list(world.contacts.values()), query)

    def set_contact(
        self, query: str, circle: str | None, interval: str | None, *, clear_interval: bool = False
    ) -> tuple[Contact, bool]:
        _, contact = self.contact(query)
        tags = notetags.parse(contact.note)
        if (circle is not None and (tags.circle or tags.pause)) or (interval is not None and tags.interval):
            log.warning("%s: the NOTE's tags (#circle, #every, #pause) win over this; remove them there", contact.name)
        updates: dict[str, str | None] = {}
        if circle is not None:
            updates[CIRCLE] = circle
        if interval is not None or clear_interval:
            updates[INTERVAL] = interval
        changed = self.write_card(contact, lambda current: updates, "syncd set")
        return contact, changed

    def done(self, query: str, when: datetime) -> tuple[Contact, bool, bool]:
        """Record contact at `when`; close the contact's open reminder. Returns (contact, wrote, closed)."""
        world, contact = self.contact(query)
        when = when.astimezone(UTC)

        def compute(current: dict[str, str]) -> dict[str, str | None]:
            existing = parse_instant(current.get(LAST_CONTACT, ""))
            if existing is not None and existing >= when:
                return {}
            return {LAST_CONTACT: format_instant(when)}

        wrote = self.write_card(contact, compute, "syncd done")
        if not wrote and contact.last_contact and contact.last_contact > when:
            log.warning(
                "%s already has a later last contact (%s); kept",
                contact.name,
                format_instant(contact.last_contact),
            )
        closed = False
        task = world.open_reminders().get(contact.uid)
        if task is not None and contact.last_contact is not None:
            now = datetime.now(UTC)
            try:
                tasks.update_task(
                    self.client, task.href, task.etag, complete_text(task.text, contact.last_contact, now)
                )
            except PreconditionFailed:
                log.warning("the open reminder for %s changed meanwhile; the next sync closes it", contact.name)
                return contact, wrote, False
            with self.state.transaction():
                self.state.remember(task.uid, task.contact_uid, task.href, None, "done", True)
            closed = True
        return contact, wrote, closed

    def snooze(self, query: str, until: date, now: datetime) -> tuple[Contact, bool, Task | None]:
        """Not due before `until`: the card's X-SYNCD-SNOOZE, and the contact's open reminder (if due earlier)
        moved to that day, as a phone moves a due date. Returns (contact, card written, reminder moved)."""
        world, contact = self.contact(query)
        changed = self.write_card(contact, lambda current: {SNOOZE: until.isoformat()}, "syncd snooze")
        task = world.open_reminders().get(contact.uid)
        if task is None or task.due is None or task.due >= until:
            return contact, changed, None
        try:
            tasks.update_task(self.client, task.href, task.etag, reschedule_text(task.text, until, self.zone, now))
        except PreconditionFailed:
            log.warning("the open reminder for %s changed meanwhile; it keeps its due date", contact.name)
            return contact, changed, None
        except ServerError as err:  # the snooze is in the card already: the reminder's date is the lesser part
            log.warning("could not move the open reminder for %s (%s); it keeps its due date", contact.name, err)
            return contact, changed, None
        with self.state.transaction():
            self.state.remember(task.uid, task.contact_uid, task.href, until.isoformat(), "open", False)
        return contact, changed, task

    def undo(self, entry: Entry) -> bool:
        """Write back the X-SYNCD values a journaled write replaced — only while the card still holds the
        values that write set (otherwise DataError: something changed them since). Conditional like any write."""
        changes = entry.changes()

        def compute(current: dict[str, str]) -> Mapping[str, str | None]:
            for key, _old, new in changes:
                if current.get(key) != new:
                    now_is = current.get(key) or "absent"
                    raise DataError(
                        f"{entry.name}: {key} is {now_is} on the server now, not {new or 'absent'} as change "
                        f"{entry.id} left it; not undone"
                    )
            return entry.undo_updates()

        contact = Contact(uid=entry.uid, name=entry.name, href=entry.href)
        try:
            return self.write_card(contact, compute, f"undo {entry.id}")
        except NotFound as err:
            raise DataError(f"{entry.name}: the card is no longer at {entry.href}; not undone") from err

    def due_of(self, world: World, uid: str, now: datetime) -> date | None:
        membership = world.memberships.get(uid)
        if membership is None:
            return None
        tracked = self._tracked_one(world.contacts[uid], membership)
        return due_date(tracked, self.zone, now.astimezone(self.zone).date())
