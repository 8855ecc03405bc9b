"""Which circle a contact is in, and its interval. Pure.

Precedence: a NOTE tag (`#circle2`, `#pause`; see `notetags`) > the card's own X-SYNCD-CIRCLE > `[[rules]]`
(first match wins) > `contacts.default_circle`. `X-SYNCD-CIRCLE:none` and `#pause` mean "not tracked". The
interval: a NOTE `#every` tag > the card's X-SYNCD-INTERVAL > the circle's. A circle derived from rules or the
default is never written into the card (tags are mirrored into it by the cycle, see `notetags.mirror_updates`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from syncd.core.contacts import NO_CIRCLE, Contact
from syncd.core.durations import Duration
from syncd.core.notetags import circle_key, pause_ended
from syncd.core.notetags import parse as parse_tags


@dataclass(frozen=True, slots=True)
class Rule:
    """A `[[rules]]` entry: contacts with this category, or in this group, are in `circle` ("none": untracked)."""

    circle: str
    category: str = ""
    group: str = ""


@dataclass(frozen=True, slots=True)
class CircleRules:
    """What resolving a contact's circle needs of the settings (see `Settings.circle_rules`)."""

    circles: Mapping[str, Duration]  # circle key -> its interval, in the configured order
    rules: tuple[Rule, ...] = ()
    default_circle: str = ""  # `contacts.default_circle`; "" = none


@functools.lru_cache(maxsize=16)
def circle_rules(circles: tuple[tuple[str, str], ...], rules: tuple[Rule, ...], default_circle: str) -> CircleRules:
    """CircleRules from (circle key, ISO 8601 interval) pairs: the same inputs give the same object, so that
    the intervals are parsed once, not once per contact."""
    return CircleRules(MappingProxyType({key: Duration(text) for key, text in circles}), rules, default_circle)


@dataclass(frozen=True, slots=True)
class Membership:
    circle: str
    interval: Duration
    source: str  # "tag", "card", "rule" or "default"


def group_members(contacts: Iterable[Contact]) -> dict[str, set[str]]:
    """Group name -> member UIDs, from Apple group cards and vCard 4 KIND:group cards."""
    groups: dict[str, set[str]] = {}
    for contact in contacts:
        if contact.is_group:
            groups.setdefault(contact.name.casefold(), set()).update(contact.members)
    return groups


def resolve(
    contact: Contact, config: CircleRules, groups: dict[str, set[str]], warnings: list[str] | None = None
) -> Membership | None:
    if contact.is_group:
        return None
    circle: str | None = None
    source = ""
    tags = parse_tags(contact.note)
    if warnings is not None:
        warnings.extend(f"{contact.name} ({contact.href}): NOTE {problem}; ignored" for problem in tags.problems)
    if tags.pause:
        return None
    if tags.circle is not None:
        circle = circle_key(tags, config.circles)
        source = "tag"
        if circle is None and warnings is not None:
            warnings.append(f"{contact.name} ({contact.href}): NOTE #circle{tags.circle} is not a configured circle")
    own = contact.circle
    if own is not None and own.lower() == NO_CIRCLE and pause_ended(tags, contact.xsyncd):
        own = None  # paused by a NOTE tag that has been removed: tracked again
    if circle is None and own is not None:
        if own.lower() == NO_CIRCLE:
            return None
        if own in config.circles:
            circle, source = own, "card"
        elif warnings is not None:
            warnings.append(f"{contact.name} ({contact.href}): X-SYNCD-CIRCLE:{own} is not a configured circle")
    if circle is None:
        for rule in config.rules:
            matched = (rule.category and rule.category.casefold() in {c.casefold() for c in contact.categories}) or (
                rule.group and contact.uid in groups.get(rule.group.casefold(), set())
            )
            if matched:
                if rule.circle.lower() == NO_CIRCLE:
                    return None
                circle, source = rule.circle, "rule"
                break
    if circle is None and config.default_circle:
        circle, source = config.default_circle, "default"
    if circle is None:
        return None
    interval = tags.interval or contact.interval or config.circles[circle]
    return Membership(circle, interval, source)
