"""Reconcile what the server shows with what syncd knew: completions to record, deletions to honour,
reminders to close or withdraw. Pure: the caller reads and writes."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from syncd.core.circles import Membership
from syncd.core.contacts import Contact
from syncd.core.reminders import MANUAL, Task

REMINDER = "reminder"


@dataclass(frozen=True, slots=True)
class KnownReminder:
    """A reminder as syncd last knew it (kept in the state database): whether it was open, and whether its
    completion was recorded in the card."""

    uid: str
    contact_uid: str
    href: str
    due: str | None
    status: str  # open | done | removed
    recorded: bool


@dataclass(slots=True)
class Reconciliation:
    last_contact: dict[str, datetime] = field(default_factory=dict)  # contact uid -> instant to record
    snooze: dict[str, date] = field(default_factory=dict)  # contact uid -> not due before
    complete: list[Task] = field(default_factory=list)  # open reminders of contacts reached some other way
    withdraw: list[Task] = field(default_factory=list)  # open reminders of contacts no longer tracked or deleted
    recorded: set[str] = field(default_factory=set)  # reminder uids whose completion is handled
    deleted: set[str] = field(default_factory=set)  # reminder uids the user deleted
    source: dict[str, str] = field(default_factory=dict)  # contact uid -> where last_contact's instant came from


def reconcile(
    contacts: Mapping[str, Contact],
    memberships: Mapping[str, Membership],
    tasks: list[Task],
    known: Mapping[str, KnownReminder],
    now: datetime,
    zone: ZoneInfo,
    touches: Mapping[str, datetime] | None = None,
    unreadable: Collection[str] = (),
    touch_sources: Mapping[str, str] | None = None,
) -> Reconciliation:
    """`touches`: contact uid -> when the contact was reached outside the reminders (calendar meetings);
    `touch_sources`: contact uid -> the name of the source of that touch ("meeting", "mail").
    `unreadable`: contact uids not among `contacts` whose card may only have failed to parse this time; any
    other contact missing from `contacts` was deleted, and its open reminder is withdrawn."""
    out = Reconciliation()
    today = now.astimezone(zone).date()
    on_server = {t.uid for t in tasks}

    # Contact found elsewhere (meetings): recorded when later than the card's, like a completion.
    for uid, when in (touches or {}).items():
        contact = contacts.get(uid)
        if contact is not None and (contact.last_contact is None or when > contact.last_contact):
            out.last_contact[uid] = when
            if touch_sources and uid in touch_sources:
                out.source[uid] = touch_sources[uid]

    # Completions: the latest completion per contact, unless the card already holds a later contact.
    for task in tasks:
        if not task.done:
            continue
        contact = contacts.get(task.contact_uid)
        known_row = known.get(task.uid)
        if contact is None or (known_row is not None and known_row.recorded):
            out.recorded.add(task.uid)
            continue
        when = task.completed or now
        current = out.last_contact.get(contact.uid) or contact.last_contact
        if current is None or when > current:
            out.last_contact[contact.uid] = when
            out.source[contact.uid] = MANUAL if task.via == MANUAL else REMINDER
        out.recorded.add(task.uid)

    # Deletions: a reminder syncd knew as open is gone from the server -> skip this round.
    for uid, row in known.items():
        if row.status != "open" or uid in on_server:
            continue
        out.deleted.add(uid)
        membership = memberships.get(row.contact_uid)
        if membership is None or row.contact_uid not in contacts:
            continue
        until = membership.interval.after(today)
        if until > out.snooze.get(row.contact_uid, date.min):
            out.snooze[row.contact_uid] = until

    # Open reminders: close those whose contact was reached since they were created; withdraw those of contacts
    # untracked or deleted.
    for task in tasks:
        if task.done:
            continue
        contact = contacts.get(task.contact_uid)
        if contact is None:
            if task.contact_uid not in unreadable:  # the card was deleted: its reminder holds a slot for nobody
                out.withdraw.append(task)
            continue  # else maybe a card that failed to parse this time: leave it alone
        if task.contact_uid not in memberships:
            out.withdraw.append(task)
            continue
        last = out.last_contact.get(contact.uid) or contact.last_contact
        created = task.created or task.due
        if last is not None and created is not None and last.astimezone(zone).date() >= created:
            out.complete.append(task)
    return out
