"""Where decided writes reach the server: `Writer` performs them, `DryRun` describes them and sends nothing.

Every card write goes through `Writer.card` (GET, patch X-SYNCD lines, PUT If-Match, journaled); every task
write through `close`, `withdraw` and `create`. A dry run differs from a real cycle here and nowhere else.

A write the server refuses (HTTP 4xx) is never taken for done: in a cycle it is a warning and a `Refusal` in
`Writer.refused` (the summary and the exit status say so), and the other writes go on; for a one-shot
command (`strict`) it is a `WriteRefused` error naming the contact and the server's reason.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urljoin

from syncd.core.account import Collection
from syncd.core.contacts import Contact
from syncd.core.reminders import complete_text
from syncd.dav import carddav, tasks
from syncd.dav.carddav import CardWrite
from syncd.dav.client import HTTPStatusError, NotFound, Refused, ResponseTooLarge
from syncd.engine.actions import CloseTask, CreateTask, PatchCard, WithdrawTask
from syncd.engine.session import Session
from syncd.engine.world import Refusal, World
from syncd.errors import PreconditionFailed, WriteRefused
from syncd.store.journal import xsyncd_diff

log = logging.getLogger("syncd")


class Writer:
    live = True

    def __init__(self, session: Session, *, strict: bool = False) -> None:
        self.session = session
        self.strict = strict  # a one-shot command: a refused write raises WriteRefused
        self.unwritten: set[str] = set()  # contact UIDs whose card write failed
        self.refused: list[Refusal] = []  # the writes the server refused, in order
        self.planned: list[str] = []  # a dry run's description of each write

    def refused_at(self, href: str) -> bool:
        return any(r.href == href for r in self.refused)

    def _refused(self, kind: str, name: str, href: str, err: Refused, doing: str) -> None:
        """Record a refused write; a one-shot command stops here with the error the user reads."""
        if self.strict:
            raise WriteRefused(f"{name}: the server refused {doing}: {err.reason}; nothing was written") from err
        self.refused.append(Refusal(kind, name, href, err.reason))
        log.warning("the server refused %s of %s (%s): %s", doing, name, href, err.reason)

    # Cards ---------------------------------------------------------------------------------------------

    def card(self, action: PatchCard) -> bool:
        """Patch the contact's X-SYNCD lines on the server; whether a PUT happened (or, in a dry run, would).
        A card the server refuses (4xx) is a `Refusal` (strict: WriteRefused); one it cannot serve (4xx to the
        GET), deleted meanwhile or too large is a warning and left as it is."""
        contact = action.contact
        compute = keep_lines(contact, action.compute)
        try:
            result = self._write_card(action, compute)
        except Refused as err:
            self._refused("card", contact.name, contact.href, err, "to write the card")
        except HTTPStatusError as err:
            if not 400 <= err.status < 500:
                raise
            log.warning("could not write %s (%s): %s", contact.name, contact.href, err)
        except ResponseTooLarge as err:
            log.warning("could not write %s (%s): %s; the card is left as it is", contact.name, contact.href, err)
        except NotFound:
            log.warning(
                "could not write %s (%s): the card was deleted on the server meanwhile", contact.name, contact.href
            )
        else:
            if result is None:
                return False
            contact.xsyncd = dict(result.after)
            self._wrote_card(action, result)
            return True
        self.unwritten.add(contact.uid)
        return False

    def _write_card(self, action: PatchCard, compute: carddav.Compute) -> CardWrite | None:
        contact = action.contact
        journal = self.session.journal.bind(contact.uid, contact.name, action.reason)
        return carddav.write_xsyncd(self.session.clients.contacts, contact.href, compute, journal=journal)

    def _wrote_card(self, action: PatchCard, result: CardWrite) -> None:
        contact = action.contact
        contact.etag = result.etag
        changes = ", ".join(
            f"{k}: {result.before.get(k, '—')} → {result.after.get(k, '—')}"
            for k in sorted(set(result.before) | set(result.after))
            if result.before.get(k) != result.after.get(k)
        )
        log.info("wrote %s (%s): %s", contact.name, contact.href, changes or "tidied duplicate X-SYNCD lines")

    # Tasks ---------------------------------------------------------------------------------------------

    def close(self, action: CloseTask, now: datetime) -> bool:
        task = action.task
        text = complete_text(task.text, action.when, now)
        try:
            etag = tasks.update_task(self.session.clients.calendars, task.href, task.etag, text)
        except PreconditionFailed:
            log.info("%s changed on the server meanwhile; will look again next cycle", task.href)
            return False
        except Refused as err:
            self._refused("reminder", action.name, task.href, err, "to mark the open reminder done")
            return False
        task.done, task.completed, task.etag = True, action.when, etag
        return True

    def withdraw(self, action: WithdrawTask, world: World) -> bool:
        try:
            tasks.delete_task(self.session.clients.calendars, action.task.href, action.task.etag)
        except PreconditionFailed:
            log.info("%s changed on the server meanwhile; left in place", action.task.href)
            return False
        except Refused as err:
            self._refused("reminder", action.name, action.task.href, err, "to withdraw the reminder")
            return False
        if action.task in world.tasks:
            world.tasks.remove(action.task)
        log.info("withdrew the reminder for %s: %s", action.name, action.reason)
        return True

    def create(self, action: CreateTask, task_list: Collection) -> bool:
        """Whether the reminder is new (a retry after a lost answer finds it there already; a refused one is
        not: see `refused_at(task.href)`)."""
        task = action.task
        task.href = tasks.task_href(task_list, task.uid)
        try:
            task.href, new = tasks.create_task(self.session.clients.calendars, task_list, task.uid, task.text)
        except Refused as err:
            self._refused("reminder", action.name, task.href, err, "to create the reminder")
            return False
        if new:
            log.info("reminder: reach out to %s (circle %s)", action.name, action.circle)
        return new

    def task_list(self, world: World) -> Collection:
        """The task list a cycle writes to (a real cycle's read has created it when missing)."""
        assert world.task_list is not None
        return world.task_list


class DryRun(Writer):
    """`sync --dry-run`: each write is described in `planned`; nothing is sent (the clients refuse writes)."""

    live = False

    def _write_card(self, action: PatchCard, compute: carddav.Compute) -> CardWrite | None:
        return carddav.write_xsyncd(self.session.clients.contacts, action.contact.href, compute, dry_run=True)

    def _wrote_card(self, action: PatchCard, result: CardWrite) -> None:
        contact = action.contact
        self.planned.append(f"card {contact.name} ({contact.href}){': ' + action.reason if action.reason else ''}")
        self.planned.extend("    " + line for line in xsyncd_diff(result.original, result.text))

    def close(self, action: CloseTask, now: datetime) -> bool:
        reached = action.when.astimezone(self.session.zone).strftime("%Y-%m-%d %H:%M")
        self.planned.append(f"task {action.task.href}: mark done ({action.name} reached {reached})")
        return True

    def withdraw(self, action: WithdrawTask, world: World) -> bool:
        self.planned.append(f"task {action.task.href}: delete (If-Match) — {action.name}: {action.reason}")
        return True

    def create(self, action: CreateTask, task_list: Collection) -> bool:
        task = action.task
        task.href = tasks.task_href(task_list, task.uid)
        log.info("would create a reminder: reach out to %s (circle %s)", action.name, action.circle)
        self.planned.append(
            f"task {task.href}: create (If-None-Match) — Reach out to {action.name}, due "
            f"{task.due.isoformat() if task.due else '?'}, circle {action.circle}"
        )
        return True

    def task_list(self, world: World) -> Collection:
        if world.task_list is not None:
            return world.task_list
        name = self.session.settings.reminders.task_list
        home = world.account.calendar_home or ""
        self.planned.append(f"task list {name!r}: create (VTODO-only) under {home}")
        return Collection(url=urljoin(home, "new-task-list/"), name=name, kind="calendar", components={"VTODO"})


def keep_lines(contact: Contact, compute: carddav.Compute) -> carddav.Compute:
    """`compute` for a card write, also restoring the X-SYNCD values syncd read this cycle when every line
    vanished between the read and the write (a foreign client saved the card meanwhile): without this, the
    write would leave only the one value it sets, and the rest would be lost for good."""
    seen = dict(contact.xsyncd)

    def guarded(current: dict[str, str]) -> Mapping[str, str | None]:
        updates = compute(current)
        if current or not seen:
            return updates
        log.warning(
            "%s (%s): every X-SYNCD line vanished after an edit elsewhere; restoring them with this write",
            contact.name,
            contact.href,
        )
        return {**seen, **updates}

    return guarded
