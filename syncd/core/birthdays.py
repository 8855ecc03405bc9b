"""Birthdays as moments to reach out. Pure: no clock, dates in the user's zone.

A contact's window runs from its last contact to its due date (last contact + interval). When its next
birthday falls in the coming second half of that window — at least half an interval after the last contact,
not before today, not after the day it would be due anyway, and not before a snooze — the contact is due on
the birthday instead, and its reminder says so. A contact that is already due and has its birthday today gets
the birthday reminder as well. BDAY without a year (vCard 4 `--MMDD`, Apple's year 1604) works the same way;
29 February is celebrated on 28 February in other years.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from syncd.core.durations import Duration


def next_birthday(bday: date, on_or_after: date) -> date:
    """The first anniversary of `bday` on or after the given day."""
    for year in (on_or_after.year, on_or_after.year + 1):
        try:
            day = date(year, bday.month, bday.day)
        except ValueError:  # 29 February in a common year
            day = date(year, 2, 28)
        if day >= on_or_after:
            return day
    raise AssertionError("unreachable: a birthday comes within a year")


def birthday_due(
    bday: date | None,
    last_contact: date | None,
    interval: Duration,
    due: date,
    today: date,
    snooze: date | None = None,
) -> date | None:
    """The birthday the contact's reminder moves to, or None when the birthday does not count this round."""
    if bday is None:
        return None
    coming = next_birthday(bday, today)
    if coming == today and due <= today:
        return today  # already due (or overdue): the reminder today is a birthday one
    if coming > due or (snooze is not None and coming < snooze):
        return None
    if last_contact is not None and coming < last_contact + timedelta(days=math.ceil(interval.approx_days / 2)):
        return None
    return coming


def title(name: str, birthday: bool) -> str:
    """The reminder's SUMMARY."""
    return f"Reach out to {name} – birthday today" if birthday else f"Reach out to {name}"
