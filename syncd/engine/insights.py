"""The audit, the reviews and the calendar events, from what a read found: a `World` plus the local history
becomes a `Network` (syncd.insight); the cycle records the history and writes the events through here. The
computing is in `syncd.insight` and `syncd.core.events` (pure)."""

from __future__ import annotations

import logging
from datetime import date, datetime

from syncd.core import events
from syncd.core.account import Collection
from syncd.core.contacts import format_instant, parse_instant
from syncd.dav import eventcal
from syncd.engine.agenda import Agenda, agenda
from syncd.engine.reading import Reader
from syncd.engine.session import Session
from syncd.engine.world import World
from syncd.insight.audit import Audit, audit
from syncd.insight.network import Network, circle_specs, collect_touches
from syncd.insight.review import MonthReview, WeekReview, month, week
from syncd.insight.text import month_text, week_text

log = logging.getLogger("syncd.events")


def build_network(session: Session, world: World) -> Network:
    settings = session.settings
    zone = session.zone
    remembered = [(uid, parse_instant(at)) for uid, at in session.state.touches()]
    first_seen = {uid: date.fromisoformat(day) for uid, day in session.state.first_seen().items()}
    return Network(
        contacts=world.contacts,
        memberships=world.memberships,
        tasks=world.tasks,
        circles=circle_specs({key: (c.name, c.duration) for key, c in settings.circles.items()}),
        touches=collect_touches(
            world.contacts, world.tasks, zone, [(u, t) for u, t in remembered if t], session.state.touch_sources()
        ),
        zone=zone,
        first_seen=first_seen,
    )


def _read(session: Session) -> Network:
    return build_network(session, Reader(session).read(create_task_list=False))


def run_audit(session: Session, now: datetime) -> Audit:
    return audit(_read(session), now.astimezone(session.zone).date(), session.settings.reminders.daily_limit)


def run_week(session: Session, now: datetime) -> WeekReview:
    return week(_read(session), now.astimezone(session.zone).date())


def _month(session: Session, net: Network, today: date) -> MonthReview:
    goals = session.settings.goals
    return month(net, today, session.settings.reminders.daily_limit, goals.categories, goals.touches_per_year)


def run_month(session: Session, now: datetime) -> MonthReview:
    return _month(session, _read(session), now.astimezone(session.zone).date())


def run_all(session: Session, now: datetime) -> tuple[Network, Audit, WeekReview, MonthReview, Agenda]:
    """One read for the report: the network, all three views of it, and today's list with who comes next."""
    world = Reader(session).read(create_task_list=False)
    net = build_network(session, world)
    today = now.astimezone(session.zone).date()
    limit = session.settings.reminders.daily_limit
    return (
        net,
        audit(net, today, limit),
        week(net, today),
        _month(session, net, today),
        agenda(world, session.settings, now),
    )


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


def record_history(session: Session, world: World, now: datetime) -> None:
    """Remember first-seen contacts and every LAST-CONTACT seen, for the reviews."""
    state = session.state
    today = now.astimezone(session.zone).date().isoformat()
    seen = [(uid, format_instant(c.last_contact)) for uid, c in world.contacts.items() if c.last_contact]
    with state.transaction():
        state.see_contacts(sorted(world.contacts), today)
        state.remember_touches(seen)


def wanted_events(session: Session, world: World, today: date) -> list[events.Wanted]:
    """Today's digest (when anyone is on today's list), this week's reflection, this month's review."""
    cfg = session.settings.events
    zone = session.zone
    wanted: list[events.Wanted] = []
    digest_at = cfg.at(cfg.digest_time)
    if digest_at is not None:
        digest = events.digest(digest_items(world, today), today, digest_at, zone)
        if digest is not None:
            wanted.append(digest)
    net = build_network(session, world)
    weekly_at = cfg.at(cfg.weekly_time)
    if weekly_at is not None:
        wanted.append(events.weekly(week_text(week(net, today)), today, cfg.weekday, weekly_at, zone))
    monthly_at = cfg.at(cfg.monthly_time)
    if monthly_at is not None:
        wanted.append(events.monthly(month_text(_month(session, net, today)), today, monthly_at, zone))
    return wanted


def events_calendar(session: Session, world: World) -> Collection:
    """The calendar `reminders.calendar` names, created VEVENT-only when missing."""
    name = session.settings.reminders.calendar
    return eventcal.find_or_create(session.clients.calendars, world.account, name, world.task_list)


def write_events(session: Session, calendar: Collection, world: World, now: datetime) -> None:
    """Compare the wanted events with the calendar (one time-range REPORT); PUT only those that differ."""
    client = session.clients.calendars
    today = now.astimezone(session.zone).date()
    served = eventcal.read_events(client, calendar, now, session.zone)
    wanted = wanted_events(session, world, today)
    remove = events.stale([s.found for s in served.values()], wanted, today)
    outcome = eventcal.write_events(client, calendar, served, wanted, remove, now)
    if outcome.created or outcome.updated or outcome.deleted:
        log.info(
            "events in %r: %d created, %d updated, %d removed",
            session.settings.reminders.calendar,
            len(outcome.created),
            len(outcome.updated),
            len(outcome.deleted),
        )
