"""The planning core: who is due, in which order, within the daily limit. Pure: no I/O, no clock.

Everything is a function of the contacts' metadata, the open reminders, the circles and `now` (an aware
datetime) in the user's time zone. "Today" is `now`'s date in that zone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from syncd.core.birthdays import birthday_due
from syncd.core.durations import Duration

# A contact never contacted has no "days overdue": it ranks as at least half an interval overdue, so new
# contacts are not starved by a steady stream of slightly overdue ones (at ratio 0 they waited 4x their
# interval in bench/simulate.py), yet do not push ahead of the badly overdue.
NEVER_CONTACTED_RATIO = 0.5


@dataclass(frozen=True, slots=True)
class Tracked:
    """A contact syncd keeps in touch with."""

    uid: str
    circle: str
    interval: Duration
    last_contact: datetime | None = None  # aware
    snooze: date | None = None
    birthday: date | None = None  # BDAY (its month and day count), when the contact's circle uses birthdays


@dataclass(frozen=True, slots=True)
class OpenReminder:
    contact_uid: str
    due: date  # the reminder's DUE as a date in the user's zone
    snoozed: bool = False  # its DUE is the contact's X-SYNCD-SNOOZE: `syncd snooze` moved it there
    moved: bool = False  # the user moved its DUE (on the phone): neither the day syncd made it nor a snooze


@dataclass(frozen=True, slots=True)
class Planned:
    """A reminder to create today."""

    uid: str
    due: date  # today
    since: date  # the day the contact became due
    overdue_ratio: float  # days overdue / interval days
    birthday: bool = False  # today is the contact's birthday: the reminder says so


def local_date(instant: datetime, zone: ZoneInfo) -> date:
    return instant.astimezone(zone).date()


def due_date(contact: Tracked, zone: ZoneInfo, today: date) -> date:
    """max(last contact + interval, snooze); never contacted means due today; a birthday in the coming
    second half of the window moves it earlier, to the birthday (see `birthdays`)."""
    last = local_date(contact.last_contact, zone) if contact.last_contact else None
    base = contact.interval.after(last) if last else today
    if contact.snooze and contact.snooze > base:
        base = contact.snooze
    birthday = birthday_due(contact.birthday, last, contact.interval, base, today, contact.snooze)
    return birthday if birthday is not None and birthday < base else base


def overdue_ratio(contact: Tracked, since: date, today: date) -> float:
    days = max(contact.interval.approx_days, 1.0)
    ratio = (today - since).days / days
    if contact.last_contact is None:
        return max(ratio, NEVER_CONTACTED_RATIO)
    return ratio


def rank_key(item: Planned, circle_rank: int, uid: str) -> tuple[bool, float, int, str]:
    """Birthdays today first, then the most overdue relative to interval, inner circles breaking ties."""
    return (not item.birthday, -item.overdue_ratio, circle_rank, uid)


def plan(
    contacts: Iterable[Tracked],
    open_reminders: Iterable[OpenReminder],
    circles: Sequence[str],
    daily_limit: int,
    now: datetime,
    zone: ZoneInfo,
) -> list[Planned]:
    """The reminders to create now: birthdays today first, then the most overdue (relative to interval),
    inner circles breaking ties; never-contacted contacts count as at least half an interval overdue.

    - at most one open reminder per contact: a contact that has one gets none;
    - open reminders due today or earlier, plus the new ones, never exceed `daily_limit`;
    - a reminder is created only once its contact is due, with DUE = today.
    """
    today = local_date(now, zone)
    reminders = list(open_reminders)
    has_open = {r.contact_uid for r in reminders}
    due_now = sum(1 for r in reminders if r.due <= today)
    slots = max(daily_limit - due_now, 0)
    if slots == 0:
        return []
    rank = {key: i for i, key in enumerate(circles)}
    candidates: list[tuple[tuple[bool, float, int, str], Planned]] = []
    seen: set[str] = set()
    for contact in contacts:
        if contact.uid in has_open or contact.uid in seen:
            continue
        seen.add(contact.uid)
        since = due_date(contact, zone, today)
        if since > today:
            continue
        birthday = birthday_due(contact.birthday, None, contact.interval, today, today) == today
        item = Planned(contact.uid, today, since, overdue_ratio(contact, since, today), birthday)
        candidates.append((rank_key(item, rank.get(contact.circle, len(rank)), contact.uid), item))
    candidates.sort(key=lambda pair: pair[0])
    return [item for _, item in candidates[:slots]]


def over_limit(open_reminders: Iterable[OpenReminder], daily_limit: int, now: datetime, zone: ZoneInfo) -> list[str]:
    """The contacts whose reminder gives way today, so that no more than `daily_limit` are due.

    A snooze moves an open reminder's DUE to the snooze date, which frees its slot until then, and the next
    sync fills that slot. On the snooze date the reminder comes due again: when the slots are all taken then,
    it is withdrawn and its contact waits like any other due contact (its X-SYNCD-SNOOZE has passed), to get a
    new reminder as soon as a slot is free, ranked by how overdue it is. The latest come due give way first.
    A DUE that the user moved on the phone is kept; when it comes due on a full day, syncd's own reminders
    (DUE still the day syncd made them) give way for it, the newest first. Only when the user's own moves alone
    fill the day is the limit theirs to exceed.
    """
    today = local_date(now, zone)
    due = [r for r in open_reminders if r.due <= today]
    excess = len(due) - daily_limit
    if excess <= 0:
        return []
    newest_first = sorted(due, key=lambda r: (-r.due.toordinal(), r.contact_uid))
    snoozed = [r for r in newest_first if r.snoozed]
    ours = [r for r in newest_first if not r.snoozed and not r.moved]
    return [r.contact_uid for r in [*snoozed, *ours][:excess]]


def backlog(contacts: Iterable[Tracked], open_reminders: Iterable[OpenReminder], now: datetime, zone: ZoneInfo) -> int:
    """How many contacts are due but have no reminder yet (they wait for a free slot)."""
    today = local_date(now, zone)
    has_open = {r.contact_uid for r in open_reminders}
    return sum(1 for c in contacts if c.uid not in has_open and due_date(c, zone, today) <= today)
