"""Tags in a card's NOTE, editable on any phone: `#circle2`, `#every 3w`, `#pause`. Pure.

Parsing is lenient: case does not matter, and a separator between the word and its value is optional
(`#circle2`, `#Circle 2`, `#circle:2`, `#circle=inner`; `#every 3w`, `#every3w`, `#every 10 days`,
`#every 2 months`, `#every P3W`). A tag is recognised only at the start of a word (`a#circle2` is not one).
`#pause` (also `#paused`) stops tracking. When a tag appears twice, the last one counts.

A tag is mirrored into the card's X-SYNCD fields when it differs from them (`mirror_updates`):
`#circleN` → `X-SYNCD-CIRCLE:N`, `#every ...` → `X-SYNCD-INTERVAL`, `#pause` → `X-SYNCD-CIRCLE:none` plus
`X-SYNCD-PAUSED-BY:note`, so that removing `#pause` from the NOTE ends the pause (both lines are removed and
the contact's circle comes from the rules or the default again). Removing `#circle` or `#every` leaves the
mirrored value in place.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from syncd.core.contacts import CIRCLE, INTERVAL, NO_CIRCLE
from syncd.core.durations import Duration, parse_interval

PAUSED_BY = "X-SYNCD-PAUSED-BY"  # "note": X-SYNCD-CIRCLE:none was written because of a #pause tag

_TAG = re.compile(
    r"(?<![\w#])#(?:"
    r"(?P<circle>circle)[ \t]*[:=-]?[ \t]*(?P<key>[A-Za-z0-9_-]+)"
    r"|(?P<every>every)[ \t]*[:=-]?[ \t]*(?P<span>\d+[ \t]*[A-Za-z]+|P[0-9A-Z]+)"
    r"|(?P<pause>paused?)(?![\w-])"
    r")",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class NoteTags:
    circle: str | None = None  # the key as written (matched against configured circles case-insensitively)
    interval: Duration | None = None
    pause: bool = False
    problems: tuple[str, ...] = ()  # tags that look like tags but could not be read

    @property
    def empty(self) -> bool:
        return self.circle is None and self.interval is None and not self.pause


_NONE = NoteTags()


def parse(note: str) -> NoteTags:
    if not note or "#" not in note:  # most notes have no tag: skip the scan (it runs for every contact each cycle)
        return _NONE
    circle: str | None = None
    interval: Duration | None = None
    pause = False
    problems: list[str] = []
    for match in _TAG.finditer(note or ""):
        if match.group("circle"):
            circle = match.group("key")
        elif match.group("every"):
            span = match.group("span")
            try:
                interval = parse_interval(span)
            except ValueError:
                problems.append(f"#every {span}: not an interval such as 3w, 10d, 2m or 1y (1 day to 10 years)")
        elif match.group("pause"):
            pause = True
    return NoteTags(circle, interval, pause, tuple(problems))


def circle_key(tags: NoteTags, circles: Collection[str]) -> str | None:
    """The configured circle a `#circle` tag names (exact key first, then case-insensitively), else None."""
    if tags.circle is None:
        return None
    if tags.circle in circles:
        return tags.circle
    folded = {key.casefold(): key for key in circles}
    return folded.get(tags.circle.casefold())


def mirror_updates(tags: NoteTags, xsyncd: Mapping[str, str], circles: Collection[str]) -> dict[str, str | None]:
    """The X-SYNCD values to write so the card's fields say what its NOTE tags say (empty = nothing)."""
    updates: dict[str, str | None] = {}
    current = xsyncd.get(CIRCLE, "").strip()
    if tags.pause:
        wanted: str | None = NO_CIRCLE
        if current.lower() != NO_CIRCLE:
            updates[PAUSED_BY] = "note"
    else:
        wanted = circle_key(tags, circles)
        if xsyncd.get(PAUSED_BY, "").strip():  # the #pause tag is gone: so is the pause
            updates[PAUSED_BY] = None
            if wanted is None and current.lower() == NO_CIRCLE:
                updates[CIRCLE] = None
    if wanted is not None and current != wanted:
        updates[CIRCLE] = wanted
    if tags.interval is not None:
        current = xsyncd.get(INTERVAL, "").strip()
        try:
            same = bool(current) and Duration(current) == tags.interval
        except ValueError:
            same = False
        if not same:
            updates[INTERVAL] = tags.interval.text
    return updates


def pause_ended(tags: NoteTags, xsyncd: Mapping[str, str]) -> bool:
    """The card says `X-SYNCD-CIRCLE:none` because of a `#pause` that is no longer in the NOTE."""
    return not tags.pause and bool(xsyncd.get(PAUSED_BY, "").strip())
