"""`syncd audit`: what the network actually is. Pure: a function of the `Network` and `today`.

- the most important contacts (inner circles first, then the most touched) and when you last spoke;
- circle sizes against the method's ranges (first circle 10–15, second 30–50, third 100–200);
- how the network spreads across organisations, titles and CATEGORIES, with groups that are over- or
  under-represented in your circles compared with your address book;
- neglected contacts (more than twice their interval since the last touch), longest first;
- never-contacted and untracked counts, and how many were reached in the last 12 months;
- capacity (see `capacity.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

from syncd.core.contacts import Contact
from syncd.core.words import counted
from syncd.insight.capacity import Capacity, capacity
from syncd.insight.network import Network

# The method's ranges, by circle rank (innermost first). Circles beyond the third have none.
METHOD_RANGES: list[tuple[int, int]] = [(10, 15), (30, 50), (100, 200)]
KEY_CONTACTS = 10
NEGLECT_FACTOR = 2.0
OVER, UNDER = "over", "under"
OVER_RATIO, UNDER_RATIO = 1.5, 0.5  # share in your circles / share in your address book
GROUPS_SHOWN = 8
SINGULAR = {"organisations": "organisation", "titles": "title", "categories": "category"}


@dataclass(frozen=True, slots=True)
class KeyContact:
    uid: str
    name: str
    circle: str
    last_contact: date | None
    days_since: int | None
    touches: int
    phone: str  # the first phone number, "" when none
    email: str  # the first e-mail address, "" when none

    @property
    def reach(self) -> str:
        return " · ".join(p for p in (self.phone, self.email) if p)


@dataclass(frozen=True, slots=True)
class CircleSize:
    key: str
    label: str
    size: int
    low: int | None
    high: int | None

    @property
    def verdict(self) -> str:
        if self.low is not None and self.size < self.low:
            return "too few"
        if self.high is not None and self.size > self.high:
            return "too many"
        return "ok"

    @property
    def range(self) -> str:
        return f"{self.low}–{self.high}" if self.low is not None else "—"


@dataclass(frozen=True, slots=True)
class Group:
    """One organisation, title or category: how many contacts carry it and how many of them you track."""

    name: str
    contacts: int
    tracked: int
    representation: float | None  # share among tracked / share among all contacts
    flag: str  # OVER, UNDER or ""


@dataclass(frozen=True, slots=True)
class Neglected:
    uid: str
    name: str
    circle: str
    last_contact: date
    days_since: int
    interval_days: float

    @property
    def ratio(self) -> float:
        return self.days_since / max(self.interval_days, 1.0)


@dataclass(slots=True)
class Audit:
    today: date
    contacts: int
    tracked: int
    untracked: int
    never_contacted: int  # tracked contacts with no known touch
    reached_12m: int
    key_contacts: list[KeyContact]
    sizes: list[CircleSize]
    groups: dict[str, list[Group]]  # "organisations", "titles", "categories"
    neglected: list[Neglected]
    capacity: Capacity
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {
            "today": self.today.isoformat(),
            "contacts": self.contacts,
            "tracked": self.tracked,
            "untracked": self.untracked,
            "never_contacted": self.never_contacted,
            "reached_last_12_months": self.reached_12m,
            "key_contacts": [
                {
                    **asdict(k),
                    "last_contact": k.last_contact.isoformat() if k.last_contact else None,
                    "phone": k.phone or None,
                    "email": k.email or None,
                }
                for k in self.key_contacts
            ],
            "circles": [
                {"circle": s.key, "label": s.label, "size": s.size, "low": s.low, "high": s.high, "verdict": s.verdict}
                for s in self.sizes
            ],
            "groups": {
                kind: [
                    {**asdict(g), "representation": None if g.representation is None else round(g.representation, 2)}
                    for g in groups
                ]
                for kind, groups in self.groups.items()
            },
            "neglected": [
                {
                    "uid": n.uid,
                    "name": n.name,
                    "circle": n.circle,
                    "last_contact": n.last_contact.isoformat(),
                    "days_since": n.days_since,
                    "times_interval": round(n.ratio, 1),
                }
                for n in self.neglected
            ],
            "capacity": self.capacity.as_json(),
            "notes": list(self.notes),
        }


def _groups(
    network: Network, values: Callable[[Contact], list[str]], shown: int = GROUPS_SHOWN
) -> tuple[list[Group], int]:
    """Groups by a contact attribute, largest first (flagged ones always included); plus how many have none."""
    people = list(network.contacts.values())
    total = len(people)
    tracked_total = len(network.memberships)
    contacts_by: Counter[str] = Counter()
    tracked_by: Counter[str] = Counter()
    names: dict[str, str] = {}
    without = 0
    for contact in people:
        found = {v.strip().casefold(): v.strip() for v in values(contact) if v.strip()}
        if not found:
            without += 1
        for key, name in found.items():
            names.setdefault(key, name)
            contacts_by[key] += 1
            if contact.uid in network.memberships:
                tracked_by[key] += 1
    groups: list[Group] = []
    for key, count in contacts_by.items():
        tracked = tracked_by[key]
        ratio = None
        if total and tracked_total:
            ratio = (tracked / tracked_total) / (count / total)
        flag = ""
        if ratio is not None and ratio >= OVER_RATIO and tracked >= 3:
            flag = OVER
        elif ratio is not None and ratio <= UNDER_RATIO and count >= 5:
            flag = UNDER
        groups.append(Group(names[key], count, tracked, ratio, flag))
    groups.sort(key=lambda g: (-g.contacts, -g.tracked, g.name.casefold()))
    keep = groups[:shown] + [g for g in groups[shown:] if g.flag]
    return keep, without


def audit(network: Network, today: date, daily_limit: int) -> Audit:
    people = network.contacts
    memberships = network.memberships
    last = network.last_touch()
    counts = Counter(t.uid for t in network.touches)

    key = sorted(
        memberships,
        key=lambda uid: (network.rank(memberships[uid].circle), -counts[uid], people[uid].name.casefold(), uid),
    )[:KEY_CONTACTS]
    key_contacts = [
        KeyContact(
            uid,
            people[uid].name,
            memberships[uid].circle,
            last.get(uid),
            (today - last[uid]).days if uid in last else None,
            counts[uid],
            people[uid].phone,
            people[uid].email,
        )
        for uid in key
    ]

    size_by = Counter(m.circle for m in memberships.values())
    sizes = []
    for i, spec in enumerate(network.circles):
        low, high = METHOD_RANGES[i] if i < len(METHOD_RANGES) else (None, None)
        sizes.append(CircleSize(spec.key, spec.label, size_by[spec.key], low, high))

    groups: dict[str, list[Group]] = {}
    notes: list[str] = []
    for kind, getter in (
        ("organisations", lambda c: [c.org]),
        ("titles", lambda c: [c.title]),
        ("categories", lambda c: list(c.categories)),
    ):
        groups[kind], without = _groups(network, getter)
        if without and people:
            notes.append(
                f"{without} of {counted(len(people), 'contact')} {'has' if without == 1 else 'have'} "
                f"no {SINGULAR[kind]}"
            )

    neglected = []
    for uid, membership in memberships.items():
        day = last.get(uid)
        if day is None:
            continue
        days = (today - day).days
        interval = membership.interval.approx_days
        if days > NEGLECT_FACTOR * interval:
            neglected.append(Neglected(uid, people[uid].name, membership.circle, day, days, interval))
    neglected.sort(key=lambda n: (-n.days_since, network.rank(n.circle), n.name.casefold()))

    year_ago = today - timedelta(days=365)
    reached = {t.uid for t in network.touches if year_ago < t.day <= today}
    return Audit(
        today=today,
        contacts=len(people),
        tracked=len(memberships),
        untracked=len(people) - len(memberships),
        never_contacted=sum(1 for uid in memberships if uid not in last),
        reached_12m=len(reached),
        key_contacts=key_contacts,
        sizes=sizes,
        groups=groups,
        neglected=neglected,
        capacity=capacity([(spec, size_by[spec.key]) for spec in network.circles], daily_limit),
        notes=notes,
    )


def size_message(size: CircleSize) -> str:
    if size.verdict == "too many":
        return f"{size.size - (size.high or 0)} more than the method's {size.range}: move some outwards"
    if size.verdict == "too few":
        return f"{(size.low or 0) - size.size} fewer than the method's {size.range}: room for more"
    return "within the method's range" if size.low is not None else ""


def _are(n: int) -> str:
    return "is" if n == 1 else "are"


def _were(n: int) -> str:
    return "was" if n == 1 else "were"


def headline(result: Audit) -> str:
    return (
        f"Of your {counted(result.contacts, 'contact')}, {result.reached_12m} {_were(result.reached_12m)} reached "
        f"in the last 12 months; {result.tracked} {_are(result.tracked)} in your circles "
        f"({result.never_contacted} of them never contacted), {result.untracked} {_are(result.untracked)} not tracked."
    )


def flagged(groups: Mapping[str, list[Group]]) -> list[tuple[str, Group]]:
    return [(kind, g) for kind, items in groups.items() for g in items if g.flag]
