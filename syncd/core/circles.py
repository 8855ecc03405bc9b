"""Which circle a contact is in, and its interval. Pure.

Precedence: a NOTE tag (`#circle2`, `#pause`; see `notetags`) > the card's own X-SYNCD-CIRCLE > `[[rules]]`
(first match wins) > `contacts.default_circle`. `X-SYNCD-CIRCLE:none` and `#pause` mean "not tracked". The
interval: a NOTE `#every` tag > the card's X-SYNCD-INTERVAL > the circle's. A circle derived from rules or the
default is never written into the card (tags are mirrored into it by the cycle, see `notetags.mirror_updates`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from syncd.config import Settings
from syncd.core.contacts import NO_CIRCLE, Contact
from syncd.core.durations import Duration
from syncd.core.notetags import circle_key, pause_ended
from syncd.core.notetags import parse as parse_tags


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
    contact: Contact, settings: Settings, groups: dict[str, set[str]], warnings: list[str] | None = None
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
        circle = circle_key(tags, settings.circles)
        source = "tag"
        if circle is None and warnings is not None:
            warnings.append(f"{contact.name} ({contact.href}): NOTE #circle{tags.circle} is not a configured circle")
    own = contact.circle
    if own is not None and own.lower() == NO_CIRCLE and pause_ended(tags, contact.xsyncd):
        own = None  # paused by a NOTE tag that has been removed: tracked again
    if circle is None and own is not None:
        if own.lower() == NO_CIRCLE:
            return None
        if own in settings.circles:
            circle, source = own, "card"
        elif warnings is not None:
            warnings.append(f"{contact.name} ({contact.href}): X-SYNCD-CIRCLE:{own} is not a configured circle")
    if circle is None:
        for rule in settings.rules:
            matched = (rule.category and rule.category.casefold() in {c.casefold() for c in contact.categories}) or (
                rule.group and contact.uid in groups.get(rule.group.casefold(), set())
            )
            if matched:
                if rule.circle.lower() == NO_CIRCLE:
                    return None
                circle, source = rule.circle, "rule"
                break
    if circle is None and settings.contacts.default_circle:
        circle, source = settings.contacts.default_circle, "default"
    if circle is None:
        return None
    interval = tags.interval or contact.interval or settings.circles[circle].duration
    return Membership(circle, interval, source)
