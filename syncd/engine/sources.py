"""Where syncd learns that the user was in touch with someone, besides the reminders ticked off (which
`syncd.core.reconcile` reads from the task list itself): each source answers "contact UID -> when last reached".
Today: meetings in `interactions.calendars`, and messages in the `[mail]` folders. Notes can join behind the
same interface."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from syncd.core import mail
from syncd.dav import interactions
from syncd.engine.session import Session
from syncd.engine.world import World
from syncd.errors import SyncdError
from syncd.imap import mailbox

log = logging.getLogger("syncd")


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


class Mail:
    """The Date of each tracked contact's latest message in the `[mail]` folders (to them; with
    `count_received`, from them too). What is new on the server is read into the state first (syncd.imap); a
    mail server that fails is one warning (`failure` says why) and the cycle goes on without mail.

    A message moves a contact's last contact only to a later day than the card holds: mail writes a contact's
    card at most once a day."""

    name = "mail"  # what `show` calls a last contact found here

    def __init__(self, session: Session) -> None:
        self.session = session
        self.failure = ""  # why the mail server could not be read this cycle ("" = it was)
        self.scan: mailbox.Scan | None = None

    def touches(self, world: World, now: datetime) -> dict[str, datetime]:
        config = self.session.settings.mail
        state = self.session.state
        days = max((m.interval.approx_days for m in world.memberships.values()), default=90.0)
        since = (now.astimezone(UTC) - timedelta(days=days + 1)).date()
        try:
            self.scan = mailbox.scan(config, config.resolve_password(), state, since, now)
        except (mailbox.MailError, SyncdError) as err:
            self.failure = str(err)
            log.warning("mail: %s; messages are not counted this time (contacts and reminders are synced)", err)
        account = mailbox.account_key(config)
        sent = {a: datetime.fromisoformat(at) for a, at in state.mail_addresses(account, "to").items()}
        received = {}
        if config.count_received:
            received = {a: datetime.fromisoformat(at) for a, at in state.mail_addresses(account, "from").items()}
        zone = self.session.zone
        out: dict[str, datetime] = {}
        for uid, when in mail.last_messages(sent, received, world.contacts).items():
            current = world.contacts[uid].last_contact
            if when > now:
                continue
            if current is not None and when.astimezone(zone).date() <= current.astimezone(zone).date():
                continue  # the card already holds a contact that day (or later)
            log.info("wrote to %s on %s", world.contacts[uid].name, when.isoformat())
            out[uid] = when
        return out


def default_sources(session: Session) -> list[TouchSource]:
    """The sources a cycle reads: meetings, and mail when `[mail].url` is set."""
    sources: list[TouchSource] = [Meetings(session)]
    if session.settings.mail.url:
        sources.append(Mail(session))
    return sources
