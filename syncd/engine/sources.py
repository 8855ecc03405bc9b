"""Where syncd learns that the user was in touch with someone, besides the reminders ticked off (which
`syncd.core.reconcile` reads from the task list itself): each source answers "contact UID -> when last reached".
Today: meetings in `interactions.calendars`. Mail and notes can join behind the same interface."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from syncd.dav import interactions
from syncd.engine.session import Session
from syncd.engine.world import World


class TouchSource(Protocol):
    def touches(self, world: World, now: datetime) -> dict[str, datetime]: ...


class Meetings:
    """The end of each tracked contact's latest past meeting in the calendars `interactions.calendars` names."""

    name = "meeting"  # what `show` calls a last contact found here

    def __init__(self, session: Session) -> None:
        self.session = session

    def touches(self, world: World, now: datetime) -> dict[str, datetime]:
        return interactions.touches(
            self.session.clients.meetings,
            world.meetings_account or world.account,
            self.session.settings.interactions,
            world.contacts,
            [m.interval for m in world.memberships.values()],
            now,
            self.session.zone,
        )


def source_name(source: TouchSource) -> str:
    """What a source's touches are called (`show`'s last_contact_source): its `name`, else read from its class
    name ("mail" for a source of messages), else "meeting"."""
    name = getattr(source, "name", None)
    if isinstance(name, str) and name:
        return name
    kind = type(source).__name__.lower()
    return "mail" if "mail" in kind or "message" in kind else "meeting"


def sourced_touches(sources: Iterable[TouchSource], world: World, now: datetime) -> dict[str, tuple[datetime, str]]:
    """The latest touch per contact over all sources, with the name of the source it came from."""
    found: dict[str, tuple[datetime, str]] = {}
    for source in sources:
        name = source_name(source)
        for uid, when in source.touches(world, now).items():
            if uid not in found or when > found[uid][0]:
                found[uid] = (when, name)
    return found


def touches(sources: Iterable[TouchSource], world: World, now: datetime) -> dict[str, datetime]:
    """The latest touch per contact over all sources."""
    return {uid: when for uid, (when, _name) in sourced_touches(sources, world, now).items()}
