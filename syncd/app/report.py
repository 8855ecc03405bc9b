"""`syncd report --html FILE`: the audit, both reviews and three charts on one self-contained page.

The page has no external references: the charts are matplotlib figures inlined as SVG (text drawn as paths, so
no font is needed either), the style sheet is inline, and there is no script. The series behind the charts are
pure functions of the `Network` (tested on their own); jinja2 (autoescaping) writes the page.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from syncd import __version__
from syncd.errors import UsageError
from syncd.insight.audit import Audit, flagged, headline, size_message
from syncd.insight.network import Network, within_cadence
from syncd.insight.review import QUIET_DAYS, MonthReview, WeekReview

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WEEKS = 12


# The series (pure) ---------------------------------------------------------------------------------------


def week_ends(today: date, weeks: int = WEEKS) -> list[date]:
    """The last day of each of the `weeks` 7-day periods up to today, oldest first."""
    return [today - timedelta(days=7 * i) for i in reversed(range(weeks))]


def health_series(network: Network, today: date, weeks: int = WEEKS) -> dict[str, list[float]]:
    """Circle label -> share of its members within cadence at each week end (from the touches syncd knows)."""
    days_by: dict[str, list[date]] = {}
    for touch in network.touches:
        days_by.setdefault(touch.uid, []).append(touch.day)
    ends = week_ends(today, weeks)
    out: dict[str, list[float]] = {}
    for spec in network.circles:
        members = [(uid, m) for uid, m in network.memberships.items() if m.circle == spec.key]
        series = []
        for end in ends:
            within = 0
            for uid, membership in members:
                past = [d for d in days_by.get(uid, []) if d <= end]
                if within_cadence(max(past) if past else None, membership.interval, end):
                    within += 1
            series.append(within / len(members) if members else 0.0)
        out[spec.label] = series
    return out


def touches_per_week(network: Network, today: date, weeks: int = WEEKS) -> list[int]:
    counts = []
    for end in week_ends(today, weeks):
        counts.append(len(network.touches_between(end - timedelta(days=6), end)))
    return counts


@dataclass(frozen=True, slots=True)
class CategoryActivity:
    name: str
    active: int  # people with a touch in the last 60 days
    quiet: int  # the others


def category_activity(network: Network, today: date) -> list[CategoryActivity]:
    last = network.last_touch()
    since = today - timedelta(days=QUIET_DAYS - 1)
    people: dict[str, set[str]] = {}
    names: dict[str, str] = {}
    for uid, contact in network.contacts.items():
        for value in contact.categories:
            key = value.strip().casefold()
            if key:
                names.setdefault(key, value.strip())
                people.setdefault(key, set()).add(uid)
    out = []
    for key, uids in people.items():
        active = sum(1 for uid in uids if uid in last and since <= last[uid] <= today)
        out.append(CategoryActivity(names[key], active, len(uids) - active))
    out.sort(key=lambda c: (-(c.active + c.quiet), c.name.casefold()))
    return out


# Charts (matplotlib -> inline SVG) -------------------------------------------------------------------------

_PALETTE = ["#2f6f9f", "#e08a2c", "#5a9e4b", "#b04a5a", "#7d62a8", "#8c8c8c"]


def _svg(figure: object) -> Markup:
    from matplotlib.figure import Figure

    assert isinstance(figure, Figure)
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    start = text.index("<svg")  # drop the XML declaration and the DOCTYPE (it names an external DTD)
    svg = text[start:]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    return Markup(svg)


def _figure(width: float = 7.0, height: float = 3.0) -> object:
    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)  # no font-cache chatter in syncd's log

    matplotlib.rcParams["svg.fonttype"] = "path"
    matplotlib.rcParams["svg.hashsalt"] = "syncd"
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=96)


def _date_axis(ax: Axes, ends: Sequence[date]) -> list[int]:
    """Week ends as evenly spaced, labelled positions on the x axis."""
    positions = list(range(len(ends)))
    ax.set_xticks(positions, [d.strftime("%d %b") for d in ends], rotation=45, fontsize=8)
    return positions


def health_chart(series: dict[str, list[float]], ends: Sequence[date]) -> Markup:
    from matplotlib.figure import Figure

    fig = _figure()
    assert isinstance(fig, Figure)
    ax = fig.add_subplot()
    positions = _date_axis(ax, ends)
    for i, (name, values) in enumerate(series.items()):
        ax.plot(positions, [v * 100 for v in values], marker="o", label=name, color=_PALETTE[i % len(_PALETTE)])
    ax.set_ylim(0, 105)
    ax.set_ylabel("% within cadence")
    ax.set_title("Circle health over time")
    ax.grid(axis="y", alpha=0.3)
    if series:
        ax.legend(loc="lower left", fontsize=8)
    return _svg(fig)


def touches_chart(counts: Sequence[int], ends: Sequence[date], pace: int) -> Markup:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = _figure()
    assert isinstance(fig, Figure)
    ax = fig.add_subplot()
    ax.bar(_date_axis(ax, ends), counts, color=_PALETTE[0])
    ax.axhline(pace, color=_PALETTE[1], linestyle="--", label=f"full pace ({pace} a week)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("touches")
    ax.set_title("Touches per week")
    ax.legend(loc="upper left", fontsize=8)
    return _svg(fig)


def categories_chart(items: Sequence[CategoryActivity]) -> Markup:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    shown = list(items[:12])
    fig = _figure(7.0, max(1.5, 0.35 * len(shown) + 1.0))
    assert isinstance(fig, Figure)
    ax = fig.add_subplot()
    names = [c.name for c in reversed(shown)]
    active = [c.active for c in reversed(shown)]
    quiet = [c.quiet for c in reversed(shown)]
    ax.barh(names, active, color=_PALETTE[2], label="active (touch in 60 days)")
    ax.barh(names, quiet, left=active, color=_PALETTE[5], label="quiet")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("people")
    ax.set_title("Categories: active vs quiet")
    if shown:
        ax.legend(loc="lower right", fontsize=8)
    return _svg(fig)


# The page ------------------------------------------------------------------------------------------------


def render(network: Network, audit: Audit, week: WeekReview, month: MonthReview, *, now: datetime) -> str:
    today = audit.today
    ends = week_ends(today)
    charts = {
        "health": health_chart(health_series(network, today), ends),
        "touches": touches_chart(touches_per_week(network, today), ends, month.daily_limit * 7),
        "categories": categories_chart(category_activity(network, today)),
    }
    env = Environment(
        loader=PackageLoader("syncd.app", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    template = env.get_template("report.html.j2")
    return template.render(
        today=today.isoformat(),
        version=__version__,
        headline=headline(audit),
        audit=audit,
        week=week,
        month=month,
        charts=charts,
        flagged=flagged(audit.groups),
        size_message=size_message,
        generated=now.isoformat(),
    )


def write(path: str, page: str) -> None:
    try:
        Path(path).expanduser().write_text(page, encoding="utf-8")
    except OSError as err:
        raise UsageError(f"report --html: cannot write {path}: {err.strerror}") from err
