"""One sync cycle: read -> reconcile -> plan -> write.

Each step first decides what it will write (syncd.engine.plan: actions, no I/O), then hands the actions to the
writer (syncd.engine.writing), which performs them or, in a dry run, describes them. Steps run in order, each
deciding on what the steps before it wrote: restored cards, then NOTE tags and recorded contacts, then the
reminders to close and withdraw, then the reminders to create, then (real cycles only) the local records and
the events calendar.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from syncd.core import notes, repair
from syncd.core.account import Collection, same_resource
from syncd.core.circles import resolve
from syncd.core.contacts import format_instant
from syncd.core.reconcile import KnownReminder, Reconciliation, reconcile
from syncd.core.reminders import Task
from syncd.dav.client import HTTPStatusError
from syncd.engine import plan
from syncd.engine.actions import PatchCard
from syncd.engine.quiet import Quiet, Warnings
from syncd.engine.reading import Reader
from syncd.engine.session import Session
from syncd.engine.sources import Mail, TouchSource, default_sources, sourced_touches
from syncd.engine.world import Summary, World
from syncd.engine.writing import Writer
from syncd.store.copies import Copies

log = logging.getLogger("syncd")


class Cycle:
    def __init__(
        self,
        session: Session,
        writer: Writer,
        *,
        full: bool = False,
        sources: Sequence[TouchSource] | None = None,
    ) -> None:
        self.session = session
        self.settings = session.settings
        self.writer = writer
        self.full = full  # plan even when nothing changed since the last cycle (syncd.engine.quiet)
        self.sources: Sequence[TouchSource] = sources if sources is not None else default_sources(session)
        self.reader = Reader(session)
        self.quiet = Quiet(session, self.reader)

    def run(self, now: datetime) -> Summary:
        """One cycle. A cycle whose inputs are those of the last one, which wrote nothing, stops after asking
        each collection what changed (syncd.engine.quiet)."""
        if self.writer.live and not self.full:
            summary = self.quiet.check(now)
            if summary is not None:
                return summary
        with Warnings() as warned:
            summary = self._run(now)
        if self.writer.live:
            self.quiet.leave(now, summary, warned.kept, bool(summary.writes or self.writer.unwritten))
        return summary

    def _run(self, now: datetime) -> Summary:
        clients = self.session.clients
        start_requests, start_writes = clients.requests(), clients.writes()
        world = self.reader.read(create_task_list=self.writer.live)
        task_list = world.task_list = self.writer.task_list(world)
        summary = Summary(contacts=len(world.contacts), tracked=len(world.memberships), broken=len(world.broken))
        copies = Copies(self.session.state).all()  # read once: restoring and saving both compare with it
        left = self._left_behind(task_list)
        self._restore(world, plan.restorations(world, copies), summary)
        found = sourced_touches(self.sources, world, now)
        recon = reconcile(
            world.contacts,
            world.memberships,
            [*world.tasks, *(t for t in left.values() if t is not None and t.done)],
            self._known(world, task_list),
            now,
            self.session.zone,
            {uid: when for uid, (when, _source) in found.items()},
            unreadable=self._unreadable(world, copies),
            touch_sources={uid: source for uid, (_when, source) in found.items()},
        )
        kept_notes = self.session.state.notes()
        all_notes = notes.merged(kept_notes, notes.from_tasks(world.tasks, now))
        summary.mail_failed = next((s.failure for s in self.sources if isinstance(s, Mail) and s.failure), "")
        for action in plan.note_mirrors(world, self.settings):
            summary.cards_written += self.writer.card(action)
        self._record_contacts(world, recon, plan.contact_updates(world, recon), summary)
        for close in plan.closings(world, recon, now):
            if self.writer.close(close, now):
                recon.recorded.add(close.task.uid)
                summary.closed += 1
        for withdrawal in plan.withdrawals(world, recon) + plan.departures(world, left):
            if self.writer.withdraw(withdrawal, world):
                recon.deleted.add(withdrawal.task.uid)
                summary.withdrawn += 1
            elif withdrawal.task.uid in left:  # still open over there: its contact gets no second one here
                world.elsewhere.append(withdrawal.task)
        for release in plan.releases(world, self.settings, now):
            if self.writer.withdraw(release, world):
                recon.deleted.add(release.task.uid)
                summary.withdrawn += 1
        tracked = plan.tracked(world, self.settings)
        for create in plan.reminders(world, self.settings, now, tracked, notes.latest(all_notes.values())):
            world.tasks.append(create.task)
            if self.writer.create(create, task_list):
                summary.created += 1
            elif self.writer.refused_at(create.task.href):
                world.tasks.remove(create.task)  # not on the server: never remembered as one the user deleted
        summary.waiting = plan.waiting(world, self.settings, now, tracked)
        if self.writer.live:
            self._keep_records(world, recon, copies, now, left)
            self._keep_notes(recon, kept_notes, all_notes)
        today = now.astimezone(self.session.zone).date()
        summary.due = sum(1 for t in world.tasks if t.open and t.due is not None and t.due <= today)
        summary.requests = clients.requests() - start_requests
        summary.writes = clients.writes() - start_writes
        summary.refused = list(self.writer.refused)
        dry_run = not self.writer.live
        log.info("sync%s: %s", " (dry run: nothing written)" if dry_run else "", summary.line(dry_run))
        return summary

    def _known(self, world: World, task_list: Collection) -> dict[str, KnownReminder]:
        """The reminders the state knows in this task list (after `reminders.task_list` names another list,
        the old list's reminders are not "deleted by the user", which would snooze every contact that had
        one); a reminder that is there but unreadable (say, a client wrote a bad date into it) is not deleted."""
        return {
            uid: row
            for uid, row in self.session.state.reminders().items()
            if same_resource(row.href.rsplit("/", 1)[0], task_list.url)
            and not any(same_resource(row.href, b) for b in world.broken_tasks)
        }

    def _left_behind(self, task_list: Collection) -> dict[str, Task | None]:
        """The reminders syncd knew as open in another task list (after `reminders.task_list` named a new one),
        or as done there with the completion not yet in the card: each as the server holds it now (None: gone),
        by UID. Nothing, one cycle after a change of list."""
        rows = [
            row
            for row in self.session.state.reminders().values()
            if (row.status == "open" or (row.status == "done" and not row.recorded))
            and not same_resource(row.href.rsplit("/", 1)[0], task_list.url)
        ]
        if not rows:
            return {}
        found = self.reader.reminders_at([row.href for row in rows])
        return {row.uid: found[row.href] for row in rows}

    def _unreadable(self, world: World, copies: Mapping[str, repair.Copy]) -> set[str]:
        """Contacts with an open reminder and no card read this time whose card may be one that failed to parse
        (syncd's copy of their X-SYNCD values names such a card, or names none while some failed): their
        reminders stay. Any other contact missing was deleted."""
        missing = {t.contact_uid for t in world.tasks if t.open and t.contact_uid not in world.contacts}
        if not missing or not world.broken:
            return set()
        out = set()
        for uid in missing:
            copy = copies.get(uid)
            if copy is None or any(same_resource(copy.href, href) for href in world.broken):
                out.add(uid)
        return out

    def _restore(self, world: World, actions: list[tuple[PatchCard, dict[str, str]]], summary: Summary) -> None:
        """Put back X-SYNCD lines that another client dropped, before anything reads them."""
        notes: list[str] = []
        for action, values in actions:
            contact = action.contact
            shown = ", ".join(f"{k}:{v}" for k, v in sorted(values.items()))
            log.warning(
                "%s (%s): every X-SYNCD line vanished after an edit elsewhere; restoring %s",
                contact.name,
                contact.href,
                shown,
            )
            if self.writer.card(action):
                summary.restored += 1
                membership = resolve(contact, self.settings.circle_rules, world.groups, notes)
                if membership is not None:
                    world.memberships[contact.uid] = membership
        for note in notes:
            log.warning("%s", note)

    def _record_contacts(self, world: World, recon: Reconciliation, actions: list[PatchCard], summary: Summary) -> None:
        """LAST-CONTACT and SNOOZE into the cards; what could not be written stays pending for the next cycle."""
        for action in actions:
            contact = action.contact
            uid = contact.uid
            if self.writer.card(action):
                summary.cards_written += 1
                summary.completed += uid in recon.last_contact
                summary.snoozed += uid in recon.snooze
                if uid in recon.snooze:
                    log.info("%s: reminder deleted, so not due before %s", contact.name, recon.snooze[uid].isoformat())
            elif uid in self.writer.unwritten:
                recon.recorded -= {t.uid for t in world.tasks if t.contact_uid == uid and t.done}
                recon.deleted -= {r.uid for r in self.session.state.reminders().values() if r.contact_uid == uid}
                log.warning("%s: the card was not written; the next sync tries again", contact.name)

    def _keep_records(
        self,
        world: World,
        recon: Reconciliation,
        copies: Mapping[str, repair.Copy],
        now: datetime,
        left: Mapping[str, Task | None],
    ) -> None:
        """The local records of a real cycle: every syncd reminder seen (in the task list, and those left in
        another list: forgotten once gone or withdrawn, kept while still open or with a completion to record),
        the X-SYNCD copies, the review history; then the events calendar (`reminders.calendar`)."""
        from syncd.engine import insights  # here: a quiet cycle needs neither the reviews nor the events

        state = self.session.state
        known = state.reminders()
        with state.transaction():
            for uid in recon.deleted | {uid for uid, task in left.items() if task is None}:
                state.forget(uid)
            for task in [*world.tasks, *(t for t in left.values() if t is not None and t.done)]:
                previously = known.get(task.uid)
                recorded = task.uid in recon.recorded or (previously is not None and previously.recorded)
                due = task.due.isoformat() if task.due else None
                state.remember(task.uid, task.contact_uid, task.href, due, "done" if task.done else "open", recorded)
            Copies(state).save(world.contacts.values(), copies)
        insights.record_history(self.session, world, now)
        if self.settings.reminders.calendar:
            self._events(world, now)

    def _keep_notes(
        self, recon: Reconciliation, kept: Mapping[str, notes.Note], found: Mapping[str, notes.Note]
    ) -> None:
        """Notes new or changed since the state last kept them (after the loss of `state_dir`: every note the
        completed reminders hold), and where each last contact recorded this cycle came from."""
        state = self.session.state
        changed = [note for uid, note in found.items() if kept.get(uid) != note]
        sources = [
            (uid, format_instant(when), recon.source[uid])
            for uid, when in recon.last_contact.items()
            if uid in recon.source and uid not in self.writer.unwritten
        ]
        if not changed and not sources:
            return
        with state.transaction():
            state.remember_notes(changed)
            state.remember_sourced_touches(sources)

    def _events(self, world: World, now: datetime) -> None:
        """Events come second to reminders: a server that refuses them (4xx) costs a warning, not the sync."""
        from syncd.engine import insights

        try:
            calendar = insights.events_calendar(self.session, world)
            self.quiet.before_events(calendar)  # its sync token, taken before the read (syncd.engine.quiet)
            insights.write_events(self.session, calendar, world, now)
        except HTTPStatusError as err:
            if not 400 <= err.status < 500:
                raise
            log.warning("could not update the events in %r: %s", self.settings.reminders.calendar, err)
