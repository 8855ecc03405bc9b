"""The one-off commands: `today`, `set`, `done`, `snooze` and `history --undo`. Each reads through the one
reader and writes through the one writer; `now` is always given (the engine never reads the clock)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime

from syncd.core import notetags
from syncd.core.contacts import (
    CIRCLE,
    INTERVAL,
    LAST_CONTACT,
    SNOOZE,
    Contact,
    find_contact,
    format_instant,
    parse_instant,
)
from syncd.core.notes import Note
from syncd.core.reminders import (
    MANUAL,
    BrokenTask,
    Task,
    build_task,
    complete_text,
    parse_task,
    reminder_uid,
    reopen_text,
    reschedule_text,
    undated_text,
)
from syncd.dav import tasks
from syncd.dav.client import NotFound, Refused
from syncd.engine import agenda
from syncd.engine.actions import PatchCard
from syncd.engine.reading import Reader
from syncd.engine.session import Session
from syncd.engine.world import TodayItem, World
from syncd.engine.writing import Writer
from syncd.errors import DataError, PreconditionFailed, ServerError, WriteRefused
from syncd.store.journal import ClosedReminder, Entry

log = logging.getLogger("syncd")


def today(session: Session, now: datetime, *, offline: bool = False) -> list[TodayItem]:
    """Open reminders due today or earlier, then whoever the next sync would add (read-only). `offline`: from
    what the last read left in the cache, asking the server nothing (reading.NotCached: nothing there)."""
    world = Reader(session, offline=offline).read(create_task_list=False)
    return agenda.today_items(world, session.settings, now)


def find(session: Session, query: str) -> tuple[World, Contact]:
    """The world as read now, and the contact a CONTACT argument names (DataError: none or several)."""
    world = Reader(session).read(create_task_list=False)
    return world, find_contact(list(world.contacts.values()), query)


def set_contact(
    session: Session, query: str, circle: str | None, interval: str | None, *, clear_interval: bool = False
) -> tuple[Contact, bool]:
    _, contact = find(session, query)
    tags = notetags.parse(contact.note)
    if (circle is not None and (tags.circle or tags.pause)) or (interval is not None and tags.interval):
        log.warning("%s: the NOTE's tags (#circle, #every, #pause) win over this; remove them there", contact.name)
    updates: dict[str, str | None] = {}
    if circle is not None:
        updates[CIRCLE] = circle
    if interval is not None or clear_interval:
        updates[INTERVAL] = interval
    changed = Writer(session, strict=True).card(PatchCard(contact, lambda current: updates, "syncd set"))
    return contact, changed


def done(
    session: Session, query: str, when: datetime, now: datetime, note: str | None = None
) -> tuple[Contact, bool, bool]:
    """Record contact at `when`; close the contact's open reminder. With a `note`, the reminder closed holds it,
    or, with none open, a reminder made done holds it: the server keeps the record of every note. Returns
    (contact, wrote, closed)."""
    world, contact = find(session, query)
    when = when.astimezone(UTC)

    def compute(current: dict[str, str]) -> dict[str, str | None]:
        existing = parse_instant(current.get(LAST_CONTACT, ""))
        if existing is not None and existing >= when:
            return {}
        return {LAST_CONTACT: format_instant(when)}

    wrote = Writer(session, strict=True).card(PatchCard(contact, compute, "syncd done"))
    if not wrote and contact.last_contact and contact.last_contact > when:
        later = contact.last_contact.astimezone(session.zone).strftime("%Y-%m-%d %H:%M")
        log.warning("%s already has a later last contact (%s); kept", contact.name, later)
    if wrote:
        with session.state.transaction():
            session.state.remember_sourced_touches([(contact.uid, format_instant(when), MANUAL)])
    task = world.open_reminders().get(contact.uid)
    if note is not None and task is None:
        _noted(session, world, contact, when, now, note)
        return contact, wrote, False
    if task is None or contact.last_contact is None:
        return contact, wrote, False
    text = complete_text(task.text, contact.last_contact, now, note, manual=True)
    try:
        etag = tasks.update_task(session.clients.calendars, task.href, task.etag, text)
    except PreconditionFailed:
        log.warning("the open reminder for %s changed meanwhile; the next sync closes it", contact.name)
        return contact, wrote, False
    except Refused as err:
        raise WriteRefused(
            f"{contact.name}: the last contact is in the card, but the server refused to mark the open "
            f"reminder done: {err.reason}"
        ) from err
    entry_id = session.journal.latest(contact.uid) if wrote else None
    if entry_id is not None:  # undoing this write opens the reminder again
        session.journal.closed_reminder(entry_id, ClosedReminder(task.uid, task.href, etag, task.text))
    with session.state.transaction():
        session.state.remember(task.uid, task.contact_uid, task.href, None, "done", True)
        if note is not None:
            session.state.remember_notes([Note(task.uid, contact.uid, contact.last_contact, note.strip(), MANUAL)])
    return contact, wrote, True


def _noted(session: Session, world: World, contact: Contact, when: datetime, now: datetime, note: str) -> None:
    """A reminder for `contact`, done at `when`, holding `note` (`done --note` with no reminder open)."""
    settings = session.settings
    task_list = world.task_list or Reader(session).read(create_task_list=True).task_list
    assert task_list is not None
    membership = world.memberships.get(contact.uid)
    circle = membership.circle if membership else next(iter(settings.circles))
    interval = membership.interval if membership else settings.circles[circle].duration
    day = when.astimezone(session.zone).date()
    uid = f"{reminder_uid(contact.uid, day, task_list.url)}-note-{when:%H%M%S}"
    _, text = build_task(
        contact=contact,
        circle=circle,
        interval=interval,
        priority=settings.priority(circle),
        due=day,
        due_time=None,
        zone=session.zone,
        now=now,
        task_list=task_list.url,
        uid=uid,
    )
    text = undated_text(complete_text(text, when, now, note, manual=True), now)
    try:
        href, _new = tasks.create_task(session.clients.calendars, task_list, uid, text)
    except Refused as err:
        raise WriteRefused(
            f"{contact.name}: the last contact is in the card, but the server refused the reminder that keeps "
            f"the note: {err.reason}"
        ) from err
    with session.state.transaction():
        session.state.remember(uid, contact.uid, href, None, "done", True)
        session.state.remember_notes([Note(uid, contact.uid, when, note.strip(), MANUAL)])


def snooze(session: Session, query: str, until: date, now: datetime) -> tuple[Contact, bool, Task | None]:
    """Not due before `until`: the card's X-SYNCD-SNOOZE, and the contact's open reminder (if due earlier)
    moved to that day, as a phone moves a due date. Its slot is free until then; if on that day the slots are
    all taken, the sync withdraws it and the contact waits (syncd.engine.plan.releases), so never more than
    `daily_limit` are due. Returns (contact, card written, reminder moved)."""
    world, contact = find(session, query)
    changed = Writer(session, strict=True).card(
        PatchCard(contact, lambda current: {SNOOZE: until.isoformat()}, "syncd snooze")
    )
    task = world.open_reminders().get(contact.uid)
    if task is None or task.due is None or task.due >= until:
        return contact, changed, None
    text = reschedule_text(task.text, until, session.zone, now)
    try:
        tasks.update_task(session.clients.calendars, task.href, task.etag, text)
    except PreconditionFailed:
        log.warning("the open reminder for %s changed meanwhile; it keeps its due date", contact.name)
        return contact, changed, None
    except Refused as err:
        raise WriteRefused(
            f"{contact.name}: not due before {until.isoformat()} in the card, but the server refused to move "
            f"the open reminder, which keeps its due date: {err.reason}"
        ) from err
    except ServerError as err:  # the snooze is in the card already: the reminder's date is the lesser part
        log.warning("could not move the open reminder for %s (%s); it keeps its due date", contact.name, err)
        return contact, changed, None
    with session.state.transaction():
        session.state.remember(task.uid, task.contact_uid, task.href, until.isoformat(), "open", False)
    return contact, changed, task


def undo(session: Session, entry: Entry, now: datetime) -> tuple[bool, bool | None]:
    """Write back the X-SYNCD values a journaled write replaced — only while the card still holds the
    values that write set (otherwise DataError: something changed them since). Conditional like any write.
    A `done` is undone whole: the reminder it closed is opened again, and the touch it recorded is forgotten.
    Returns (card written, reminder open again: None when the write closed none)."""
    session.watch_writes()
    wrote = _undo_card(session, entry)
    if not wrote:
        return False, None
    last = entry.after.get(LAST_CONTACT)
    instant = parse_instant(last) if last and entry.before.get(LAST_CONTACT) != last else None
    if instant is not None:
        with session.state.transaction():
            session.state.forget_touch(entry.uid, format_instant(instant))
    if entry.reminder is None:
        return True, None
    return True, _reopen(session, entry, entry.reminder, now)


def _reopen(session: Session, entry: Entry, closed: ClosedReminder, now: datetime) -> bool:
    """The reminder a `done` closed, open again as it was before (If-Match: a change made since is kept)."""
    state = session.state
    others = [r for r in state.reminders().values() if r.contact_uid == entry.uid and r.uid != closed.uid]
    if any(r.status == "open" for r in others):
        log.warning("%s has another open reminder; the one change %s closed stays closed", entry.name, entry.id)
        return False
    client = session.clients.calendars
    try:
        current = tasks.get_task(client, closed.href)
        task = parse_task(current.href, current.etag, current.text, session.zone)
    except NotFound:
        log.warning("%s: the reminder change %s closed was deleted since; not reopened", entry.name, entry.id)
        return False
    except BrokenTask as err:
        log.warning(
            "%s: the reminder change %s closed cannot be read now (%s); not reopened", entry.name, entry.id, err
        )
        return False
    if task is None or task.uid != closed.uid:
        log.warning("%s: %s holds another reminder now; not reopened", entry.name, closed.href)
        return False
    if task.done:
        text = reopen_text(task.text, closed.before, now)
        try:
            etag = tasks.update_task(client, closed.href, current.etag, text)
        except PreconditionFailed:
            log.warning("%s: the reminder changed on the server just now; not reopened", entry.name)
            return False
        task = parse_task(closed.href, etag, text, session.zone) or task
    with state.transaction():
        due = task.due.isoformat() if task.due else None
        state.remember(task.uid, task.contact_uid, task.href, due, "open", False)
        state.forget_note(task.uid)
    return True


def _undo_card(session: Session, entry: Entry) -> bool:
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
        return Writer(session, strict=True).card(PatchCard(contact, compute, f"undo {entry.id}"))
    except NotFound as err:
        raise DataError(f"{entry.name}: the card is no longer at {entry.href}; not undone") from err
