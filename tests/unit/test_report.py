"""`syncd report --html`: the chart series (pure), the page (parsed, checked for content and for anything that
would need the network; honest for a new account; without matplotlib), and a real render in headless Chromium
(skipped where chromium is missing, except in CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from syncd.app.report import (
    category_activity,
    health_series,
    render,
    touches_per_week,
    touches_scale,
    week_ends,
)
from syncd.engine.agenda import Agenda
from syncd.engine.world import TodayItem
from syncd.insight.audit import audit
from syncd.insight.review import month, week
from tests.factories import TODAY, at, d, network, person, task
from tests.report_page import check_page
from tests.system_packages import need


def sample() -> tuple[object, ...]:
    people = [
        person("ada", last=d(1), categories=["Investors"], name="Ada <script>alert(1)</script>"),
        person("bob", last=d(20), categories=["Investors", "Mentors"]),
        person("cy", last=d(100), categories=["Alumni"]),
        person("dee", categories=["Alumni"]),
    ]
    tasks = [task("ada", d(15), done_on=d(15)), task("bob", d(50), done_on=d(50)), task("dee", d(2))]
    first_seen = {p.uid: d(120) for p in people}  # syncd has run for 120 days: every charted week has data
    net = network(people, {"ada": "1", "bob": "2", "cy": "3", "dee": "3"}, tasks, first_seen)
    return net, audit(net, TODAY, 5), week(net, TODAY), month(net, TODAY, 5, {"Investors": 2}, 1000)


AGENDA = Agenda(
    today=[
        TodayItem("dee", "Dee", "3", d(2), None, "+49 151 0000000", "", "/tasks/dee.ics"),
        TodayItem("ed", "Ed Emmet", "2", TODAY, at(d(40)), "", "ed@example.org", None),
    ],
    next_up=[
        TodayItem("cy", "Cy", "3", d(10), at(d(100)), "", "", None),
        TodayItem("bob", "Bob", "2", d(-10), at(d(20)), "", "", None),
    ],
)


def test_week_ends() -> None:
    ends = week_ends(TODAY, 3)
    assert ends == [d(14), d(7), TODAY]


def test_series() -> None:
    net = sample()[0]
    # Touches: Ada d15, d1 (14 days) · Bob d50, d20 (30 days) · Cy d100 (90 days) · Dee never. Weeks end d21..d0.
    health = health_series(net, TODAY, 4)  # type: ignore[arg-type]
    assert list(health) == ["Close", "Friends", "Keep warm"]
    assert health["Close"] == [0.0, 1.0, 1.0, 1.0]  # nothing known before d15
    assert health["Friends"] == [1.0, 1.0, 1.0, 1.0]  # d50 covers up to d20, then d20 onwards
    assert health["Keep warm"] == [0.5, 0.5, 0.0, 0.0]  # Cy's d100 covers up to d10; Dee never
    assert touches_per_week(net, TODAY, 4) == [0, 2, 0, 1]  # type: ignore[arg-type]
    cats = {c.name: (c.active, c.quiet) for c in category_activity(net, TODAY)}  # type: ignore[arg-type]
    assert cats == {"Investors": (2, 0), "Mentors": (1, 0), "Alumni": (0, 2)}


def page_html() -> str:
    net, result, w, m = sample()
    return render(net, result, w, m, AGENDA, now=datetime(2026, 11, 22, 12, tzinfo=UTC))  # type: ignore[arg-type]


def new_account() -> tuple[object, ...]:
    """Ten days after the first sync, over a small address book: circle 2 still empty, no list done yet."""
    people = [person(f"p{i}", categories=["Family"]) for i in range(6)]
    people[0] = person("p0", last=d(30), categories=["Family"])
    first_seen = {p.uid: d(10) for p in people}
    net = network(people, {"p0": "1", "p1": "1", "p2": "3", "p3": "3"}, (), first_seen)
    return net, audit(net, TODAY, 5), week(net, TODAY), month(net, TODAY, 5, {}, 0)


def new_account_html() -> str:
    net, result, w, m = new_account()
    nobody = Agenda([], [])
    return render(net, result, w, m, nobody, now=datetime(2026, 11, 22, 12, tzinfo=UTC))  # type: ignore[arg-type]


def test_health_has_no_data_before_the_history_began_nor_for_an_empty_circle() -> None:
    net = new_account()[0]
    health = health_series(net, TODAY, 4, since=d(10))  # type: ignore[arg-type]
    # Week ends d21 and d14 lie before the first sync (d10): unknown, not 0%.
    assert health["Close"] == [None, None, 0.0, 0.0]  # p0 last d30 (14 days), p1 never: neither within
    assert health["Friends"] == [None, None, None, None]  # no members: nothing to divide by
    assert health["Keep warm"] == [None, None, 0.0, 0.0]


def test_touches_axis_follows_the_data_and_the_pace_line_only_when_near() -> None:
    top, on_scale = touches_scale([0, 1, 3, 2], 35)
    assert on_scale is False and top == 5.0  # 35 a week would flatten weeks of 1-3 touches into nothing
    top, on_scale = touches_scale([0, 0, 0], 35)
    assert on_scale is False and top == 5.0
    top, on_scale = touches_scale([20, 30, 25], 35)
    assert on_scale is True and top == pytest.approx(35 * 1.15)
    top, on_scale = touches_scale([40, 50], 35)
    assert on_scale is True and top == pytest.approx(50 * 1.15)


def test_a_new_account_reads_honestly() -> None:
    page = new_account_html()
    check_page(page)
    assert "0 of 0" not in page and "no daily list in these 7 days yet" in page
    months = page[page.index('id="month"') :]
    assert "<td>Friends</td><td>0</td><td>—</td>\n<td>— (none tracked yet)</td>" in months  # nobody: no share
    assert "100%" not in months
    # A small book: the circles below the method's range get advice, not a red alarm.
    assert "fewer than the method" not in page
    assert '<td class="advice">room for 8 more as your address book grows (the method suggests 10–15)</td>' in page
    assert '<td class="warn">' not in page
    assert "the weeks before that show no data rather than a guess" in page
    assert "Reached 0 people (0 touches);" in page
    assert "Nobody on today's list." in page


def test_the_page_starts_with_today_and_next_up() -> None:
    page = page_html()
    today = page[page.index('id="today"') : page.index('id="charts"')]
    assert today.index("Dee") < today.index("Ed Emmet") < today.index("Next up") < today.index("Cy")
    assert "since 20 Nov (2 days)" in today
    assert "today · added at the next sync" in today
    assert "2026-10-13 (40 days ago)" in today
    assert "due since 12 Nov: waiting for room in the daily list" in today
    assert "Wed 02 Dec (in 10 days)" in today


def test_without_matplotlib_the_page_says_how_to_get_the_charts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails as if not installed
    page = page_html()
    check_page(page, charts=False)
    assert "Ada &lt;script&gt;alert(1)&lt;/script&gt;" in page  # the rest of the page is all there


def test_page_is_self_contained_and_complete() -> None:
    page = page_html()
    check_page(page)
    assert "Ada &lt;script&gt;alert(1)&lt;/script&gt;" in page, "names are escaped"
    assert "Of your 4 contacts, 3 were reached in the last 12 months" in page
    assert "Weekly reflection: 2026-11-16 – 2026-11-22" in page
    assert "Reached 1 person (1 touch);" in page
    assert "Monthly review: 2026-10-24 – 2026-11-22" in page
    assert "<td>Investors</td><td>2</td><td>2</td><td>0</td>" in page  # goal met


def test_page_renders_in_headless_chromium(tmp_path: Path, short_tmp: Path) -> None:
    """Skipped where chromium is missing on a developer's machine; failing in CI (tests/system_packages.py).
    Its profile, home and TMPDIR are a short folder: chromium keeps a socket there, which a long TMPDIR would
    push past the AF_UNIX path limit."""
    from matplotlib.image import imread

    browser = need("chromium")
    page = tmp_path / "report.html"
    page.write_text(page_html(), encoding="utf-8")
    shot = tmp_path / "shot.png"
    args = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={short_tmp / 'profile'}",
        "--window-size=1000,1600",
        f"--screenshot={shot}",
        page.as_uri(),
    ]
    env = {**os.environ, "HOME": str(short_tmp), "TMPDIR": str(short_tmp)}
    subprocess.run(args, check=True, timeout=120, capture_output=True, env=env, stdin=subprocess.DEVNULL)
    pixels = imread(str(shot))
    height, width = pixels.shape[:2]
    assert (width, height) == (1000, 1600)
    rgb = pixels[:, :, :3]
    ink = (rgb.min(axis=2) < 0.9).mean()
    assert ink > 0.03, f"only {ink:.1%} of the page is not white: a blank render"
    # The charts' blue (#2f6f9f) is on the page: the inline SVG was drawn, not just the text.
    blue = (
        (abs(rgb[:, :, 0] - 0x2F / 255) < 0.03)
        & (abs(rgb[:, :, 1] - 0x6F / 255) < 0.03)
        & (abs(rgb[:, :, 2] - 0x9F / 255) < 0.03)
    )
    assert blue.sum() > 500, "no chart colour on the rendered page"
    keep = os.environ.get("SYNCD_KEEP_REPORT_PNG")
    if keep:
        shutil.copy(shot, keep)


def test_the_charts_are_an_optional_extra() -> None:
    """`pip install .` (the daemon) brings no plotting stack; `syncd[report]` does, and the tests use it."""
    import re as _re
    import tomllib

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def names(requirements: list[str]) -> set[str]:
        return {_re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in requirements}

    heavy = {"matplotlib", "numpy", "pillow", "fonttools", "contourpy", "kiwisolver"}
    assert names(project["dependencies"]) & heavy == set()
    assert "matplotlib" in names(project["optional-dependencies"]["report"])
    assert "syncd[report]" in project["optional-dependencies"]["test"]
