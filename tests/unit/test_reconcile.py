"""Reconciliation (syncd.core.reconcile): which open reminders are withdrawn when their contact is gone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from syncd.core.circles import Membership
from syncd.core.contacts import Contact
from syncd.core.durations import Duration
from syncd.core.reconcile import reconcile
from tests.factories import task

NOW = datetime(2026, 11, 22, 9, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def test_the_open_reminder_of_a_deleted_card_is_withdrawn_unless_the_card_may_be_unreadable() -> None:
    kept = Contact(uid="kept", name="Kept Card")
    memberships = {"kept": Membership("1", Duration("P14D"), "card")}
    day = date(2026, 11, 22)
    tasks = [task("kept", day), task("deleted", day), task("broken", day), task("done-gone", day, done_on=day)]
    recon = reconcile({"kept": kept}, memberships, tasks, {}, NOW, BERLIN, unreadable={"broken"})
    assert [t.contact_uid for t in recon.withdraw] == ["deleted"]  # a completed one stays as history
    assert recon.snooze == {} and recon.complete == []
