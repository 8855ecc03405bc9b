"""The pure planning core (`syncd.core.planner`) against the interface spec.

Rules under test:
- due = max(local date of last contact + interval, snooze); never contacted means due today;
- "today" is `now`'s date in the user's zone (never the machine's);
- a reminder is created only once its contact is due, with DUE = today;
- at most one open reminder per contact;
- open reminders due on or before today plus new ones never exceed `daily_limit`, and fill it when possible;
- most overdue relative to interval first, inner circles then uid break ties, deterministically;
- a backlog arrives `daily_limit` a day.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.core.durations import Duration
from syncd.core.planner import (
    NEVER_CONTACTED_RATIO,
    OpenReminder,
    Planned,
    Tracked,
    backlog,
    due_date,
    over_limit,
    plan,
)

CIRCLES = ["1", "2", "3"]
P14D, P30D, P90D = Duration("P14D"), Duration("P30D"), Duration("P90D")
INTERVAL = {"1": P14D, "2": P30D, "3": P90D}

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")  # UTC-11


def at(zone: ZoneInfo, y: int, m: int, d: int, hh: int = 12, mm: int = 0, fold: int = 0) -> datetime:
    """A wall-clock time in `zone`."""
    return datetime(y, m, d, hh, mm, fold=fold, tzinfo=zone)


def on(zone: ZoneInfo, day: date, hh: int = 12, mm: int = 0) -> datetime:
    return at(zone, day.year, day.month, day.day, hh, mm)


def contact(
    uid: str,
    circle: str = "1",
    last: datetime | None = None,
    snooze: date | None = None,
    interval: Duration | None = None,
) -> Tracked:
    return Tracked(uid, circle, interval or INTERVAL.get(circle, P14D), last, snooze)


def run(
    contacts: Sequence[Tracked],
    now: datetime,
    zone: ZoneInfo = UTC_ZONE,
    open_reminders: Sequence[OpenReminder] = (),
    limit: int = 5,
    circles: Sequence[str] = CIRCLES,
) -> list[Planned]:
    return plan(contacts, open_reminders, circles, limit, now, zone)


def uids(planned: Sequence[Planned]) -> list[str]:
    return [p.uid for p in planned]


# ----------------------------------------------------------------------------------------------------
# due_date
# ----------------------------------------------------------------------------------------------------


class TestDueDate:
    today = date(2026, 5, 20)

    def test_last_contact_plus_interval(self) -> None:
        c = contact("a", "1", last=at(UTC_ZONE, 2026, 5, 1))
        assert due_date(c, UTC_ZONE, self.today) == date(2026, 5, 15)

    def test_never_contacted_is_due_today(self) -> None:
        assert due_date(contact("a"), UTC_ZONE, self.today) == self.today
        assert due_date(contact("a"), UTC_ZONE, date(1999, 1, 1)) == date(1999, 1, 1)

    def test_later_snooze_wins(self) -> None:
        c = contact("a", "1", last=at(UTC_ZONE, 2026, 5, 1), snooze=date(2026, 6, 1))
        assert due_date(c, UTC_ZONE, self.today) == date(2026, 6, 1)

    def test_earlier_snooze_is_ignored(self) -> None:
        c = contact("a", "1", last=at(UTC_ZONE, 2026, 5, 1), snooze=date(2026, 5, 3))
        assert due_date(c, UTC_ZONE, self.today) == date(2026, 5, 15)

    def test_snooze_equal_to_due(self) -> None:
        c = contact("a", "1", last=at(UTC_ZONE, 2026, 5, 1), snooze=date(2026, 5, 15))
        assert due_date(c, UTC_ZONE, self.today) == date(2026, 5, 15)

    def test_snooze_of_never_contacted(self) -> None:
        assert due_date(contact("a", snooze=date(2026, 6, 1)), UTC_ZONE, self.today) == date(2026, 6, 1)
        assert due_date(contact("a", snooze=date(2026, 5, 1)), UTC_ZONE, self.today) == self.today

    def test_own_interval_overrides_circle(self) -> None:
        c = contact("a", "3", last=at(UTC_ZONE, 2026, 5, 1), interval=Duration("P3D"))
        assert due_date(c, UTC_ZONE, self.today) == date(2026, 5, 4)

    def test_weeks_months_years(self) -> None:
        last = at(UTC_ZONE, 2026, 3, 15)
        expected = {
            "P2W": date(2026, 3, 29),
            "P1M": date(2026, 4, 15),
            "P3M": date(2026, 6, 15),
            "P1Y": date(2027, 3, 15),
            "P1Y2M3D": date(2027, 5, 18),
        }
        for text, want in expected.items():
            assert due_date(contact("a", last=last, interval=Duration(text)), UTC_ZONE, self.today) == want

    @pytest.mark.parametrize(
        ("last", "interval", "want"),
        [
            (date(2026, 1, 31), "P1M", date(2026, 2, 28)),
            (date(2028, 1, 31), "P1M", date(2028, 2, 29)),
            (date(2026, 3, 31), "P1M", date(2026, 4, 30)),
            (date(2026, 8, 31), "P6M", date(2027, 2, 28)),
            (date(2027, 12, 31), "P2M", date(2028, 2, 29)),
            (date(2028, 2, 29), "P1Y", date(2029, 2, 28)),
            (date(2028, 2, 29), "P4Y", date(2032, 2, 29)),
        ],
    )
    def test_month_arithmetic_clamps_to_month_end(self, last: date, interval: str, want: date) -> None:
        c = contact("a", last=at(BERLIN, last.year, last.month, last.day, 9), interval=Duration(interval))
        assert due_date(c, BERLIN, self.today) == want

    def test_last_contact_is_converted_to_the_local_date(self) -> None:
        # 23:30 in Los Angeles on May 10 is 06:30 UTC on May 11: the local date counts.
        late_evening = at(LA, 2026, 5, 10, 23, 30)
        as_utc = late_evening.astimezone(UTC)
        assert as_utc.date() == date(2026, 5, 11)
        for instant in (late_evening, as_utc):
            c = contact("a", "1", last=instant)
            assert due_date(c, LA, self.today) == date(2026, 5, 24)
            assert due_date(c, UTC_ZONE, self.today) == date(2026, 5, 25)

    def test_month_clamp_uses_the_local_date(self) -> None:
        # Jan 31 23:30 in LA is Feb 1 in UTC: a month later is Feb 28 locally (Mar 1 if UTC were used).
        c = contact("a", last=at(LA, 2026, 1, 31, 23, 30), interval=Duration("P1M"))
        assert due_date(c, LA, self.today) == date(2026, 2, 28)
        assert due_date(c, UTC_ZONE, self.today) == date(2026, 3, 1)

    def test_kiritimati_early_morning_is_the_previous_day_in_utc(self) -> None:
        c = contact("a", "1", last=at(KIRITIMATI, 2026, 1, 1, 0, 30).astimezone(UTC))
        assert due_date(c, KIRITIMATI, self.today) == date(2026, 1, 15)
        assert due_date(c, UTC_ZONE, self.today) == date(2026, 1, 14)


# ----------------------------------------------------------------------------------------------------
# Only due contacts, DUE today
# ----------------------------------------------------------------------------------------------------


class TestOnlyWhenDue:
    now = at(UTC_ZONE, 2026, 5, 20, 9)
    today = date(2026, 5, 20)

    def test_not_due_until_the_day(self) -> None:
        tomorrow = contact("tomorrow", "1", last=at(UTC_ZONE, 2026, 5, 7))
        assert run([tomorrow], self.now) == []
        assert run([tomorrow], at(UTC_ZONE, 2026, 5, 21, 0, 0)) == [
            Planned("tomorrow", date(2026, 5, 21), date(2026, 5, 21), 0.0)
        ]

    def test_due_today_is_planned_with_due_today(self) -> None:
        c = contact("a", "1", last=at(UTC_ZONE, 2026, 5, 6))
        assert run([c], self.now) == [Planned("a", self.today, self.today, 0.0)]

    def test_overdue_is_planned_with_due_today_not_the_due_date(self) -> None:
        c = contact("a", "1", last=at(UTC_ZONE, 2026, 4, 1))
        [p] = run([c], self.now)
        assert p.due == self.today
        assert p.since == date(2026, 4, 15)
        assert p.overdue_ratio == pytest.approx(35 / 14)

    def test_never_contacted_is_planned_today(self) -> None:
        assert run([contact("a")], self.now) == [Planned("a", self.today, self.today, NEVER_CONTACTED_RATIO)]

    def test_future_snooze_holds_back(self) -> None:
        c = contact("a", "1", last=at(UTC_ZONE, 2026, 1, 1), snooze=date(2026, 5, 21))
        assert run([c], self.now) == []
        assert run([contact("b", snooze=date(2026, 5, 21))], self.now) == []

    def test_snooze_ending_today_releases(self) -> None:
        c = contact("a", "1", last=at(UTC_ZONE, 2026, 1, 1), snooze=self.today)
        assert run([c], self.now) == [Planned("a", self.today, self.today, 0.0)]

    def test_past_snooze_counts_overdue_from_the_later_date(self) -> None:
        # due Jan 15 by interval, snoozed to May 6: 14 days overdue on a 14-day interval.
        c = contact("a", "1", last=at(UTC_ZONE, 2026, 1, 1), snooze=date(2026, 5, 6))
        [p] = run([c], self.now)
        assert p.since == date(2026, 5, 6)
        assert p.overdue_ratio == pytest.approx(1.0)

    def test_last_contact_in_the_future_is_not_due(self) -> None:
        assert run([contact("a", last=at(UTC_ZONE, 2026, 6, 1))], self.now) == []

    def test_empty_inputs(self) -> None:
        assert run([], self.now) == []
        assert backlog([], [], self.now, UTC_ZONE) == 0

    def test_accepts_one_shot_iterables(self) -> None:
        contacts = [contact(f"c{i}") for i in range(4)]
        reminders = [OpenReminder("c0", self.today)]

        def gen_contacts() -> Iterator[Tracked]:
            yield from contacts

        def gen_reminders() -> Iterator[OpenReminder]:
            yield from reminders

        got = plan(gen_contacts(), gen_reminders(), CIRCLES, 3, self.now, UTC_ZONE)
        assert uids(got) == ["c1", "c2"]
        assert backlog(gen_contacts(), gen_reminders(), self.now, UTC_ZONE) == 3


# ----------------------------------------------------------------------------------------------------
# One open reminder per contact; the daily limit
# ----------------------------------------------------------------------------------------------------


class TestOpenRemindersAndLimit:
    now = at(UTC_ZONE, 2026, 5, 20, 9)
    today = date(2026, 5, 20)

    def due_contacts(self, n: int) -> list[Tracked]:
        return [contact(f"c{i:02d}", "1", last=at(UTC_ZONE, 2026, 1, 1)) for i in range(n)]

    @pytest.mark.parametrize("reminder_due", [date(2026, 5, 1), date(2026, 5, 20), date(2027, 1, 1)])
    def test_open_reminder_blocks_whatever_its_due(self, reminder_due: date) -> None:
        contacts = self.due_contacts(2)
        got = run(contacts, self.now, open_reminders=[OpenReminder("c00", reminder_due)])
        assert uids(got) == ["c01"]

    def test_open_reminder_for_a_never_contacted_contact_blocks(self) -> None:
        got = run([contact("a"), contact("b")], self.now, open_reminders=[OpenReminder("a", date(2030, 1, 1))])
        assert uids(got) == ["b"]

    def test_fills_the_limit(self) -> None:
        assert len(run(self.due_contacts(12), self.now, limit=5)) == 5
        assert len(run(self.due_contacts(12), self.now, limit=12)) == 12
        assert len(run(self.due_contacts(3), self.now, limit=5)) == 3

    def test_open_reminders_due_today_or_earlier_take_slots(self) -> None:
        open_ = [OpenReminder("x1", self.today), OpenReminder("x2", date(2026, 1, 1))]
        assert len(run(self.due_contacts(10), self.now, open_reminders=open_, limit=5)) == 3

    def test_open_reminders_due_later_take_no_slot(self) -> None:
        open_ = [OpenReminder("x1", date(2026, 5, 21)), OpenReminder("c00", date(2026, 6, 1))]
        got = run(self.due_contacts(10), self.now, open_reminders=open_, limit=5)
        assert len(got) == 5
        assert "c00" not in uids(got)

    def test_open_reminders_of_unknown_contacts_take_slots(self) -> None:
        open_ = [OpenReminder(f"gone{i}", self.today) for i in range(4)]
        assert len(run(self.due_contacts(10), self.now, open_reminders=open_, limit=5)) == 1

    def test_full_or_overfull_day_creates_nothing(self) -> None:
        for n in (5, 6, 30):
            open_ = [OpenReminder(f"x{i}", self.today) for i in range(n)]
            assert run(self.due_contacts(10), self.now, open_reminders=open_, limit=5) == []

    def test_duplicate_open_reminders_each_take_a_slot(self) -> None:
        open_ = [OpenReminder("c00", self.today)] * 3
        got = run(self.due_contacts(10), self.now, open_reminders=open_, limit=5)
        assert len(got) == 2
        assert "c00" not in uids(got)

    def test_a_snoozed_reminder_coming_due_on_a_full_day_gives_way(self) -> None:
        """Never more than the limit due: the snoozed ones that came due give way, the latest first, then syncd's
        own (due since the day they were made), the newest first; a DUE the user moved stays."""
        full = [OpenReminder(f"x{i}", self.today) for i in range(5)]
        snoozed = OpenReminder("s1", self.today, snoozed=True)
        earlier = OpenReminder("s0", date(2026, 5, 18), snoozed=True)
        moved = OpenReminder("m", self.today, moved=True)
        assert over_limit([*full, snoozed], 5, self.now, UTC_ZONE) == ["s1"]
        assert over_limit([*full, earlier, snoozed], 5, self.now, UTC_ZONE) == ["s1", "s0"]
        assert over_limit([*full[:4], earlier, snoozed], 5, self.now, UTC_ZONE) == ["s1"]
        assert over_limit([*full[:4], snoozed], 5, self.now, UTC_ZONE) == []  # a free slot: it stays
        assert over_limit([*full, moved], 5, self.now, UTC_ZONE) == ["x0"]  # syncd's own make room for it
        older = [OpenReminder(f"o{i}", date(2026, 5, 10 + i)) for i in range(5)]
        assert over_limit([*older, moved], 5, self.now, UTC_ZONE) == ["o4"]  # the newest of syncd's own
        assert over_limit([*older, snoozed, moved], 5, self.now, UTC_ZONE) == ["s1", "o4"]
        users = [OpenReminder(f"m{i}", self.today, moved=True) for i in range(6)]
        assert over_limit(users, 5, self.now, UTC_ZONE) == []  # the user's own moves alone: theirs to keep
        tomorrow = OpenReminder("s2", self.today + timedelta(days=1), snoozed=True)
        assert over_limit([*full, tomorrow], 5, self.now, UTC_ZONE) == []  # not due yet

    def test_backlog_counts_due_contacts_without_reminder(self) -> None:
        contacts = [*self.due_contacts(10), contact("later", last=at(UTC_ZONE, 2026, 5, 19))]
        open_ = [OpenReminder("c00", date(2030, 1, 1)), OpenReminder("c01", self.today)]
        assert backlog(contacts, open_, self.now, UTC_ZONE) == 8


# ----------------------------------------------------------------------------------------------------
# Ranking
# ----------------------------------------------------------------------------------------------------


class TestRanking:
    now = at(UTC_ZONE, 2026, 5, 20, 9)
    today = date(2026, 5, 20)

    def last_for(self, interval_days: int, days_overdue: int) -> datetime:
        return at(UTC_ZONE, 2026, 5, 20) - timedelta(days=interval_days + days_overdue)

    def test_relative_overdue_beats_absolute_overdue(self) -> None:
        # 28 days late on 14 (ratio 2) beats 60 days late on 90 (ratio 0.67) and 20 late on 30 (0.67).
        inner = contact("z-inner", "1", last=self.last_for(14, 28))
        outer = contact("a-outer", "3", last=self.last_for(90, 60))
        middle = contact("m-middle", "2", last=self.last_for(30, 20))
        got = run([outer, middle, inner], self.now, limit=1)
        assert uids(got) == ["z-inner"]
        assert uids(run([outer, middle, inner], self.now, limit=3)) == ["z-inner", "m-middle", "a-outer"]

    def test_outer_circle_can_outrank_inner(self) -> None:
        inner = contact("a", "1", last=self.last_for(14, 7))  # 0.5
        outer = contact("b", "3", last=self.last_for(90, 90))  # 1.0
        assert uids(run([inner, outer], self.now, limit=1)) == ["b"]

    def test_equal_ratio_inner_circle_first(self) -> None:
        # 14/14 == 30/30 == 90/90 == 1.0 exactly: circle order decides, not uid.
        c3 = contact("a", "3", last=self.last_for(90, 90))
        c2 = contact("b", "2", last=self.last_for(30, 30))
        c1 = contact("c", "1", last=self.last_for(14, 14))
        assert uids(run([c3, c2, c1], self.now)) == ["c", "b", "a"]
        assert uids(run([c3, c2, c1], self.now, limit=1)) == ["c"]

    def test_circle_order_is_the_given_order_not_the_name(self) -> None:
        a = contact("a", "1", last=self.last_for(14, 14))
        b = contact("b", "3", last=self.last_for(90, 90))
        assert uids(run([a, b], self.now, circles=["3", "2", "1"])) == ["b", "a"]
        assert uids(run([a, b], self.now, circles=["family", "friends"])) == ["a", "b"]  # both unknown: uid

    def test_unknown_circle_ranks_after_all_known(self) -> None:
        stray = contact("a", "gone", last=self.last_for(14, 14), interval=P14D)
        known = contact("b", "3", last=self.last_for(90, 90))
        assert uids(run([stray, known], self.now)) == ["b", "a"]

    def test_own_interval_drives_the_ratio(self) -> None:
        # Circle 3 contact with its own 7-day interval, 7 days late: ratio 1 beats a circle-1 contact at 0.5.
        fast = contact("b", "3", last=self.last_for(7, 7), interval=Duration("P7D"))
        slow = contact("a", "1", last=self.last_for(14, 7))
        assert uids(run([slow, fast], self.now, limit=1)) == ["b"]

    def test_month_interval_ratio_uses_average_month(self) -> None:
        c = contact("a", last=at(UTC_ZONE, 2026, 3, 20), interval=Duration("P1M"))
        [p] = run([c], self.now)
        assert p.since == date(2026, 4, 20)
        assert p.overdue_ratio == pytest.approx(30 / Duration("P1M").approx_days)

    def test_uid_breaks_remaining_ties(self) -> None:
        contacts = [contact(u) for u in ("delta", "alpha", "charlie", "bravo")]
        assert uids(run(contacts, self.now, limit=2)) == ["alpha", "bravo"]

    def test_order_is_independent_of_input_order(self) -> None:
        contacts = [
            contact(f"c{i}", CIRCLES[i % 3], last=self.last_for(INTERVAL[CIRCLES[i % 3]].delta.days, i % 5))
            for i in range(30)
        ]
        expected = run(contacts, self.now, limit=7)
        assert run(list(reversed(contacts)), self.now, limit=7) == expected
        assert run(contacts[10:] + contacts[:10], self.now, limit=7) == expected


# ----------------------------------------------------------------------------------------------------
# Time zones and DST: "today" follows the zone
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def machine_in_kiritimati() -> Iterator[None]:
    """Put the process's local zone far from every zone under test: the planner must not look at it."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati"
    time.tzset()
    try:
        yield
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def plan_one(c: Tracked, now: datetime, zone: ZoneInfo) -> list[Planned]:
    return plan([c], [], CIRCLES, 5, now, zone)


@pytest.mark.usefixtures("machine_in_kiritimati")
class TestTimeZones:
    @pytest.mark.parametrize(
        ("now", "zone", "today"),
        [
            # Berlin, DST starts 2026-03-29 01:00 UTC (02:00 CET -> 03:00 CEST).
            (datetime(2026, 3, 28, 22, 59, tzinfo=UTC), BERLIN, date(2026, 3, 28)),
            (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), BERLIN, date(2026, 3, 29)),
            (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), BERLIN, date(2026, 3, 29)),
            (datetime(2026, 3, 29, 21, 59, tzinfo=UTC), BERLIN, date(2026, 3, 29)),
            (datetime(2026, 3, 29, 22, 0, tzinfo=UTC), BERLIN, date(2026, 3, 30)),
            # Berlin, DST ends 2026-10-25 01:00 UTC (03:00 CEST -> 02:00 CET).
            (datetime(2026, 10, 24, 21, 59, tzinfo=UTC), BERLIN, date(2026, 10, 24)),
            (datetime(2026, 10, 24, 22, 0, tzinfo=UTC), BERLIN, date(2026, 10, 25)),
            (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), BERLIN, date(2026, 10, 25)),
            (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), BERLIN, date(2026, 10, 25)),
            (datetime(2026, 10, 25, 22, 59, tzinfo=UTC), BERLIN, date(2026, 10, 25)),
            (datetime(2026, 10, 25, 23, 0, tzinfo=UTC), BERLIN, date(2026, 10, 26)),
            # Los Angeles late evening: UTC is already tomorrow.
            (datetime(2026, 6, 1, 5, 30, tzinfo=UTC), LA, date(2026, 5, 31)),
            (datetime(2026, 6, 1, 6, 59, tzinfo=UTC), LA, date(2026, 5, 31)),
            (datetime(2026, 6, 1, 7, 0, tzinfo=UTC), LA, date(2026, 6, 1)),
            (datetime(2026, 1, 1, 7, 59, tzinfo=UTC), LA, date(2025, 12, 31)),
            # The extremes, same instant: two calendar days apart.
            (datetime(2026, 1, 1, 10, 30, tzinfo=UTC), KIRITIMATI, date(2026, 1, 2)),
            (datetime(2026, 1, 1, 10, 30, tzinfo=UTC), PAGO_PAGO, date(2025, 12, 31)),
            (datetime(2026, 1, 1, 10, 30, tzinfo=UTC), UTC_ZONE, date(2026, 1, 1)),
            # `now` given in some other zone: only the instant matters.
            (at(KIRITIMATI, 2026, 1, 2, 0, 30), PAGO_PAGO, date(2025, 12, 31)),
            (at(PAGO_PAGO, 2025, 12, 31, 23, 30), KIRITIMATI, date(2026, 1, 2)),
        ],
    )
    def test_today_is_nows_date_in_the_zone(self, now: datetime, zone: ZoneInfo, today: date) -> None:
        # A never-contacted contact is planned with DUE = today.
        assert plan_one(contact("a"), now, zone) == [Planned("a", today, today, NEVER_CONTACTED_RATIO)]
        # A contact due exactly today is planned; one due tomorrow is not.
        due_today = contact("b", "1", last=on(zone, today - timedelta(days=14), 10))
        due_tomorrow = contact("c", "1", last=on(zone, today - timedelta(days=13), 10))
        assert uids(plan([due_today, due_tomorrow], [], CIRCLES, 5, now, zone)) == ["b"]
        # Snoozed until tomorrow: not yet. An open reminder due today takes the only slot; tomorrow's doesn't.
        assert plan_one(contact("d", snooze=today + timedelta(days=1)), now, zone) == []
        assert plan([contact("e")], [OpenReminder("x", today)], CIRCLES, 1, now, zone) == []
        tomorrow = OpenReminder("x", today + timedelta(days=1))
        assert uids(plan([contact("e")], [tomorrow], CIRCLES, 1, now, zone)) == ["e"]
        assert backlog([due_today, due_tomorrow], [], now, zone) == 1

    def test_dst_start_berlin(self) -> None:
        now = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST, just after the jump
        # Last contact at 00:30 CET on Mar 15 (still Mar 14 in UTC) -> due Mar 29 locally.
        c = contact("a", "1", last=at(BERLIN, 2026, 3, 15, 0, 30))
        assert plan_one(c, now, BERLIN) == [Planned("a", date(2026, 3, 29), date(2026, 3, 29), 0.0)]
        # Interpreted in UTC it would have been due a day earlier.
        assert plan_one(c, now, UTC_ZONE)[0].since == date(2026, 3, 28)
        # A wall time inside the skipped hour (02:30 does not exist) still belongs to Mar 29.
        skipped = contact("b", "1", last=at(BERLIN, 2026, 3, 29, 2, 30))
        assert due_date(skipped, BERLIN, date(2026, 4, 12)) == date(2026, 4, 12)
        assert plan_one(skipped, at(BERLIN, 2026, 4, 12, 0, 1), BERLIN)[0].since == date(2026, 4, 12)
        assert plan_one(skipped, at(BERLIN, 2026, 4, 11, 23, 59), BERLIN) == []

    def test_dst_end_berlin(self) -> None:
        # 02:30 happens twice on Oct 25; both are Oct 25 locally.
        first = at(BERLIN, 2026, 10, 25, 2, 30, fold=0)
        second = at(BERLIN, 2026, 10, 25, 2, 30, fold=1)
        assert first.astimezone(UTC) + timedelta(hours=1) == second.astimezone(UTC)
        for now in (first, second, first.astimezone(UTC), second.astimezone(UTC)):
            assert plan_one(contact("a"), now, BERLIN)[0].due == date(2026, 10, 25)
        # Last contact 23:30 local on Oct 11 (CEST, 21:30 UTC); 14 days later = Oct 25, the 25-hour day.
        c = contact("a", "1", last=at(BERLIN, 2026, 10, 11, 23, 30))
        assert plan_one(c, at(BERLIN, 2026, 10, 24, 23, 59), BERLIN) == []
        assert plan_one(c, second, BERLIN) == [Planned("a", date(2026, 10, 25), date(2026, 10, 25), 0.0)]
        # 23:30 CET on the day after DST ended is 22:30 UTC: still the same day.
        late = contact("b", "1", last=at(BERLIN, 2026, 10, 26, 23, 30))
        assert due_date(late, BERLIN, date(2026, 10, 26)) == date(2026, 11, 9)

    def test_los_angeles_evening_when_utc_is_tomorrow(self) -> None:
        now = at(LA, 2026, 5, 31, 22, 30)  # 05:30 UTC on Jun 1
        due_jun_1 = contact("jun1", "1", last=at(LA, 2026, 5, 18, 9))
        due_may_31 = contact("may31", "1", last=at(LA, 2026, 5, 17, 9))
        assert plan([due_jun_1, due_may_31], [], CIRCLES, 5, now, LA) == [
            Planned("may31", date(2026, 5, 31), date(2026, 5, 31), 0.0)
        ]
        # The same instant in UTC: both due, Jun 1.
        assert uids(plan([due_jun_1, due_may_31], [], CIRCLES, 5, now, UTC_ZONE)) == ["may31", "jun1"]

    def test_late_evening_last_contact_counts_for_the_local_date(self) -> None:
        # 23:30 local on May 10 in LA is May 11 in UTC; due May 24 local, not May 25.
        last = at(LA, 2026, 5, 10, 23, 30)
        for given_as in (last, last.astimezone(UTC), last.astimezone(KIRITIMATI)):
            c = contact("a", "1", last=given_as)
            assert plan_one(c, at(LA, 2026, 5, 23, 23, 59), LA) == []
            assert plan_one(c, at(LA, 2026, 5, 24, 0, 0), LA) == [
                Planned("a", date(2026, 5, 24), date(2026, 5, 24), 0.0)
            ]
            # A day later it is 1 day overdue on 14.
            [p] = plan_one(c, at(LA, 2026, 5, 25, 8, 0), LA)
            assert p.since == date(2026, 5, 24)
            assert p.overdue_ratio == pytest.approx(1 / 14)

    def test_kiritimati_and_pago_pago(self) -> None:
        # 10:30 UTC on Dec 31 is 00:30 on Jan 1 in Kiritimati (+14) and 23:30 on Dec 30 in Pago Pago (-11).
        c = contact("a", "1", last=datetime(2025, 12, 31, 10, 30, tzinfo=UTC))
        assert due_date(c, KIRITIMATI, date(2026, 1, 1)) == date(2026, 1, 15)
        assert due_date(c, PAGO_PAGO, date(2026, 1, 1)) == date(2026, 1, 13)
        # Jan 14 00:30 in Kiritimati, Jan 12 23:30 in Pago Pago: due in neither.
        now = datetime(2026, 1, 13, 10, 30, tzinfo=UTC)
        assert plan_one(c, now, KIRITIMATI) == []
        assert plan_one(c, now, PAGO_PAGO) == []
        # 31 minutes later it is Jan 13 in Pago Pago (due), still Jan 14 in Kiritimati (not yet).
        later = now + timedelta(minutes=31)
        assert plan_one(c, later, PAGO_PAGO) == [Planned("a", date(2026, 1, 13), date(2026, 1, 13), 0.0)]
        assert plan_one(c, later, KIRITIMATI) == []
        # A day later: Jan 15 00:30 in Kiritimati (due today), Jan 13 23:30 in Pago Pago (due since today).
        next_day = now + timedelta(days=1)
        assert plan_one(c, next_day, KIRITIMATI) == [Planned("a", date(2026, 1, 15), date(2026, 1, 15), 0.0)]
        assert plan_one(c, next_day, PAGO_PAGO) == [Planned("a", date(2026, 1, 13), date(2026, 1, 13), 0.0)]

    @pytest.mark.parametrize(
        ("last", "zone", "due"),
        [
            (at(BERLIN, 2026, 1, 31, 23, 30), BERLIN, date(2026, 2, 28)),  # Jan 31 22:30 UTC
            (at(LA, 2026, 1, 31, 23, 30), LA, date(2026, 2, 28)),  # Feb 1 in UTC
            (at(KIRITIMATI, 2026, 1, 31, 0, 30), KIRITIMATI, date(2026, 2, 28)),  # Jan 30 in UTC
            (at(PAGO_PAGO, 2028, 1, 31, 23, 30), PAGO_PAGO, date(2028, 2, 29)),  # Feb 1 in UTC, leap year
        ],
    )
    def test_month_interval_from_jan_31_clamps(self, last: datetime, zone: ZoneInfo, due: date) -> None:
        c = contact("a", "1", last=last.astimezone(UTC), interval=Duration("P1M"))
        day_before = due - timedelta(days=1)
        assert plan_one(c, at(zone, day_before.year, day_before.month, day_before.day, 23, 59), zone) == []
        assert plan_one(c, at(zone, due.year, due.month, due.day, 0, 0), zone) == [Planned("a", due, due, 0.0)]


# ----------------------------------------------------------------------------------------------------
# A backlog arrives daily_limit a day
# ----------------------------------------------------------------------------------------------------


@dataclass
class Day:
    planned: list[Planned]
    backlog_before: int


def simulate(
    contacts: list[Tracked],
    start: date,
    days: int,
    zone: ZoneInfo,
    limit: int,
    circles: Sequence[str] = CIRCLES,
) -> list[Day]:
    """Each morning syncd plans; each evening the user completes all open reminders."""
    by_uid = {c.uid: c for c in contacts}
    log: list[Day] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        morning = at(zone, day.year, day.month, day.day, 7, 0)
        waiting = backlog(by_uid.values(), [], morning, zone)
        planned = plan(by_uid.values(), [], circles, limit, morning, zone)
        log.append(Day(planned, waiting))
        evening = at(zone, day.year, day.month, day.day, 21, 30)
        for p in planned:
            assert p.due == day
            by_uid[p.uid] = replace(by_uid[p.uid], last_contact=evening)
    return log


class TestBacklog:
    @pytest.mark.parametrize(("limit", "zone"), [(5, BERLIN), (7, LA), (20, KIRITIMATI), (4, PAGO_PAGO)])
    def test_300_new_contacts_drain_limit_a_day(self, limit: int, zone: ZoneInfo) -> None:
        # Circle 3 (P90D): the backlog drains within one interval.
        contacts = [contact(f"p{i:03d}", "3") for i in range(300)]
        start = date(2026, 3, 20)  # spans the DST change in Berlin and LA
        drain_days = -(-300 // limit)
        log = simulate(contacts, start, drain_days + 5, zone, limit)
        seen: list[str] = []
        for n, day in enumerate(log):
            remaining = 300 - len(seen)
            assert day.backlog_before == remaining
            assert len(day.planned) == min(limit, remaining), f"day {n}"
            seen.extend(uids(day.planned))
        assert sorted(seen) == sorted(c.uid for c in contacts)  # everyone exactly once
        assert seen == sorted(seen)  # all ratio 0 in circle 3: uid order
        assert all(day.planned == [] for day in log[drain_days:])

    def test_first_batch_comes_back_after_one_interval(self) -> None:
        contacts = [contact(f"p{i:03d}", "3") for i in range(300)]
        log = simulate(contacts, date(2026, 1, 1), 95, BERLIN, 5)
        counts = [len(d.planned) for d in log]
        assert counts[:60] == [5] * 60
        assert counts[60:90] == [0] * 30
        assert counts[90:] == [5] * 5
        assert uids(log[90].planned) == uids(log[0].planned)

    def test_overloaded_circle_never_exceeds_the_limit(self) -> None:
        # 300 contacts every 14 days is more than 5 a day can serve: every day is exactly full, never more.
        contacts = [contact(f"p{i:03d}", "1") for i in range(300)]
        log = simulate(contacts, date(2026, 10, 10), 60, BERLIN, 5)
        assert all(len(d.planned) == 5 for d in log)

    def test_uncompleted_reminders_block_new_ones(self) -> None:
        contacts = [contact(f"p{i:03d}", "2") for i in range(300)]
        day1 = at(BERLIN, 2026, 5, 1, 7)
        first = plan(contacts, [], CIRCLES, 5, day1, BERLIN)
        assert len(first) == 5
        open_ = [OpenReminder(p.uid, p.due) for p in first]
        for later in range(0, 10):  # the user ignores them: nothing new, day after day
            assert plan(contacts, open_, CIRCLES, 5, day1 + timedelta(days=later), BERLIN) == []
        # Two done (closed): two new ones, never one of the still-open three.
        second = plan(contacts, open_[2:], CIRCLES, 5, day1 + timedelta(days=3), BERLIN)
        assert len(second) == 2
        assert not set(uids(second)) & {r.contact_uid for r in open_[2:]}


# ----------------------------------------------------------------------------------------------------
# Intervals with a time part count from the start of the day
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["P1DT12H", "PT36H"])
def test_interval_with_time_part_does_not_crash(interval: str) -> None:
    c = contact("a", "1", last=at(UTC_ZONE, 2026, 1, 1), interval=Duration(interval))
    now = at(UTC_ZONE, 2026, 3, 1)
    got = run([c], now)  # long overdue under any reading of a 36-hour interval
    assert uids(got) == ["a"]
    assert isinstance(got[0].since, date) and not isinstance(got[0].since, datetime)


# ----------------------------------------------------------------------------------------------------
# Properties: the invariants hold for any input
# ----------------------------------------------------------------------------------------------------

INTERVAL_TEXTS = ["P1D", "P3D", "P7D", "P2W", "P14D", "P30D", "P90D", "P1M", "P3M", "P6M", "P1Y", "P1Y6M"]
CIRCLE_POOL = ["1", "2", "3", "inner", "work", "far"]
ZONES = st.one_of(
    st.sampled_from([UTC_ZONE, BERLIN, LA, KIRITIMATI, PAGO_PAGO, ZoneInfo("Australia/Lord_Howe")]),
    st.timezones(),
)
NOWS = st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2033, 12, 31), timezones=ZONES)


@dataclass(frozen=True)
class Scenario:
    contacts: list[Tracked]
    reminders: list[OpenReminder]
    circles: list[str]
    limit: int
    now: datetime
    zone: ZoneInfo

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()


@st.composite
def durations(draw: st.DrawFn) -> Duration:
    if draw(st.booleans()):
        return Duration(draw(st.sampled_from(INTERVAL_TEXTS)))
    return Duration(f"P{draw(st.integers(1, 800))}D")


@st.composite
def scenarios(draw: st.DrawFn, max_contacts: int = 40) -> Scenario:
    zone = draw(ZONES)
    now = draw(NOWS)
    today = now.astimezone(zone).date()
    circles = draw(st.lists(st.sampled_from(CIRCLE_POOL), min_size=1, max_size=5, unique=True))
    contact_circles = st.one_of(st.sampled_from(circles), st.sampled_from([*CIRCLE_POOL, "none", ""]))
    uid_list = draw(st.lists(st.text("abcxyz019-", min_size=1, max_size=5), max_size=max_contacts, unique=True))
    near_last = st.builds(
        lambda dt, delta, tz: (dt - delta).astimezone(tz),
        st.just(now),
        st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(days=3 * 365)),
        ZONES,
    )
    any_last = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31), timezones=ZONES)
    snoozes = st.one_of(
        st.none(),
        st.integers(-90, 90).map(lambda d: today + timedelta(days=d)),
        st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
    )
    contacts = [
        Tracked(
            uid,
            draw(contact_circles),
            draw(durations()),
            draw(st.one_of(st.none(), near_last, any_last)),
            draw(snoozes),
        )
        for uid in uid_list
    ]
    reminder_uids = st.sampled_from(uid_list) if uid_list else st.nothing()
    reminder = st.builds(
        OpenReminder,
        st.one_of(reminder_uids, st.text("pqr", min_size=1, max_size=3)),
        st.one_of(
            st.integers(-60, 60).map(lambda d: today + timedelta(days=d)),
            st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)),
        ),
    )
    reminders = draw(st.lists(reminder, max_size=max_contacts // 2))
    limit = draw(st.integers(1, 20))
    return Scenario(contacts, reminders, circles, limit, now, zone)


def reference_due(c: Tracked, zone: ZoneInfo, today: date) -> date:
    """The spec, written out independently: max(local date of last contact + interval, snooze)."""
    base = today if c.last_contact is None else c.last_contact.astimezone(zone).date() + c.interval.delta
    assert type(base) is date
    return max(base, c.snooze) if c.snooze is not None else base


def reference_ratio(c: Tracked, since: date, today: date) -> float:
    ratio = (today - since).days / c.interval.approx_days
    return ratio if c.last_contact is not None else max(ratio, NEVER_CONTACTED_RATIO)


def rank_key(s: Scenario, c: Tracked) -> tuple[float, int, str]:
    since = reference_due(c, s.zone, s.today)
    rank = s.circles.index(c.circle) if c.circle in s.circles else len(s.circles)
    return (-reference_ratio(c, since, s.today), rank, c.uid)


def run_scenario(s: Scenario) -> list[Planned]:
    return plan(s.contacts, s.reminders, s.circles, s.limit, s.now, s.zone)


PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(scenarios())
def test_invariants_hold_for_any_input(s: Scenario) -> None:
    got = run_scenario(s)
    today = s.today
    by_uid = {c.uid: c for c in s.contacts}
    has_open = {r.contact_uid for r in s.reminders}
    eligible = [c for c in s.contacts if c.uid not in has_open and reference_due(c, s.zone, today) <= today]
    slots = max(0, s.limit - sum(1 for r in s.reminders if r.due <= today))
    planned = uids(got)

    # No duplicates; only known contacts; none with an open reminder.
    assert len(planned) == len(set(planned))
    assert set(planned) <= set(by_uid)
    assert not set(planned) & has_open
    # Only due contacts, DUE today, `since` = due date, ratio = days overdue / interval days.
    for p in got:
        c = by_uid[p.uid]
        assert p.due == today
        assert p.since == reference_due(c, s.zone, today) <= today
        assert p.overdue_ratio == pytest.approx(reference_ratio(c, p.since, today))
        assert p.overdue_ratio >= 0
    # Exactly fills the free slots, never more.
    assert len(got) == min(slots, len(eligible))
    if got:
        assert sum(1 for r in s.reminders if r.due <= today) + len(got) <= s.limit
    # Sorted by (-ratio, circle rank, uid).
    keys = [rank_key(s, by_uid[u]) for u in planned]
    assert keys == sorted(keys)
    # Every due contact left out is outranked by every planned one.
    if got:
        worst_planned = keys[-1]
        for c in eligible:
            if c.uid not in planned:
                assert rank_key(s, c) > worst_planned
    # backlog() agrees with the spec.
    assert backlog(s.contacts, s.reminders, s.now, s.zone) == len(eligible)


@PROPERTY
@given(scenarios(), st.randoms(use_true_random=False))
def test_result_is_independent_of_input_order(s: Scenario, rnd: random.Random) -> None:
    expected = run_scenario(s)
    contacts, reminders = list(s.contacts), list(s.reminders)
    rnd.shuffle(contacts)
    rnd.shuffle(reminders)
    assert plan(tuple(contacts), iter(reminders), s.circles, s.limit, s.now, s.zone) == expected
    assert backlog(iter(contacts), tuple(reminders), s.now, s.zone) == backlog(s.contacts, s.reminders, s.now, s.zone)


@PROPERTY
@given(scenarios())
def test_same_instant_in_any_zone_gives_the_same_plan(s: Scenario) -> None:
    # `now` expressed in another zone (or UTC) is the same instant: same result.
    expected = run_scenario(s)
    for other in (UTC_ZONE, KIRITIMATI, PAGO_PAGO):
        moved = replace(s, now=s.now.astimezone(other))
        assert run_scenario(moved) == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(max_contacts=25), st.integers(5, 40), st.data())
def test_simulated_days_never_exceed_the_limit(s: Scenario, days: int, data: st.DataObject) -> None:
    """Day by day, the user completes a random subset of open reminders (or none)."""
    zone, limit = s.zone, s.limit
    by_uid = {c.uid: c for c in s.contacts}
    # Start with this scenario's reminders that belong to known contacts, at most one each.
    open_: dict[str, OpenReminder] = {}
    for r in s.reminders:
        if r.contact_uid in by_uid:
            open_.setdefault(r.contact_uid, r)
    start = s.today
    for offset in range(days):
        day = start + timedelta(days=offset)
        now = at(zone, day.year, day.month, day.day, data.draw(st.integers(0, 23)), 0)
        today = now.astimezone(zone).date()
        due_open = sum(1 for r in open_.values() if r.due <= today)
        waiting = backlog(by_uid.values(), open_.values(), now, zone)
        got = plan(by_uid.values(), open_.values(), s.circles, limit, now, zone)
        assert len(got) == min(max(0, limit - due_open), waiting)
        assert not {p.uid for p in got} & set(open_)
        for p in got:
            assert p.due == today
            open_[p.uid] = OpenReminder(p.uid, p.due)
        # All reminders now open and due today or earlier respect the limit unless they were already over it.
        assert sum(1 for r in open_.values() if r.due <= today) <= max(limit, due_open)
        done = data.draw(st.lists(st.sampled_from(sorted(open_)), unique=True) if open_ else st.just([]))
        evening = at(zone, today.year, today.month, today.day, 22, 0)
        for uid in done:
            del open_[uid]
            by_uid[uid] = replace(by_uid[uid], last_contact=evening, snooze=None)
