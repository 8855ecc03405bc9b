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


def touches(sources: Iterable[TouchSource], world: World, now: datetime) -> dict[str, datetime]:
    """The latest touch per contact over all sources."""
    found: dict[str, datetime] = {}
    for source in sources:
        for uid, when in source.touches(world, now).items():
            if uid not in found or when > found[uid]:
                found[uid] = when
    return found
