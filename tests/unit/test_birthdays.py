"""Birthdays in the coming part of a contact's window move its reminder to the birthday."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.core.birthdays import birthday_due, next_birthday, title
from syncd.core.contacts import Card, contact_from_card
from syncd.core.durations import Duration
from syncd.core.planner import Tracked, due_date, plan
from tests.factories import vcard

ZONE = ZoneInfo("Europe/Berlin")
P90D = Duration("P90D")


def test_next_birthday_and_leap_day() -> None:
    assert next_birthday(date(1990, 3, 5), date(2027, 3, 5)) == date(2027, 3, 5)
    assert next_birthday(date(1990, 3, 5), date(2027, 3, 6)) == date(2028, 3, 5)
    assert next_birthday(date(2000, 2, 29), date(2027, 1, 1)) == date(2027, 2, 28)
    assert next_birthday(date(2000, 2, 29), date(2028, 1, 1)) == date(2028, 2, 29)


def test_birthday_in_second_half_of_window_counts() -> None:
    last, today = date(2027, 1, 1), date(2027, 2, 20)  # due 2027-04-01; half-way 2027-02-15
    assert birthday_due(date(1980, 3, 10), last, P90D, date(2027, 4, 1), today) == date(2027, 3, 10)
    # First half of the window: too soon after the last contact.
    assert birthday_due(date(1980, 1, 20), last, P90D, date(2027, 4, 1), date(2027, 1, 10)) is None
    # After the due date: the contact is due anyway before it.
    assert birthday_due(date(1980, 5, 1), last, P90D, date(2027, 4, 1), today) is None
    # Before a snooze: not then.
    assert birthday_due(date(1980, 3, 10), last, P90D, date(2027, 4, 1), today, date(2027, 3, 20)) is None


def test_due_date_moves_to_the_birthday_and_plan_says_so() -> None:
    last = datetime(2027, 1, 1, 12, tzinfo=UTC)
    c = Tracked("a", "3", P90D, last, None, date(1604, 3, 10))  # vCard 4 --0310 reads as year 1604
    assert due_date(c, ZONE, date(2027, 3, 1)) == date(2027, 3, 10)
    assert plan([c], [], ["1", "2", "3"], 5, datetime(2027, 3, 9, 9, tzinfo=ZONE), ZONE) == []
    got = plan([c], [], ["1", "2", "3"], 5, datetime(2027, 3, 10, 9, tzinfo=ZONE), ZONE)
    assert [(p.uid, p.due, p.birthday) for p in got] == [("a", date(2027, 3, 10), True)]
    # Missed (no slot that day): the next day it reverts to the normal due date.
    assert due_date(c, ZONE, date(2027, 3, 11)) == date(2027, 4, 1)


def test_birthday_today_ranks_first() -> None:
    now = datetime(2027, 3, 10, 9, tzinfo=ZONE)
    overdue = Tracked("z-overdue", "1", Duration("P14D"), datetime(2026, 12, 1, tzinfo=UTC))
    birthday = Tracked("b-birthday", "3", P90D, datetime(2027, 1, 1, tzinfo=UTC), None, date(1990, 3, 10))
    got = plan([overdue, birthday], [], ["1", "2", "3"], 1, now, ZONE)
    assert [p.uid for p in got] == ["b-birthday"]


def test_title() -> None:
    assert title("Ada", True) == "Reach out to Ada – birthday today"
    assert title("Ada", False) == "Reach out to Ada"


def test_bday_forms_read_from_cards() -> None:
    def bday(value: str) -> date | None:
        text = vcard("x", "X", value, version="4.0", n=None)
        return contact_from_card(Card("/x.vcf", "", text)).bday

    assert bday("BDAY:19850310") == date(1985, 3, 10)
    assert bday("BDAY:1985-03-10") == date(1985, 3, 10)
    assert bday("BDAY;VALUE=date:--0310") == date(1604, 3, 10)
    assert bday("BDAY:--03-10") == date(1604, 3, 10)
    assert bday("BDAY;X-APPLE-OMIT-YEAR=1604:1604-03-10") == date(1604, 3, 10)
    assert bday("BDAY:1985-03-10T00:00:00Z") == date(1985, 3, 10)


@settings(max_examples=300, deadline=None)
@given(
    last=st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2027, 12, 31))),
    days=st.integers(1, 400),
    bday=st.dates(date(1604, 1, 1), date(1604, 12, 31)),
    today=st.dates(date(2027, 1, 1), date(2027, 12, 31)),
    snooze=st.one_of(st.none(), st.dates(date(2027, 1, 1), date(2028, 6, 30))),
)
def test_a_birthday_only_ever_brings_the_due_date_forward_to_itself(
    last: date | None, days: int, bday: date, today: date, snooze: date | None
) -> None:
    interval = Duration(f"P{days}D")
    instant = datetime(last.year, last.month, last.day, 12, tzinfo=UTC) if last else None
    plain = due_date(Tracked("a", "1", interval, instant, snooze), ZONE, today)
    moved = due_date(Tracked("a", "1", interval, instant, snooze, bday), ZONE, today)
    assert moved <= plain
    if moved != plain:
        assert moved >= today and (moved.month, moved.day) in {(bday.month, bday.day), (2, 28)}
        assert snooze is None or moved >= snooze
        assert last is None or (moved - last).days >= days / 2
