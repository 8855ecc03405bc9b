"""The audit, the reviews and the calendar events, joined to the engine: a `World` read from the server plus
the local history becomes a `Network`; `after_sync` (the one call at the end of `Engine.sync`) records the
history and writes the events. The computing is in `audit`, `review`, `capacity`, `events` (pure)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING

from syncd.core import events
from syncd.core.contacts import format_instant, parse_instant
from syncd.dav import eventcal
from syncd.dav.client import HTTPStatusError
from syncd.insight.audit import Audit, audit
from syncd.insight.network import Network, circle_specs, collect_touches
from syncd.insight.review import MonthReview, WeekReview, month, week
from syncd.insight.views import month_text, week_text

if TYPE_CHECKING:
    from syncd.engine.cycle import Engine, World

log = logging.getLogger("syncd.core.events")


def build_network(engine: Engine, world: World) -> Network:
    settings = engine.settings
    zone = engine.zone
    remembered = [(uid, parse_instant(at)) for uid, at in engine.state.touches()]
    first_seen = {uid: date.fromisoformat(day) for uid, day in engine.state.first_seen().items()}
    return Network(
        contacts=world.contacts,
        memberships=world.memberships,
        tasks=world.tasks,
        circles=circle_specs({key: (c.name, c.duration) for key, c in settings.circles.items()}),
        touches=collect_touches(world.contacts, world.tasks, zone, [(u, t) for u, t in remembered if t]),
        zone=zone,
        first_seen=first_seen,
    )


def _read(engine: Engine) -> Network:
    return build_network(engine, engine.read(create_task_list=False))


def run_audit(engine: Engine, now: datetime) -> Audit:
    return audit(_read(engine), now.astimezone(engine.zone).date(), engine.settings.reminders.daily_limit)


def run_week(engine: Engine, now: datetime) -> WeekReview:
    return week(_read(engine), now.astimezone(engine.zone).date())


def _month(engine: Engine, net: Network, today: date) -> MonthReview:
    goals = engine.settings.goals
    return month(net, today, engine.settings.reminders.daily_limit, goals.categories, goals.touches_per_year)


def run_month(engine: Engine, now: datetime) -> MonthReview:
    return _month(engine, _read(engine), now.astimezone(engine.zone).date())


def run_all(engine: Engine, now: datetime) -> tuple[Network, Audit, WeekReview, MonthReview]:
    """One read for the report: the network and all three views of it."""
    net = _read(engine)
    today = now.astimezone(engine.zone).date()
    return net, audit(net, today, engine.settings.reminders.daily_limit), week(net, today), _month(engine, net, today)


def digest_items(world: World, today: date) -> list[events.DigestItem]:
    items = [
        events.DigestItem(
            contact.name,
            membership.circle if membership else "",
            due,
            tuple(contact.phones),
            tuple(contact.emails),
        )
        for _task, due, contact, membership in world.due_reminders(today)
    ]
    items.sort(key=lambda i: (i.due, i.circle or "~", i.name.casefold()))
    return items


def record_history(engine: Engine, world: World, now: datetime) -> None:
    state = engine.state
    today = now.astimezone(engine.zone).date().isoformat()
    seen = [(uid, format_instant(c.last_contact)) for uid, c in world.contacts.items() if c.last_contact]
    with state.transaction():
        state.see_contacts(sorted(world.contacts), today)
        state.remember_touches(seen)


def wanted_events(engine: Engine, world: World, today: date) -> list[events.Wanted]:
    """Today's digest (when anyone is on today's list), this week's reflection, this month's review."""
    cfg = engine.settings.events
    zone = engine.zone
    wanted: list[events.Wanted] = []
    digest_at = cfg.at(cfg.digest_time)
    if digest_at is not None:
        digest = events.digest(digest_items(world, today), today, digest_at, zone)
        if digest is not None:
            wanted.append(digest)
    net = build_network(engine, world)
    weekly_at = cfg.at(cfg.weekly_time)
    if weekly_at is not None:
        wanted.append(events.weekly(week_text(week(net, today)), today, cfg.weekday, weekly_at, zone))
    monthly_at = cfg.at(cfg.monthly_time)
    if monthly_at is not None:
        wanted.append(events.monthly(month_text(_month(engine, net, today)), today, monthly_at, zone))
    return wanted


def after_sync(engine: Engine, world: World, now: datetime) -> None:
    """The end of a sync: remember history for the reviews; write the events when `reminders.calendar` is set.

    Events come second to reminders: a server that refuses them (4xx) costs a warning, not the sync.
    """
    record_history(engine, world, now)
    name = engine.settings.reminders.calendar
    if not name:
        return
    today = now.astimezone(engine.zone).date()
    try:
        calendar = eventcal.find_or_create(engine.client, world.account, name, world.task_list)
        engine.before_events(calendar)  # its sync token, taken before the read (see syncd.quiet)
        served = eventcal.read_events(engine.client, calendar, now, engine.zone)
        wanted = wanted_events(engine, world, today)
        remove = events.stale([s.found for s in served.values()], wanted, today)
        outcome = eventcal.write_events(engine.client, calendar, served, wanted, remove, now)
    except HTTPStatusError as err:
        if not 400 <= err.status < 500:
            raise
        log.warning("could not update the events in %r: %s", name, err)
        return
    if outcome.created or outcome.updated or outcome.deleted:
        log.info(
            "events in %r: %d created, %d updated, %d removed",
            name,
            len(outcome.created),
            len(outcome.updated),
            len(outcome.deleted),
        )
