"""The report page's shape: checked on a page rendered from hand-made objects (tests/unit/test_report.py) and on
one written by `syncd report --html` against real servers (tests/e2e/test_insights_e2e.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.tags: list[str] = []
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for key, value in attrs:
            if key == "id" and value:
                self.ids.add(value)
            if key in ("src", "href", "xlink:href", "action", "data", "poster") and value and not value.startswith("#"):
                self.references.append(f"{tag} {key}={value}")


def check_page(page: str, *, charts: bool = True) -> None:
    """Parses, has every section and (with `charts`) three inline SVG charts or (without) the note saying how to
    get them, and refers to nothing outside itself."""
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert {"headline", "today", "charts", "audit", "week", "month", "capacity"} <= parser.ids
    assert parser.references == [], parser.references
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", page)
    assert "<!DOCTYPE svg" not in page, "no external DTD"
    if charts:
        assert {"chart-health", "chart-touches", "chart-categories"} <= parser.ids
        assert parser.tags.count("svg") == 3
        for title in ("Circle health over time", "Touches per week", "Categories: active vs quiet"):
            assert title in page
        assert "charts-missing" not in parser.ids
    else:
        assert parser.tags.count("svg") == 0
        assert "charts-missing" in parser.ids
        assert "pip install &#39;syncd[report]&#39;" in page
