"""The terminal views of the audit and the reviews (their calendar-event text is syncd.insight.text)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TextIO

from syncd.app.output.tables import render_table
from syncd.core.words import counted
from syncd.insight.audit import SINGULAR, Audit, flagged, headline, size_message
from syncd.insight.review import MonthReview, Reached, WeekReview
from syncd.insight.text import groups_line, pct


def _ago(day: date | None, today: date) -> str:
    if day is None:
        return "never"
    days = (today - day).days
    return f"{day.isoformat()} ({days}d ago)" if days > 0 else f"{day.isoformat()} (today)"


def print_audit(result: Audit, out: TextIO) -> None:
    today = result.today
    out.write(f"Network audit, {today.isoformat()}\n\n{headline(result)}\n")

    out.write("\nMost important contacts (inner circles first)\n")
    if result.key_contacts:
        rows = [
            [k.name, k.circle, _ago(k.last_contact, today), str(k.touches), k.phone or "—", k.email or "—"]
            for k in result.key_contacts
        ]
        render_table(["NAME", "CIRCLE", "LAST CONTACT", "TOUCHES", "PHONE", "EMAIL"], rows, out)
    else:
        out.write("  nobody is in a circle yet: `syncd set NAME --circle 1`\n")

    out.write("\nCircle sizes\n")
    rows = [[s.key, s.label, str(s.size), s.range, s.verdict, size_message(s)] for s in result.sizes]
    render_table(["CIRCLE", "NAME", "SIZE", "METHOD", "VERDICT", "NOTE"], rows, out)

    out.write("\nCapacity\n")
    cap = result.capacity
    rows = [
        [
            load.key,
            str(load.size),
            f"{load.interval_days:.0f}d",
            f"{load.need:.2f}",
            f"{load.allocated:.2f}",
            "never" if load.effective_days is None else f"{load.effective_days:.0f}d",
        ]
        for load in cap.loads
    ]
    render_table(["CIRCLE", "SIZE", "INTERVAL", "NEED/DAY", "GETS/DAY", "EFFECTIVE"], rows, out)
    out.write(cap.summary() + "\n")
    for fix in cap.fixes:
        out.write(f"  fix: {fix}\n")

    for kind, groups in result.groups.items():
        out.write(f"\nBy {SINGULAR[kind]} (tracked share vs address book share)\n")
        if not groups:
            out.write("  none recorded\n")
            continue
        rows = [
            [
                g.name,
                str(g.contacts),
                str(g.tracked),
                "—" if g.representation is None else f"{g.representation:.1f}×",
                {"over": "over-represented", "under": "under-represented"}.get(g.flag, ""),
            ]
            for g in groups
        ]
        render_table([SINGULAR[kind].upper(), "CONTACTS", "TRACKED", "WEIGHT", "FLAG"], rows, out)
    for note in result.notes:
        out.write(f"({note})\n")
    marked = flagged(result.groups)
    if marked:
        out.write("\n" + "; ".join(f"{g.name} is {g.flag}-represented in your circles" for _, g in marked) + "\n")

    out.write(f"\nNeglected: {counted(len(result.neglected), 'contact')} over 2× their interval (longest first)\n")
    if result.neglected:
        rows = [[n.name, n.circle, _ago(n.last_contact, today), f"{n.ratio:.1f}×"] for n in result.neglected[:25]]
        render_table(["NAME", "CIRCLE", "LAST CONTACT", "× INTERVAL"], rows, out)
        if len(result.neglected) > 25:
            out.write(f"... and {len(result.neglected) - 25} more (--json lists all)\n")


def _reached_rows(items: Sequence[Reached]) -> list[list[str]]:
    return [[r.day.isoformat(), r.name, r.circle or "—", r.source] for r in items]


def print_week(result: WeekReview, out: TextIO) -> None:
    out.write(f"Weekly reflection, {result.first.isoformat()} – {result.last.isoformat()}\n\n")
    people = len({r.uid for r in result.reached})
    touches = counted(len(result.reached), "touch", "touches")
    out.write(f"Reached: {counted(people, 'person', 'people')} ({touches})\n")
    if result.reached:
        out.write("By source: " + ", ".join(f"{source} {n}" for source, n in result.by_source.items()) + "\n")
        render_table(["DAY", "NAME", "CIRCLE", "HOW"], _reached_rows(result.reached), out)
    out.write(f"\nNew in your address book: {len(result.new_contacts)}\n")
    for new in result.new_contacts:
        out.write(f"  {new.first_seen.isoformat()}  {new.name}\n")
    out.write(f"\nSlipped (open reminders past their day): {len(result.slipped)}\n")
    if result.slipped:
        rows = [[s.name, s.circle or "—", s.due.isoformat(), f"{s.days_overdue}d"] for s in result.slipped]
        render_table(["NAME", "CIRCLE", "DUE", "OVERDUE"], rows, out)
    out.write(
        f"\nDaily list done on {result.lists_done} of {result.list_days} days with reminders this week; "
        f"streak: {counted(result.streak, 'day')}.\n"
    )


def print_month(result: MonthReview, out: TextIO) -> None:
    today = result.last
    out.write(f"Monthly review, {result.first.isoformat()} – {today.isoformat()}\n\n")
    out.write("Within cadence, per circle\n")
    rows = [[c.key, c.label, str(c.tracked), str(c.within), pct(c.share)] for c in result.circles]
    render_table(["CIRCLE", "NAME", "TRACKED", "WITHIN", "SHARE"], rows, out)
    out.write(f"\nActive (a touch in the last 60 days): {groups_line(result.active, today)}\n")
    out.write(f"Going quiet (no touch in 60+ days): {groups_line(result.quiet, today)}\n")
    if result.goals:
        out.write("\nGoals (people reached in these 30 days)\n")
        rows = [
            [g.category, str(g.goal), str(g.reached), "met" if not g.gap else f"{g.gap} to go"] for g in result.goals
        ]
        render_table(["CATEGORY", "GOAL", "REACHED", "GAP"], rows, out)
    out.write(
        f"\nTouches: {result.touches_month} in these 30 days (full pace at {result.daily_limit} a day: "
        f"{result.month_pace}); {result.touches_year} this year (goal {result.year_goal}: "
        f"{result.year_expected} by today; at this rate {result.year_projected} by year's end).\n"
    )
