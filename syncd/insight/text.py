"""The plain text of the weekly reflection and monthly review events (no tables: calendar apps use
proportional fonts). Pure: results in, text out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from syncd.core.words import counted
from syncd.insight.review import GroupActivity, MonthReview, WeekReview


def pct(share: float) -> str:
    return f"{share * 100:.0f}%"


def groups_line(groups: Sequence[GroupActivity], today: date, limit: int = 12) -> str:
    parts = []
    for g in groups[:limit]:
        if g.last_touch is None:
            parts.append(f"{g.name} (never)")
        else:
            parts.append(f"{g.name} ({g.touched} reached, last {(today - g.last_touch).days}d ago)")
    more = f", +{len(groups) - limit} more" if len(groups) > limit else ""
    return ", ".join(parts) + more if parts else "none"


def week_text(result: WeekReview) -> str:
    people = sorted({r.name for r in result.reached}, key=str.casefold)
    lines = [
        f"Weekly reflection {result.first.isoformat()} – {result.last.isoformat()} (15 minutes)",
        "",
        f"Reached: {counted(len(people), 'person', 'people')}" + (": " + ", ".join(people) if people else ""),
        f"New contacts: {len(result.new_contacts)}"
        + (": " + ", ".join(n.name for n in result.new_contacts) if result.new_contacts else ""),
        f"Slipped: {len(result.slipped)}"
        + (": " + ", ".join(f"{s.name} ({s.days_overdue}d)" for s in result.slipped) if result.slipped else ""),
        f"Daily list done {result.lists_done}/{result.list_days} days; streak {counted(result.streak, 'day')}",
        "",
        "Ask yourself: who do I owe a reply? Who did I think of and not call? Who should move circles?",
    ]
    return "\n".join(lines)


def month_text(result: MonthReview) -> str:
    today = result.last
    lines = [f"Monthly review {result.first.isoformat()} – {today.isoformat()} (30 minutes)", ""]
    lines.append(
        "Within cadence: " + ", ".join(f"{c.label} {pct(c.share)} ({c.within}/{c.tracked})" for c in result.circles)
    )
    lines.append("Active: " + groups_line(result.active, today, 8))
    lines.append("Going quiet: " + groups_line(result.quiet, today, 8))
    for goal in result.goals:
        lines.append(
            f"Goal {goal.category}: {goal.reached}/{goal.goal}" + (" — met" if not goal.gap else f" — {goal.gap} to go")
        )
    lines.append(
        f"Touches: {result.touches_month} this month (pace {result.month_pace}), {result.touches_year} this year "
        f"(goal {result.year_goal}, {result.year_expected} expected by today)"
    )
    lines += ["", "Review: circle sizes (`syncd audit`), quiet groups, and who deserves a closer circle."]
    return "\n".join(lines)
