"""`syncd show` and `syncd list`: one read of the server and the state's records, as `Person` views
(syncd.insight.person). Read-only."""

from __future__ import annotations

from datetime import date, datetime

from syncd.core import notes
from syncd.core.contacts import find_contact
from syncd.core.planner import due_date
from syncd.core.reminders import Task
from syncd.engine import plan
from syncd.engine.reading import Reader
from syncd.engine.session import Session
from syncd.engine.world import World
from syncd.insight.person import Person, person


def _next_due(session: Session, world: World, now: datetime) -> dict[str, date]:
    """Contact UID -> the DUE of its open reminder, else the day it becomes due."""
    today = now.astimezone(session.zone).date()
    out = {t.uid: due_date(t, session.zone, today) for t in plan.tracked(world, session.settings)}
    for task in world.tasks:
        if task.open and task.due is not None:
            out[task.contact_uid] = task.due
    return out


def _people(session: Session, world: World, now: datetime, uids: list[str]) -> list[Person]:
    sources = session.state.touch_sources()
    kept = notes.merged(session.state.notes(), notes.from_tasks(world.tasks, now))
    due = _next_due(session, world, now)
    tasks: dict[str, list[Task]] = {}
    for task in world.tasks:
        tasks.setdefault(task.contact_uid, []).append(task)
    by_contact: dict[str, list[notes.Note]] = {}
    for note in kept.values():
        by_contact.setdefault(note.contact_uid, []).append(note)
    return [
        person(
            world.contacts[uid],
            world.memberships.get(uid),
            tasks.get(uid, []),
            sources,
            due.get(uid),
            by_contact.get(uid, []),
        )
        for uid in uids
    ]


def show(session: Session, query: str, now: datetime) -> Person:
    """One contact (DataError: none or several match `query`)."""
    world = Reader(session).read(create_task_list=False)
    contact = find_contact(list(world.contacts.values()), query)
    return _people(session, world, now, [contact.uid])[0]


def listing(session: Session, now: datetime, circle: str | None = None, due: bool = False) -> list[Person]:
    """Every contact, by name; `circle`: only that circle's (`none`: the untracked); `due`: only those due
    today or earlier."""
    world = Reader(session).read(create_task_list=False)
    uids = sorted(world.contacts, key=lambda u: (world.contacts[u].name.casefold(), u))
    people = _people(session, world, now, uids)
    today = now.astimezone(session.zone).date()
    if circle is not None:
        people = [p for p in people if (p.circle or "none") == circle]
    if due:
        people = [p for p in people if p.next_due is not None and p.next_due <= today]
    return people
