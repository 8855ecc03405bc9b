"""A year of syncd through its pure core, with a frozen clock and a seeded user.

500 contacts; 15 / 50 / 200 of them in circles 1 / 2 / 3 (every 14 / 30 / 90 days), the rest untracked;
`daily_limit` 5. Every morning the planner (`syncd.core.planner.plan`) creates the day's reminders; the user then
completes 80% of the open reminders due that day (each one with probability 0.8, seeded); what is left stays
open and takes a slot the next day. Some contacts have birthdays (the planner moves their reminder to the
day), and some are met in calendar meetings (a weekly or fortnightly series, plus occasional one-off
meetings): a meeting counts as contact at its end and closes the contact's open reminder, as
`syncd.dav.interactions` does.

Run: python bench/simulate.py [--seed N] [--days N] [--json]
It prints touches per year, distinct people reached, the share of days each circle's contacts are within
1.0x and 1.5x their interval, the worst wait as a multiple of the interval, and the most open reminders due
on any day; exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syncd.core.planner import OpenReminder, Tracked, plan

ZONE = ZoneInfo("Europe/Berlin")
CIRCLES = {"1": (15, 14), "2": (50, 30), "3": (200, 90)}  # key -> (contacts, interval days)
CONTACTS = 500
DAILY_LIMIT = 5
COMPLETION = 0.8
START = date(2027, 1, 4)

TARGETS = {
    "touches": 1400,  # at least
    "circle_1_within_1_5": 0.95,  # at least
    "worst_wait": 2.0,  # at most, as a multiple of the interval
    "max_open_due": DAILY_LIMIT,  # at most
}


@dataclass
class Person:
    tracked: Tracked
    interval_days: int
    meets_every: int = 0  # days between meetings of a recurring series (0 = none)
    meets_offset: int = 0
    first_day: date = START  # for never-contacted people: when waiting started


@dataclass
class Result:
    days: int
    touches: int = 0
    by_reminder: int = 0
    by_meeting: int = 0
    birthday_reminders: int = 0
    reached: set[str] = field(default_factory=set)
    within: dict[str, list[int]] = field(default_factory=dict)  # circle -> [<=1.0, <=1.5, person-days]
    worst: dict[str, float] = field(default_factory=dict)  # circle -> worst wait / interval
    max_open_due: int = 0

    def table(self) -> dict[str, object]:
        per_year = 365 / self.days
        return {
            "days": self.days,
            "touches_per_year": round(self.touches * per_year),
            "by_reminder": round(self.by_reminder * per_year),
            "by_meeting": round(self.by_meeting * per_year),
            "birthday_reminders": round(self.birthday_reminders * per_year),
            "distinct_people_reached": len(self.reached),
            "circles": {
                key: {
                    "within_1_0": counts[0] / counts[2],
                    "within_1_5": counts[1] / counts[2],
                    "worst_wait": self.worst[key],
                }
                for key, counts in sorted(self.within.items())
            },
            "worst_wait": max(self.worst.values()),
            "max_open_due": self.max_open_due,
        }


def population(rng: random.Random) -> list[Person]:
    people: list[Person] = []
    n = 0
    for key, (count, days) in CIRCLES.items():
        for _ in range(count):
            n += 1
            uid = f"c{key}-{n:03d}"
            # History as imported: last contact somewhere in the past interval; 1 in 20 never contacted.
            last = None
            if rng.random() >= 0.05:
                last = datetime.combine(START - timedelta(days=rng.randrange(days)), time(12), UTC)
            # 60% have a birthday on their card (a third of them without a year, as vCard 4 `--MMDD`).
            bday = None
            if rng.random() < 0.6:
                bday = date(1604 if rng.random() < 0.33 else rng.randrange(1950, 2005), 1, 1) + timedelta(
                    days=rng.randrange(365)
                )
            tracked = Tracked(uid, key, _duration(days), last, None, bday)
            people.append(Person(tracked, days))
    # Colleagues: 8 tracked people are met in a recurring meeting, fortnightly or every four weeks.
    for person in rng.sample(people, 8):
        person.meets_every = rng.choice((14, 28))
        person.meets_offset = rng.randrange(person.meets_every)
    return people  # the other CONTACTS - len(people) contacts are untracked and never planned


def _duration(days: int) -> object:
    from syncd.core.durations import Duration

    return Duration.from_days(days)


def simulate(seed: int = 1, days: int = 365) -> Result:
    rng = random.Random(seed)
    people = population(rng)
    by_uid = {p.tracked.uid: p for p in people}
    result = Result(days=days)
    open_reminders: dict[str, date] = {}  # contact uid -> DUE (= the day it was created)
    circle_keys = list(CIRCLES)

    def touch(person: Person, when: datetime) -> None:
        last = person.tracked.last_contact
        if last is None or when > last:
            person.tracked = replace(person.tracked, last_contact=when)
        result.reached.add(person.tracked.uid)
        created = open_reminders.get(person.tracked.uid)
        if created is not None and when.astimezone(ZONE).date() >= created:
            del open_reminders[person.tracked.uid]  # reconcile closes the open reminder

    for offset in range(days):
        today = START + timedelta(days=offset)
        morning = datetime.combine(today, time(8), ZONE)
        # Yesterday's meetings, read from the calendar by the morning sync.
        yesterday = today - timedelta(days=1)
        for person in people:
            recurring = person.meets_every and (offset - 1 - person.meets_offset) % person.meets_every == 0
            one_off = rng.random() < 1 / 730  # about one meeting every two years each
            if offset > 0 and (recurring or one_off):
                touch(person, datetime.combine(yesterday, time(15), ZONE))
                result.touches += 1
                result.by_meeting += 1
        # The sync: plan within the limit.
        planned = plan(
            [p.tracked for p in people],
            [OpenReminder(uid, due) for uid, due in open_reminders.items()],
            circle_keys,
            DAILY_LIMIT,
            morning,
            ZONE,
        )
        for item in planned:
            open_reminders[item.uid] = item.due
            result.birthday_reminders += item.birthday
        due_now = sum(1 for due in open_reminders.values() if due <= today)
        result.max_open_due = max(result.max_open_due, due_now)
        # The user: each open reminder due today or earlier is done with probability COMPLETION.
        for uid in sorted(uid for uid, due in open_reminders.items() if due <= today):
            if rng.random() < COMPLETION:
                touch(by_uid[uid], datetime.combine(today, time(18), ZONE))
                result.touches += 1
                result.by_reminder += 1
        # How long everyone has been waiting, at the end of the day.
        for person in people:
            last = person.tracked.last_contact
            since = last.astimezone(ZONE).date() if last is not None else person.first_day
            ratio = (today - since).days / person.interval_days
            counts = result.within.setdefault(person.tracked.circle, [0, 0, 0])
            counts[0] += ratio <= 1.0
            counts[1] += ratio <= 1.5
            counts[2] += 1
            key = person.tracked.circle
            result.worst[key] = max(result.worst.get(key, 0.0), ratio)
    return result


def failures(table: dict[str, object]) -> list[str]:
    circles = table["circles"]
    assert isinstance(circles, dict)
    out = []
    if int(str(table["touches_per_year"])) < TARGETS["touches"]:
        out.append(f"touches per year {table['touches_per_year']} < {TARGETS['touches']}")
    if circles["1"]["within_1_5"] < TARGETS["circle_1_within_1_5"]:
        out.append(f"circle 1 within 1.5x {circles['1']['within_1_5']:.1%} < 95%")
    if float(str(table["worst_wait"])) > TARGETS["worst_wait"]:
        out.append(f"worst wait {table['worst_wait']:.2f}x > 2x")
    if int(str(table["max_open_due"])) > TARGETS["max_open_due"]:
        out.append(f"max open due {table['max_open_due']} > {DAILY_LIMIT}")
    return out


def render(table: dict[str, object]) -> str:
    circles = table["circles"]
    assert isinstance(circles, dict)
    lines = [
        f"{CONTACTS} contacts ({sum(c for c, _ in CIRCLES.values())} tracked), circles 1/2/3: "
        + "/".join(str(c) for c, _ in CIRCLES.values())
        + " every "
        + "/".join(str(d) for _, d in CIRCLES.values())
        + f" days, daily_limit {DAILY_LIMIT}, {COMPLETION:.0%} of each day's list done, {table['days']} days",
        "",
        "| measure | value |",
        "|---|---|",
        f"| touches per year | {table['touches_per_year']} ({table['by_reminder']} from reminders, "
        f"{table['by_meeting']} from meetings) |",
        f"| birthday reminders | {table['birthday_reminders']} |",
        f"| distinct people reached | {table['distinct_people_reached']} |",
    ]
    for key, row in circles.items():
        lines.append(
            f"| circle {key} within 1.0× / 1.5× interval | {row['within_1_0']:.1%} / {row['within_1_5']:.1%} |"
        )
    for key, row in circles.items():
        lines.append(f"| circle {key} worst wait | {row['worst_wait']:.2f}× interval |")
    lines.append(f"| max open reminders due on any day | {table['max_open_due']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    table = simulate(args.seed, args.days).table()
    if args.json:
        print(json.dumps(table, indent=2))
    else:
        print(render(table))
    problems = failures(table)
    for problem in problems:
        print(f"target missed: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
