"""`syncd review week|month`: the weekly reflection and the monthly review. Pure: a function of the `Network`.

The week is the 7 days up to and including today, the month the 30 days up to and including today.

Week: who you reached (completed reminders and `done`), contacts new in the address book, follow-ups that
slipped (open reminders past their due day), and the streak of days whose daily list was done.

Month: per circle the share of people within cadence; categories and organisations that were active versus
going quiet (no touch in 60 days or more); gaps against `[goals] categories`; touches this month and this year
against the "Connect 5" pace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from syncd.core.contacts import Contact
from syncd.insight.network import Network, within_cadence

WEEK_DAYS, MONTH_DAYS = 7, 30
QUIET_DAYS = 60
STREAK_LOOKBACK = 366


@dataclass(frozen=True, slots=True)
class Reached:
    uid: str
    name: str
    circle: str  # "" = not tracked
    day: date
    source: str  # "reminder", "meeting", "mail", "manual", or "done" (a last contact of unknown origin)


@dataclass(frozen=True, slots=True)
class NewContact:
    uid: str
    name: str
    first_seen: date


@dataclass(frozen=True, slots=True)
class Slipped:
    uid: str
    name: str
    circle: str
    due: date
    days_overdue: int


@dataclass(slots=True)
class WeekReview:
    first: date
    last: date
    reached: list[Reached]
    new_contacts: list[NewContact]
    slipped: list[Slipped]
    streak: int  # consecutive days (up to today) whose reminders were all done; days without any are skipped
    lists_done: int  # days in the window whose list was done
    list_days: int  # days in the window that had reminders due

    @property
    def by_source(self) -> dict[str, int]:
        """Touches in the week by where they came from, most first."""
        return by_source(self.reached)

    def as_json(self) -> dict[str, object]:
        return {
            "period": "week",
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "reached": [_reached_json(r) for r in self.reached],
            "touches_by_source": self.by_source,
            "new_contacts": [
                {"uid": n.uid, "name": n.name, "first_seen": n.first_seen.isoformat()} for n in self.new_contacts
            ],
            "slipped": [
                {
                    "uid": s.uid,
                    "name": s.name,
                    "circle": s.circle,
                    "due": s.due.isoformat(),
                    "days_overdue": s.days_overdue,
                }
                for s in self.slipped
            ],
            "streak_days": self.streak,
            "lists_done": self.lists_done,
            "list_days": self.list_days,
        }


@dataclass(frozen=True, slots=True)
class CircleShare:
    key: str
    label: str
    tracked: int
    within: int

    @property
    def share(self) -> float:
        return self.within / self.tracked if self.tracked else 1.0


@dataclass(frozen=True, slots=True)
class GroupActivity:
    kind: str  # "category" or "organisation"
    name: str
    people: int
    last_touch: date | None
    touched: int  # people in it reached in the 60 days up to today

    def active(self, today: date) -> bool:
        return self.last_touch is not None and (today - self.last_touch).days < QUIET_DAYS


@dataclass(frozen=True, slots=True)
class GoalGap:
    category: str
    goal: int
    reached: int

    @property
    def gap(self) -> int:
        return max(self.goal - self.reached, 0)


@dataclass(slots=True)
class MonthReview:
    first: date
    last: date
    circles: list[CircleShare]
    active: list[GroupActivity]
    quiet: list[GroupActivity]
    goals: list[GoalGap]
    touches_month: int
    touches_year: int
    daily_limit: int
    year_goal: int
    reached: list[Reached] = field(default_factory=list)

    @property
    def month_pace(self) -> int:
        """Touches in 30 days if every day's list were done."""
        return self.daily_limit * MONTH_DAYS

    @property
    def year_expected(self) -> int:
        """Where the yearly goal says you should be by today."""
        day_of_year = self.last.timetuple().tm_yday
        days_in_year = 366 if _leap(self.last.year) else 365
        return round(self.year_goal * day_of_year / days_in_year)

    @property
    def year_projected(self) -> int:
        day_of_year = self.last.timetuple().tm_yday
        days_in_year = 366 if _leap(self.last.year) else 365
        return round(self.touches_year * days_in_year / day_of_year)

    def as_json(self) -> dict[str, object]:
        def group(g: GroupActivity) -> dict[str, object]:
            return {
                "kind": g.kind,
                "name": g.name,
                "people": g.people,
                "last_touch": g.last_touch.isoformat() if g.last_touch else None,
                "touched_60_days": g.touched,
            }

        return {
            "period": "month",
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "circles": [
                {
                    "circle": c.key,
                    "label": c.label,
                    "tracked": c.tracked,
                    "within_cadence": c.within,
                    "share": round(c.share, 3),
                }
                for c in self.circles
            ],
            "active": [group(g) for g in self.active],
            "quiet": [group(g) for g in self.quiet],
            "goals": [{"category": g.category, "goal": g.goal, "reached": g.reached, "gap": g.gap} for g in self.goals],
            "touches_month": self.touches_month,
            "month_pace": self.month_pace,
            "touches_year": self.touches_year,
            "year_goal": self.year_goal,
            "year_expected_by_today": self.year_expected,
            "year_projected": self.year_projected,
            "reached": [_reached_json(r) for r in self.reached],
        }


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _reached_json(r: Reached) -> dict[str, object]:
    return {"uid": r.uid, "name": r.name, "circle": r.circle, "day": r.day.isoformat(), "source": r.source}


def by_source(items: list[Reached]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.source] = counts.get(item.source, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def reached(network: Network, first: date, last: date) -> list[Reached]:
    out = []
    for touch in network.touches_between(first, last):
        contact = network.contacts[touch.uid]
        membership = network.memberships.get(touch.uid)
        out.append(Reached(touch.uid, contact.name, membership.circle if membership else "", touch.day, touch.source))
    out.sort(key=lambda r: (r.day, network.rank(r.circle), r.name.casefold()))
    return out


def list_days(network: Network, today: date, lookback: int = STREAK_LOOKBACK) -> dict[date, bool]:
    """Each day that had reminders due (their DUE day), and whether all of them were done by the day's end.

    Today counts only once its list is done (a day in progress does not break a streak).
    """
    due_by: dict[date, list[bool]] = {}
    first = today - timedelta(days=lookback)
    for task in network.tasks:
        if task.due is None or not first <= task.due <= today:
            continue
        on_time = task.done and (task.completed is None or task.completed.astimezone(network.zone).date() <= task.due)
        due_by.setdefault(task.due, []).append(on_time)
    days = {day: all(flags) for day, flags in due_by.items()}
    if today in days and not days[today]:
        del days[today]
    return days


def streak(days: Mapping[date, bool], today: date) -> int:
    count = 0
    for day in sorted(days, reverse=True):
        if day > today:
            continue
        if not days[day]:
            break
        count += 1
    return count


def week(network: Network, today: date) -> WeekReview:
    first = today - timedelta(days=WEEK_DAYS - 1)
    new = [
        NewContact(uid, network.contacts[uid].name, seen)
        for uid, seen in network.first_seen.items()
        if first <= seen <= today and uid in network.contacts
    ]
    new.sort(key=lambda n: (n.first_seen, n.name.casefold()))
    slipped = []
    for task in network.tasks:
        if not task.open or task.due is None or task.due >= today or task.contact_uid not in network.contacts:
            continue
        membership = network.memberships.get(task.contact_uid)
        slipped.append(
            Slipped(
                task.contact_uid,
                network.contacts[task.contact_uid].name,
                membership.circle if membership else "",
                task.due,
                (today - task.due).days,
            )
        )
    slipped.sort(key=lambda s: (-s.days_overdue, network.rank(s.circle), s.name.casefold()))
    days = list_days(network, today)
    in_window = {d: ok for d, ok in days.items() if first <= d <= today}
    return WeekReview(
        first=first,
        last=today,
        reached=reached(network, first, today),
        new_contacts=new,
        slipped=slipped,
        streak=streak(days, today),
        lists_done=sum(in_window.values()),
        list_days=len(in_window),
    )


def circle_shares(network: Network, today: date) -> list[CircleShare]:
    last = network.last_touch()
    out = []
    for spec in network.circles:
        members = [(uid, m) for uid, m in network.memberships.items() if m.circle == spec.key]
        within = sum(1 for uid, m in members if within_cadence(last.get(uid), m.interval, today))
        out.append(CircleShare(spec.key, spec.label, len(members), within))
    return out


def activity(network: Network, kind: str, values: Callable[[Contact], list[str]], today: date) -> list[GroupActivity]:
    """Per category or organisation that holds at least one tracked contact: its last touch."""
    last = network.last_touch()
    members: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    tracked_groups: set[str] = set()
    for uid, contact in network.contacts.items():
        for value in {v.strip() for v in values(contact) if v.strip()}:
            key = value.casefold()
            names.setdefault(key, value)
            members.setdefault(key, []).append(uid)
            if uid in network.memberships:
                tracked_groups.add(key)
    since = today - timedelta(days=QUIET_DAYS - 1)
    out = []
    for key in tracked_groups:
        days = [last[uid] for uid in members[key] if uid in last and last[uid] <= today]
        touched = sum(1 for uid in members[key] if uid in last and since <= last[uid] <= today)
        out.append(GroupActivity(kind, names[key], len(members[key]), max(days) if days else None, touched))
    return out


def month(network: Network, today: date, daily_limit: int, goals: Mapping[str, int], year_goal: int) -> MonthReview:
    first = today - timedelta(days=MONTH_DAYS - 1)
    groups = activity(network, "category", lambda c: list(c.categories), today) + activity(
        network, "organisation", lambda c: [c.org], today
    )
    active = sorted((g for g in groups if g.active(today)), key=lambda g: (-g.touched, g.kind, g.name.casefold()))
    quiet = sorted(
        (g for g in groups if not g.active(today)),
        key=lambda g: (g.last_touch or date.min, g.kind, g.name.casefold()),
    )
    window = network.touches_between(first, today)
    gaps = []
    for category, goal in goals.items():
        wanted = category.casefold()
        people = {t.uid for t in window if wanted in {c.casefold() for c in network.contacts[t.uid].categories}}
        gaps.append(GoalGap(category, goal, len(people)))
    return MonthReview(
        first=first,
        last=today,
        circles=circle_shares(network, today),
        active=active,
        quiet=quiet,
        goals=gaps,
        touches_month=len(window),
        touches_year=len(network.touches_between(date(today.year, 1, 1), today)),
        daily_limit=daily_limit,
        year_goal=year_goal,
        reached=reached(network, first, today),
    )
