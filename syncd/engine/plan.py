"""What a cycle intends to write, decided from what it read. No I/O: these functions only look at the `World`,
the reconciliation and the settings, and return actions (syncd.engine.actions) for the writer."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date, datetime

from syncd.config import Settings
from syncd.core import birthdays, notetags, repair
from syncd.core.circles import Membership
from syncd.core.contacts import LAST_CONTACT, SNOOZE, Contact, format_instant, parse_date, parse_instant
from syncd.core.notes import Note
from syncd.core.planner import OpenReminder, Tracked, backlog, over_limit, plan
from syncd.core.reconcile import Reconciliation
from syncd.core.reminders import Task, build_task
from syncd.engine.actions import CloseTask, CreateTask, PatchCard, WithdrawTask
from syncd.engine.world import World


def restorations(world: World, copies: Mapping[str, repair.Copy]) -> list[tuple[PatchCard, dict[str, str]]]:
    """Put back X-SYNCD lines that another client dropped (syncd.store.repair): each with the values."""
    actions = []
    for uid, values in sorted(repair.vanished(world.contacts, copies).items()):

        def compute(current: dict[str, str], values: dict[str, str] = values) -> dict[str, str | None]:
            return {} if current else dict(values)  # lines that came back meanwhile win

        reason = "restore: X-SYNCD lines vanished after an edit elsewhere"
        actions.append((PatchCard(world.contacts[uid], compute, reason), values))
    return actions


def note_mirrors(world: World, settings: Settings) -> list[PatchCard]:
    """NOTE tags (#circle2, #every 3w, #pause) that differ from the card's X-SYNCD fields are written there."""
    circles = list(settings.circles)
    actions = []
    for contact in world.contacts.values():
        tags = notetags.parse(contact.note)
        if notetags.mirror_updates(tags, contact.xsyncd, circles):
            compute = functools.partial(notetags.mirror_updates, tags, circles=circles)
            actions.append(PatchCard(contact, compute, "NOTE tag changed"))
    return actions


def contact_updates(world: World, recon: Reconciliation) -> list[PatchCard]:
    """LAST-CONTACT for completed reminders, SNOOZE for deleted ones (never backwards)."""
    actions = []
    for uid in sorted(set(recon.last_contact) | set(recon.snooze)):
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
        actions.append(PatchCard(world.contacts[uid], compute, " and ".join(reasons)))
    return actions


def closings(world: World, recon: Reconciliation, now: datetime) -> list[CloseTask]:
    """Open reminders of contacts reached some other way (a later LAST-CONTACT, a meeting)."""
    out = []
    for task in recon.complete:
        contact = world.contacts[task.contact_uid]
        out.append(CloseTask(task, contact.name, contact.last_contact or now))
    return out


def withdrawals(world: World, recon: Reconciliation) -> list[WithdrawTask]:
    """Open reminders of contacts no longer tracked, or whose card was deleted."""
    out = []
    for task in recon.withdraw:
        contact = world.contacts.get(task.contact_uid)
        if contact is None:
            out.append(WithdrawTask(task, named(task), "the contact's card was deleted"))
        else:
            out.append(WithdrawTask(task, contact.name))
    return out


def named(task: Task) -> str:
    """Whom a reminder is for when the contact's card is not there: the name in its SUMMARY, else the UID."""
    return task.summary.removeprefix("Reach out to ").removesuffix(" – birthday today").strip() or task.contact_uid


def departures(world: World, left: Mapping[str, Task | None]) -> list[WithdrawTask]:
    """The open reminders syncd knew in a task list `reminders.task_list` no longer names: withdrawn, so that no
    contact has open reminders in two lists (the new list gets its own, with UIDs of its own). Completed ones
    stay there as history."""
    out = []
    for task in left.values():
        if task is None or task.done:
            continue
        contact = world.contacts.get(task.contact_uid)
        name = contact.name if contact is not None else named(task)
        out.append(WithdrawTask(task, name, "reminders.task_list names another list now"))
    return out


def releases(world: World, settings: Settings, now: datetime) -> list[WithdrawTask]:
    """On a day whose slots are all taken, snoozed reminders coming due, then syncd's newest own ones, make room
    (for a DUE the user moved there): withdrawn, their contacts wait for a free slot
    (syncd.core.planner.over_limit), so that never more than `daily_limit` are due."""
    zone = settings.schedule.zone
    today = now.astimezone(zone).date()
    limit = settings.reminders.daily_limit
    give_way = set(over_limit(open_reminders(world, today), limit, now, zone))
    out = []
    for task in world.tasks:
        if task.open and task.contact_uid in give_way and not users(world, task):
            give_way.discard(task.contact_uid)
            if snoozed(world, task):
                why = f"snoozed until {task.due}, and the {limit} reminders due today fill the daily limit; it waits"
            else:
                why = f"a due date moved on the phone takes its place in the daily limit of {limit}; it waits"
            out.append(WithdrawTask(task, world.contacts[task.contact_uid].name, why))
    return out


def tracked(world: World, settings: Settings) -> list[Tracked]:
    return [tracked_one(world.contacts[uid], m, settings) for uid, m in world.memberships.items()]


def tracked_one(contact: Contact, membership: Membership, settings: Settings) -> Tracked:
    bday = contact.bday if settings.circles[membership.circle].birthdays else None
    return Tracked(contact.uid, membership.circle, membership.interval, contact.last_contact, contact.snooze, bday)


def snoozed(world: World, task: Task) -> bool:
    """Whether `syncd snooze` moved this open reminder's DUE: it is the contact's X-SYNCD-SNOOZE, later than
    the day the reminder was made (one made on its contact's snooze date is not a snoozed one)."""
    contact = world.contacts.get(task.contact_uid)
    if contact is None or contact.snooze is None or task.due != contact.snooze:
        return False
    return task.created is None or task.created < task.due


def moved(world: World, task: Task) -> bool:
    """Whether the user moved this open reminder's DUE: it is neither a snooze nor the day the reminder was made
    (syncd makes a reminder due the day it makes it). Without a creation date, it counts as the user's."""
    if snoozed(world, task):
        return False
    return task.created is None or task.due is None or task.due != task.created


def users(world: World, task: Task) -> bool:
    """Whether an open reminder is the user's to keep, never withdrawn to make room: its DUE was moved on the
    phone, or it holds a note typed there (a withdrawal would lose it)."""
    return moved(world, task) or bool(task.note)


def open_reminders(world: World, today: date) -> list[OpenReminder]:
    return [
        OpenReminder(t.contact_uid, t.due or today, snoozed(world, t) and not t.note, users(world, t))
        for t in [*world.tasks, *world.elsewhere]
        if t.open
    ]


def due_now(
    world: World, settings: Settings, now: datetime, tracked_now: list[Tracked] | None = None
) -> list[tuple[Contact, Membership, date, bool]]:
    """Whom the planner adds now, within the daily limit: (contact, membership, due, birthday). `tracked_now`:
    `tracked(world, settings)` when the caller has it already."""
    zone = settings.schedule.zone
    today = now.astimezone(zone).date()
    planned = plan(
        tracked_now if tracked_now is not None else tracked(world, settings),
        open_reminders(world, today),
        list(settings.circles),
        settings.reminders.daily_limit,
        now,
        zone,
    )
    return [(world.contacts[i.uid], world.memberships[i.uid], i.due, i.birthday) for i in planned]


def reminders(
    world: World,
    settings: Settings,
    now: datetime,
    tracked_now: list[Tracked],
    last_notes: Mapping[str, Note] | None = None,
) -> list[CreateTask]:
    """The reminders to create now; each carries the latest note about its contact (`last_notes`, by contact)."""
    zone = settings.schedule.zone
    out = []
    for contact, membership, due, birthday in due_now(world, settings, now, tracked_now):
        title = birthdays.title(contact.name, birthday)
        note = (last_notes or {}).get(contact.uid)
        uid, text = build_task(
            contact=contact,
            circle=membership.circle,
            interval=membership.interval,
            priority=settings.priority(membership.circle),
            due=due,
            due_time=settings.reminders.due_clock,
            zone=zone,
            now=now,
            task_list=world.task_list.url if world.task_list is not None else "",
            summary=title,
            last_note=(note.at.astimezone(zone).date(), note.text) if note is not None else None,
        )
        task = Task("", "", uid, contact.uid, title, due, False, None, due, text)
        out.append(CreateTask(task, contact.name, membership.circle))
    return out


def waiting(world: World, settings: Settings, now: datetime, tracked_now: list[Tracked]) -> int:
    """How many more are due but wait for a free slot (after the reminders created now)."""
    zone = settings.schedule.zone
    today = now.astimezone(zone).date()
    return backlog(tracked_now, open_reminders(world, today), now, zone)
