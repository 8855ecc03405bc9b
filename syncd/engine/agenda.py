"""Today's list and who comes next: what `syncd today` prints and what the report's "Today / next up" shows.
Read-only: it plans as the next sync would, and writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from syncd.config import Settings
from syncd.core.planner import due_date
from syncd.engine import plan
from syncd.engine.world import TodayItem, World

NEXT_UP = 7  # how many of the people due after today's list the report shows


@dataclass(frozen=True, slots=True)
class Agenda:
    today: list[TodayItem]  # open reminders due today or earlier, then whoever the next sync adds
    next_up: list[TodayItem]  # the tracked contacts due next, without an open reminder; reminder is None


def today_items(world: World, settings: Settings, now: datetime) -> list[TodayItem]:
    """Open reminders due today or earlier (but a snoozed one the next sync withdraws as the daily limit is full:
    plan.releases), then whoever the next sync would add."""
    day = now.astimezone(settings.schedule.zone).date()
    giving_way = {action.task.uid for action in plan.releases(world, settings, now)}
    items = [
        TodayItem(
            contact.uid,
            contact.name,
            membership.circle if membership else "",
            due,
            contact.last_contact,
            contact.phone,
            contact.email,
            task.href,
        )
        for task, due, contact, membership in world.due_reminders(day)
        if task.uid not in giving_way
    ]
    rank = {key: i for i, key in enumerate(settings.circles)}
    items.sort(key=lambda i: (i.due, rank.get(i.circle, len(rank)), i.name.casefold()))
    for contact, membership, due, _birthday in plan.due_now(world, settings, now):
        items.append(
            TodayItem(
                contact.uid,
                contact.name,
                membership.circle,
                due,
                contact.last_contact,
                contact.phone,
                contact.email,
                None,
            )
        )
    return items


def next_up(
    world: World, settings: Settings, now: datetime, exclude: set[str], count: int = NEXT_UP
) -> list[TodayItem]:
    """The `count` tracked contacts due soonest that are not in `exclude` and have no open reminder: those
    already due wait for room under the daily limit (due on or before today), then the coming ones."""
    zone = settings.schedule.zone
    day = now.astimezone(zone).date()
    busy = exclude | {t.contact_uid for t in world.tasks if t.open}
    rank = {key: i for i, key in enumerate(settings.circles)}
    items = []
    for tracked in plan.tracked(world, settings):
        if tracked.uid in busy:
            continue
        contact = world.contacts[tracked.uid]
        due = due_date(tracked, zone, day)
        items.append(
            TodayItem(
                contact.uid, contact.name, tracked.circle, due, contact.last_contact, contact.phone, contact.email, None
            )
        )
    items.sort(key=lambda i: (i.due, rank.get(i.circle, len(rank)), i.name.casefold()))
    return items[:count]


def agenda(world: World, settings: Settings, now: datetime) -> Agenda:
    today = today_items(world, settings, now)
    return Agenda(today, next_up(world, settings, now, {i.uid for i in today}))
