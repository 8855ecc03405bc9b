"""`syncd report --html FILE`: today's list, the audit, both reviews and three charts on one self-contained page.

The page has no external references: the charts are matplotlib figures inlined as SVG (text drawn as paths, so
no font is needed either), the style sheet is inline, and there is no script. matplotlib is optional (the
`report` extra): without it the page is the same less the charts, with a note saying how to add them. The
series behind the charts are pure functions of the `Network` (tested on their own); jinja2 (autoescaping)
writes the page.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from syncd import __version__
from syncd.engine.agenda import Agenda
from syncd.engine.world import TodayItem
from syncd.errors import UsageError
from syncd.insight.audit import Audit, CircleSize, flagged, headline, size_message
from syncd.insight.network import Network, within_cadence
from syncd.insight.review import QUIET_DAYS, MonthReview, WeekReview

if TYPE_CHECKING:
    from matplotlib.axes import Axes

WEEKS = 12
CHARTS_EXTRA = "pip install 'syncd[report]'"


def charts_available() -> bool:
    """matplotlib is installed (the `report` extra)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


# The series (pure) ---------------------------------------------------------------------------------------


def week_ends(today: date, weeks: int = WEEKS) -> list[date]:
    """The last day of each of the `weeks` 7-day periods up to today, oldest first."""
    return [today - timedelta(days=7 * i) for i in reversed(range(weeks))]


def history_start(network: Network, today: date) -> date:
    """The first day syncd recorded anything (its first sync); today when it has recorded nothing yet."""
    return min(network.first_seen.values(), default=today)


def health_series(
    network: Network, today: date, weeks: int = WEEKS, since: date | None = None
) -> dict[str, list[float | None]]:
    """Circle label -> share of its members within cadence at each week end (from the touches syncd knows).
    None where nothing can be said: a week end before `since` (syncd's history: before it only each card's last
    contact is known, not the ones before) and a circle with no members."""
    days_by: dict[str, list[date]] = {}
    for touch in network.touches:
        days_by.setdefault(touch.uid, []).append(touch.day)
    ends = week_ends(today, weeks)
    out: dict[str, list[float | None]] = {}
    for spec in network.circles:
        members = [(uid, m) for uid, m in network.memberships.items() if m.circle == spec.key]
        series: list[float | None] = []
        for end in ends:
            if not members or (since is not None and end < since):
                series.append(None)
                continue
            within = 0
            for uid, membership in members:
                past = [d for d in days_by.get(uid, []) if d <= end]
                if within_cadence(max(past) if past else None, membership.interval, end):
                    within += 1
            series.append(within / len(members))
        out[spec.label] = series
    return out


def touches_scale(counts: Sequence[int], pace: int) -> tuple[float, bool]:
    """The top of the touches chart's y axis, and whether the full-pace line is on it: the axis follows the
    data; the pace line is drawn when it is at most three times the highest week (the bars keep a readable
    height), else the legend names it as above the scale."""
    top = max(counts, default=0)
    if 0 < pace <= 3 * max(top, 1):
        return max(top, pace) * 1.15, True
    return max(top, 4) * 1.25, False


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
_NO_DATA = "#eeeeee"


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


def _figure(width: float = 10.0, height: float = 3.4) -> object:
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
    ax.set_xlim(-0.6, len(ends) - 0.4)
    return positions


def _title_and_legend(ax: Axes, title: str) -> None:
    """The legend in a row between the title and the plot, never over the data; every chart keeps the same
    width for its plot, so the charts line up on the page."""
    handles, _labels = ax.get_legend_handles_labels()
    columns = min(len(handles), 4)
    rows = math.ceil(len(handles) / columns) if columns else 0
    if rows:
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=columns, fontsize=9, frameon=False)
    ax.set_title(title, pad=8 + 16 * rows)


def _shade_before(ax: Axes, ends: Sequence[date], since: date, *, partial: bool = False) -> None:
    """Grey out the weeks before syncd's history began, saying so: in the plot where nothing is drawn there,
    in the legend where what is drawn there is `partial` (only each card's last contact is known)."""
    before = [i for i, end in enumerate(ends) if end < since]
    if not before:
        return
    right = max(before) + 0.5
    if partial:
        ax.axvspan(-0.6, right, color=_NO_DATA, zorder=0, label="before syncd's history: last contacts only")
        return
    ax.axvspan(-0.6, right, color=_NO_DATA, zorder=0)
    ax.text(
        (right - 0.6) / 2,
        0.5,
        "no data:\nbefore syncd's history",
        transform=ax.get_xaxis_transform(),
        ha="center",
        va="center",
        fontsize=9,
        color="#777777",
    )


def health_chart(series: dict[str, list[float | None]], ends: Sequence[date], since: date) -> Markup:
    from matplotlib.figure import Figure

    fig = _figure()
    assert isinstance(fig, Figure)
    ax = fig.add_subplot()
    positions = _date_axis(ax, ends)
    _shade_before(ax, ends, since)
    for i, (name, values) in enumerate(series.items()):
        points = [math.nan if v is None else v * 100 for v in values]
        if all(v is None for v in values):
            name = f"{name} (no members)"
        ax.plot(positions, points, marker="o", label=name, color=_PALETTE[i % len(_PALETTE)])
    ax.set_ylim(0, 105)
    ax.set_ylabel("% within cadence")
    ax.grid(axis="y", alpha=0.3)
    _title_and_legend(ax, "Circle health over time")
    return _svg(fig)


def touches_chart(counts: Sequence[int], ends: Sequence[date], pace: int, since: date) -> Markup:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = _figure()
    assert isinstance(fig, Figure)
    ax = fig.add_subplot()
    positions = _date_axis(ax, ends)
    _shade_before(ax, ends, since, partial=True)
    bars = ax.bar(positions, counts, color=_PALETTE[0], label="touches that week")
    ax.bar_label(bars, labels=[str(c) if c else "" for c in counts], fontsize=8, padding=2)
    top, pace_on_scale = touches_scale(counts, pace)
    ax.set_ylim(0, top)
    if pace_on_scale:
        ax.axhline(pace, color=_PALETTE[1], linestyle="--", label=f"full pace ({pace} a week)")
    else:
        ax.plot([], [], " ", label=f"full pace: {pace} a week, above this scale")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("touches")
    ax.grid(axis="y", alpha=0.3)
    _title_and_legend(ax, "Touches per week")
    return _svg(fig)


def categories_chart(items: Sequence[CategoryActivity]) -> Markup:
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    shown = list(items[:12])
    fig = _figure(10.0, max(2.0, 0.35 * len(shown) + 1.4))
    assert isinstance(fig, Figure)
    ax = fig.add_subplot()
    names = [c.name for c in reversed(shown)]
    active = [c.active for c in reversed(shown)]
    quiet = [c.quiet for c in reversed(shown)]
    ax.barh(names, active, color=_PALETTE[2], label="active (touch in 60 days)")
    ax.barh(names, quiet, left=active, color=_PALETTE[5], label="quiet")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("people")
    _title_and_legend(ax, "Categories: active vs quiet")
    if not shown:
        ax.text(0.5, 0.5, "no categories in your address book", transform=ax.transAxes, ha="center", color="#777777")
        ax.set_yticks([])
    return _svg(fig)


# The page ------------------------------------------------------------------------------------------------


def size_note(size: CircleSize, result: Audit) -> tuple[str, str]:
    """(style, words) for a circle's size against the method's range. Too many is a warning; too few is
    advice: room to grow into, and in a small address book simply not there yet."""
    if size.verdict == "too few":
        room = (size.low or 0) - size.size
        if result.untracked < room:
            return "advice", f"room for {room} more as your address book grows (the method suggests {size.range})"
        return (
            "advice",
            f"room for {room} more (the method suggests {size.range}); "
            f"{result.untracked} of your contacts are in no circle yet",
        )
    if size.verdict == "too many":
        return "warn", size_message(size)
    return "ok", size_message(size)


def when(item: TodayItem, today: date, *, upcoming: bool = False) -> str:
    """The due column of "Today / next up". `upcoming`: a contact of "next up", which has no reminder yet."""
    if item.due > today:
        days = (item.due - today).days
        return f"{item.due:%a %d %b} (in {days} day{'' if days == 1 else 's'})"
    if upcoming:
        since = f" since {item.due:%d %b}" if item.due < today else " today"
        return f"due{since}: waiting for room in the daily list"
    if item.due < today:
        return f"since {item.due:%d %b} ({(today - item.due).days} days)"
    return "today"


def last_seen(item: TodayItem, today: date, zone: ZoneInfo) -> str:
    if item.last_contact is None:
        return "never"
    day = item.last_contact.astimezone(zone).date()
    return f"{day.isoformat()} ({(today - day).days} days ago)"


def render(
    network: Network, audit: Audit, week: WeekReview, month: MonthReview, agenda: Agenda, *, now: datetime
) -> str:
    today = audit.today
    ends = week_ends(today)
    since = history_start(network, today)
    charts: dict[str, Markup] | None = None
    if charts_available():
        charts = {
            "health": health_chart(health_series(network, today, since=since), ends, since),
            "touches": touches_chart(touches_per_week(network, today), ends, month.daily_limit * 7, since),
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
        agenda=agenda,
        when=lambda item, upcoming=False: when(item, today, upcoming=upcoming),
        last_seen=lambda item: last_seen(item, today, network.zone),
        charts=charts,
        charts_extra=CHARTS_EXTRA,
        history_start=since,
        history_is_new=since > ends[0],
        flagged=flagged(audit.groups),
        size_note=lambda size: size_note(size, audit),
        generated=now.isoformat(),
    )


def write(path: str, page: str) -> None:
    try:
        Path(path).expanduser().write_text(page, encoding="utf-8")
    except OSError as err:
        raise UsageError(f"report --html: cannot write {path}: {err.strerror}") from err
