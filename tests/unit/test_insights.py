"""The pure core behind `audit`, `review week|month`, capacity and the calendar events, on hand-made networks
with a fixed `today` (no server, no clock)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar

from syncd.core.contacts import LAST_CONTACT
from syncd.core.durations import Duration
from syncd.core.events import (
    DigestItem,
    Found,
    build,
    digest,
    identify,
    matches,
    monthly,
    stale,
    update,
    week_day,
    weekly,
)
from syncd.insight.audit import METHOD_RANGES, OVER, UNDER, audit, headline
from syncd.insight.capacity import capacity
from syncd.insight.network import Network, collect_touches, within_cadence
from syncd.insight.review import list_days, month, streak, week
from syncd.insight.text import month_text, week_text
from tests.factories import BERLIN, SPECS, TODAY, at, d, network, person, task

# Touches ---------------------------------------------------------------------------------------------


def test_touches_one_per_person_and_day_reminders_win() -> None:
    ada = person("ada", last=TODAY)
    bob = person("bob", last=TODAY - timedelta(days=3))
    tasks = [task("ada", TODAY, done_on=TODAY), task("bob", TODAY - timedelta(days=10), done_on=TODAY - timedelta(10))]
    remembered = [
        ("bob", at(TODAY - timedelta(days=40))),
        ("bob", at(TODAY - timedelta(days=3), 8)),
        ("gone", at(TODAY)),
    ]
    net = network([ada, bob], {"ada": "1", "bob": "2"}, tasks, remembered=remembered)
    assert [(t.uid, (TODAY - t.day).days, t.source) for t in net.touches] == [
        ("bob", 40, "done"),
        ("bob", 10, "reminder"),
        ("bob", 3, "done"),
        ("ada", 0, "reminder"),  # the card's LAST-CONTACT of the same day is the same touch
    ]
    assert net.last_touch() == {"ada": TODAY, "bob": TODAY - timedelta(days=3)}


def test_touch_day_is_in_the_users_zone() -> None:
    late = person("late")
    late.xsyncd[LAST_CONTACT] = "2026-11-21T23:30:00Z"  # 00:30 on the 22nd in Berlin
    [touch] = collect_touches({"late": late}, [], BERLIN)
    assert touch.day == date(2026, 11, 22)


def test_within_cadence_boundaries() -> None:
    p14 = Duration("P14D")
    assert within_cadence(TODAY - timedelta(days=14), p14, TODAY)
    assert not within_cadence(TODAY - timedelta(days=15), p14, TODAY)
    assert not within_cadence(None, p14, TODAY)
    assert not within_cadence(TODAY + timedelta(days=1), p14, TODAY), "a later touch does not count for today"


# Capacity --------------------------------------------------------------------------------------------


def test_capacity_fits() -> None:
    result = capacity([(SPECS[0], 14), (SPECS[1], 30), (SPECS[2], 90)], 5)
    assert result.need == pytest.approx(1 + 1 + 1)
    assert not result.over and result.fixes == []
    assert all(not load.drifts and load.effective_days == load.interval_days for load in result.loads)
    assert "fits, with 2.0 a day to spare" in result.summary()


def test_capacity_over_budget_outer_circle_drifts_and_fixes_are_exact() -> None:
    # need: 15/14 + 50/30 + 200/90 = 1.07 + 1.67 + 2.22 = 4.96 against 3 a day
    result = capacity([(SPECS[0], 15), (SPECS[1], 50), (SPECS[2], 200)], 3)
    assert result.over and result.need == pytest.approx(15 / 14 + 50 / 30 + 200 / 90)
    inner, middle, outer = result.loads
    assert not inner.drifts and not middle.drifts
    assert outer.drifts
    left = 3 - 15 / 14 - 50 / 30
    assert outer.allocated == pytest.approx(left)
    assert outer.effective_days == pytest.approx(200 / left)  # ~764 days instead of 90
    assert result.fixes[0] == "raise reminders.daily_limit to 5"
    assert f"interval of P{math.ceil(200 / left)}D" in result.fixes[1]
    assert f"keep {math.floor(left * 90)} of its 200 contacts" in result.fixes[1]
    assert "Keep warm drifts from every 90 to every 764 days" in result.summary()


def test_capacity_a_circle_with_no_slot_left() -> None:
    result = capacity([(SPECS[0], 28), (SPECS[1], 10)], 2)  # circle 1 alone needs 2 a day
    assert result.loads[1].effective_days is None and result.loads[1].drifts
    assert "Friends gets no slot at all" in result.summary()
    assert result.fixes[-1] == "or stop tracking the 10 contacts of Friends"


@given(
    sizes=st.lists(st.integers(0, 300), min_size=1, max_size=3),
    limit=st.integers(1, 50),
)
def test_capacity_allocation_never_exceeds_budget_or_need(sizes: list[int], limit: int) -> None:
    result = capacity(list(zip(SPECS, sizes, strict=False)), limit)
    assert sum(load.allocated for load in result.loads) <= limit + 1e-9
    for load in result.loads:
        assert load.allocated <= load.need + 1e-9
    assert result.over == any(load.drifts for load in result.loads)


# Audit -----------------------------------------------------------------------------------------------


def network_for_audit() -> Network:
    people = [
        person("c1a", last=TODAY - timedelta(days=3), org="Acme", title="CTO", categories=["Investors"]),
        person("c1b", last=TODAY - timedelta(days=40), org="Acme", title="CEO", categories=["Investors"]),
        person("c1c", org="Acme", categories=["Investors"]),  # never contacted
        person("c2a", last=TODAY - timedelta(days=61), org="Acme", categories=["Investors"]),  # 2.03× of 30
        person("c2b", last=TODAY - timedelta(days=59), org="Beta"),
        person("c3a", last=TODAY - timedelta(days=400), org="Beta", categories=["Neighbours"]),
    ]
    people += [person(f"u{i}", org="Gamma", categories=["Neighbours"]) for i in range(8)]  # untracked
    people.append(person("u-old", last=TODAY - timedelta(days=200)))  # untracked, reached this year
    circles = {"c1a": "1", "c1b": "1", "c1c": "1", "c2a": "2", "c2b": "2", "c3a": "3"}
    tasks = [task("c1a", TODAY - timedelta(days=20), done_on=TODAY - timedelta(days=20))]
    return network(people, circles, tasks)


def test_audit_counts_and_headline() -> None:
    result = audit(network_for_audit(), TODAY, 5)
    assert (result.contacts, result.tracked, result.untracked, result.never_contacted) == (15, 6, 9, 1)
    assert result.reached_12m == 5  # c1a, c1b, c2a, c2b, u-old; c3a is 400 days ago
    assert headline(result).startswith("Of your 15 contacts, 5 were reached in the last 12 months")


def test_audit_key_contacts_inner_circles_first_then_most_touched() -> None:
    result = audit(network_for_audit(), TODAY, 5)
    assert [k.uid for k in result.key_contacts] == ["c1a", "c1b", "c1c", "c2a", "c2b", "c3a"]
    first = result.key_contacts[0]
    assert first.touches == 2 and first.days_since == 3 and first.last_contact == TODAY - timedelta(days=3)
    assert result.key_contacts[2].last_contact is None


def test_audit_circle_sizes_against_the_method() -> None:
    result = audit(network_for_audit(), TODAY, 5)
    assert [(s.size, s.low, s.high, s.verdict) for s in result.sizes] == [
        (3, *METHOD_RANGES[0], "too few"),
        (2, *METHOD_RANGES[1], "too few"),
        (1, *METHOD_RANGES[2], "too few"),
    ]
    many = network([person(f"p{i}") for i in range(16)], {f"p{i}": "1" for i in range(16)})
    assert audit(many, TODAY, 5).sizes[0].verdict == "too many"


def test_audit_neglected_over_twice_the_interval_longest_first() -> None:
    result = audit(network_for_audit(), TODAY, 5)
    assert [(n.uid, n.days_since) for n in result.neglected] == [("c3a", 400), ("c2a", 61), ("c1b", 40)]
    assert result.neglected[0].ratio == pytest.approx(400 / 90)


def test_audit_spread_flags_over_and_under_represented_groups() -> None:
    result = audit(network_for_audit(), TODAY, 5)
    orgs = {g.name: g for g in result.groups["organisations"]}
    # Acme: 4 of 6 tracked (67%) but 4 of 15 contacts (27%): 2.5×
    assert (orgs["Acme"].contacts, orgs["Acme"].tracked, orgs["Acme"].flag) == (4, 4, OVER)
    assert orgs["Acme"].representation == pytest.approx((4 / 6) / (4 / 15))
    # Gamma: 8 contacts, none tracked
    assert (orgs["Gamma"].tracked, orgs["Gamma"].flag) == (0, UNDER)
    cats = {g.name: g for g in result.groups["categories"]}
    assert cats["Investors"].flag == OVER and cats["Neighbours"].flag == UNDER
    assert "1 of 15 contacts has no organisation" in result.notes


def test_audit_json_is_complete() -> None:
    data = audit(network_for_audit(), TODAY, 1).as_json()
    assert data["tracked"] == 6 and data["reached_last_12_months"] == 5
    key = data["key_contacts"][0]  # type: ignore[index]
    assert (key["phone"], key["email"]) == ("+49 151 0000000", "c1a@example.org") and "reach" not in key
    assert data["neglected"][0] == {  # type: ignore[index]
        "uid": "c3a",
        "name": "C3A",
        "circle": "3",
        "last_contact": (TODAY - timedelta(days=400)).isoformat(),
        "days_since": 400,
        "times_interval": 4.4,
    }
    assert data["capacity"]["over_budget"] is False  # type: ignore[index]


# Weekly reflection -----------------------------------------------------------------------------------


def test_week_reached_new_slipped() -> None:
    people = [
        person("ada", last=d(0)),
        person("bob", last=d(2)),
        person("cy", last=d(7)),  # just outside the 7 days
        person("dee"),
        person("eve"),
    ]
    tasks = [
        task("ada", d(0), done_on=d(0)),
        task("dee", d(3)),  # open, due 3 days ago: slipped
        task("eve", d(0)),  # open, due today: not slipped
    ]
    net = network(people, {"ada": "1", "bob": "2", "cy": "2", "dee": "3", "eve": "1"}, tasks, first_seen={"eve": d(1)})
    result = week(net, TODAY)
    assert (result.first, result.last) == (d(6), TODAY)
    assert [(r.uid, r.day, r.source) for r in result.reached] == [("bob", d(2), "done"), ("ada", d(0), "reminder")]
    assert [(n.uid, n.first_seen) for n in result.new_contacts] == [("eve", d(1))]
    assert [(s.uid, s.days_overdue) for s in result.slipped] == [("dee", 3)]
    text = week_text(result)
    assert "Reached: 2 people: Ada, Bob" in text and "Slipped: 1: Dee (3d)" in text and "New contacts: 1: Eve" in text


def test_streak_counts_days_whose_list_was_done_on_time() -> None:
    tasks = [
        task("a", d(5), done_on=d(5)),
        task("b", d(4), done_on=d(6)),  # done before its day
        task("c", d(3), done_on=d(2)),  # done a day late: breaks the streak
        task("d", d(2), done_on=d(2)),
        # d(1): no reminders — neither counts nor breaks
        task("e", d(0), done_on=d(0)),
        task("f", d(0)),  # today is still in progress: neither counts nor breaks
    ]
    net = network([person(u) for u in "abcdef"], {}, tasks)
    days = list_days(net, TODAY)
    assert days == {d(5): True, d(4): True, d(3): False, d(2): True}
    assert streak(days, TODAY) == 1
    result = week(net, TODAY)
    assert (result.streak, result.lists_done, result.list_days) == (1, 3, 4)
    tasks[-1] = task("f", d(0), done_on=d(0))
    assert week(network([person(u) for u in "abcdef"], {}, tasks), TODAY).streak == 2


# Monthly review --------------------------------------------------------------------------------------


def test_month_shares_activity_goals_and_pace() -> None:
    people = [
        person("a", last=d(10), categories=["Investors"], org="Acme"),  # circle 1, within 14
        person("b", last=d(20), categories=["Investors"], org="Acme"),  # circle 1, outside
        person("c", last=d(29), categories=["Mentors"], org="Beta"),  # circle 2, within 30
        person("e", last=d(70), categories=["Alumni"], org="Gone Inc"),  # circle 3, within 90, quiet group
        person("f", categories=["Alumni"]),  # circle 3, never
        person("g", last=d(5), categories=["Press"]),  # untracked: its group is not listed
    ]
    tasks = [task("a", d(40), done_on=d(40)), task("b", date(2025, 12, 30), done_on=date(2025, 12, 30))]
    net = network(people, {"a": "1", "b": "1", "c": "2", "e": "3", "f": "3"}, tasks)
    result = month(net, TODAY, 5, {"Investors": 3, "Mentors": 1}, 1000)
    assert [(c.key, c.tracked, c.within) for c in result.circles] == [("1", 2, 1), ("2", 1, 1), ("3", 2, 1)]
    assert {(g.kind, g.name) for g in result.active} == {
        ("category", "Investors"),
        ("category", "Mentors"),
        ("organisation", "Acme"),
        ("organisation", "Beta"),
    }
    assert [(g.kind, g.name, g.last_touch) for g in result.quiet] == [
        ("category", "Alumni", d(70)),
        ("organisation", "Gone Inc", d(70)),
    ]
    assert [(g.category, g.reached, g.gap) for g in result.goals] == [("Investors", 2, 1), ("Mentors", 1, 0)]
    # touches: a(d10), b(d20), c(d29), g(d5) in the 30 days; a(d40) and e(d70) this year; b's 2025 one not
    assert result.touches_month == 4 and result.touches_year == 6
    assert result.month_pace == 150
    assert result.year_expected == round(1000 * 326 / 365)
    assert result.year_projected == round(6 * 365 / 326)
    text = month_text(result)
    assert "Within cadence: Close 50% (1/2), Friends 100% (1/1), Keep warm 50% (1/2)" in text
    assert "Goal Investors: 2/3 — 1 to go" in text and "Goal Mentors: 1/1 — met" in text
    assert "Going quiet: Alumni (0 reached, last 70d ago)" in text


# Events ----------------------------------------------------------------------------------------------


def items() -> list[DigestItem]:
    return [
        DigestItem("Ada Lovelace", "1", TODAY, ("+49 151 1",), ("ada@example.org",)),
        DigestItem("Bob Brown", "2", d(2), (), ("bob@example.org", "bob@work.example")),
    ]


def test_digest_lists_people_with_how_to_reach_them() -> None:
    wanted = digest(items(), TODAY, time(7, 30), BERLIN)
    assert wanted is not None
    assert wanted.uid == "syncd-digest-20261122"
    assert wanted.summary == "Keep in touch: 2 people today"
    assert wanted.description.splitlines()[:5] == [
        "• Ada Lovelace (circle 1)",
        "  phone +49 151 1",
        "  email ada@example.org",
        "• Bob Brown (circle 2, due 2026-11-20)",
        "  email bob@example.org",
    ]
    assert wanted.start == datetime(2026, 11, 22, 7, 30, tzinfo=BERLIN) and wanted.minutes == 15
    assert digest([], TODAY, time(7, 30), BERLIN) is None


def test_weekly_and_monthly_event_days_and_uids() -> None:
    assert week_day(date(2026, 11, 18), 6) == date(2026, 11, 22)  # Wednesday -> that Sunday
    assert week_day(TODAY, 6) == TODAY
    assert week_day(date(2026, 11, 23), 6) == date(2026, 11, 29)
    w = weekly("text", date(2026, 11, 18), 6, time(18, 0), BERLIN)
    assert (w.uid, w.start, w.minutes) == ("syncd-week-20261122", datetime(2026, 11, 22, 18, tzinfo=BERLIN), 15)
    m = monthly("text", date(2026, 2, 3), time(18, 0), BERLIN)
    assert (m.uid, m.start.date(), m.minutes) == ("syncd-month-202603", date(2026, 3, 1), 30)
    m = monthly("text", date(2026, 3, 1), time(18, 0), BERLIN)  # on the 1st: today's
    assert (m.uid, m.start.date()) == ("syncd-month-202603", date(2026, 3, 1))
    m = monthly("text", date(2026, 12, 31), time(18, 0), BERLIN)
    assert (m.uid, m.start.date()) == ("syncd-month-202701", date(2027, 1, 1))


def test_event_text_round_trip_and_update_keeps_foreign_properties() -> None:
    wanted = digest(items(), TODAY, time(7, 30), BERLIN)
    assert wanted is not None
    now = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
    text = build(wanted, now)
    cal = Calendar.from_ical(text)
    [event] = cal.walk("VEVENT")
    assert str(event["UID"]) == wanted.uid and str(event["X-SYNCD-KIND"]) == "digest"
    assert event["DTSTART"].dt == wanted.start and "TZID=Europe/Berlin" in text
    assert len(list(event.walk("VALARM"))) == 1
    assert identify(text, BERLIN) == Found(wanted.uid, "digest", TODAY)
    assert matches(wanted, text)
    # A server that re-serializes (CRLF in DESCRIPTION, other order) still matches.
    assert matches(wanted, Calendar.from_ical(text).to_ical().decode())

    fewer = digest(items()[:1], TODAY, time(7, 30), BERLIN)
    assert fewer is not None and not matches(fewer, text)
    # The user moved it to 08:15 and added a property: both survive syncd's update.
    edited = text.replace("END:VEVENT", "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC\r\nEND:VEVENT")
    edited = edited.replace("DTSTART;TZID=Europe/Berlin:20261122T073000", "DTSTART;TZID=Europe/Berlin:20261122T081500")
    edited = edited.replace("DTEND;TZID=Europe/Berlin:20261122T074500", "DTEND;TZID=Europe/Berlin:20261122T083000")
    assert matches(wanted, edited), "a moved event still says the same"
    changed = update(edited, fewer, now + timedelta(hours=1))
    assert matches(fewer, changed)
    assert "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC" in changed
    [event] = Calendar.from_ical(changed).walk("VEVENT")
    assert int(event["SEQUENCE"]) == 1 and "Bob" not in str(event["DESCRIPTION"])
    assert event["DTSTART"].dt == datetime(2026, 11, 22, 8, 15, tzinfo=BERLIN)


def test_stale_events_from_today_on_are_removed_past_ones_kept() -> None:
    week_event = weekly("w", TODAY, 6, time(18, 0), BERLIN)
    found = [
        Found("syncd-digest-20261121", "digest", d(1)),  # yesterday's: history
        Found("syncd-digest-20261122", "digest", TODAY),  # today's, now empty
        Found("syncd-week-20261122", "weekly", TODAY),  # wanted
        Found("syncd-week-20261127", "weekly", TODAY + timedelta(days=5)),  # left after weekly_day changed
        Found("syncd-month-202611", "monthly", date(2026, 11, 1)),  # this month's, held on the 1st
    ]
    assert stale(found, [week_event], TODAY) == ["syncd-digest-20261122", "syncd-week-20261127"]


def test_events_in_utc() -> None:
    wanted = digest(items(), TODAY, time(7, 30), ZoneInfo("UTC"))
    assert wanted is not None
    text = build(wanted, datetime(2026, 11, 22, tzinfo=UTC))
    assert matches(wanted, text)


def test_foreign_event_is_not_syncds() -> None:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:x", "DTSTART:20261122T100000Z", "END:VEVENT"]
    foreign = "\r\n".join([*lines, "END:VCALENDAR", ""])
    assert identify(foreign, BERLIN) is None
