"""Every runtime dependency in pyproject.toml is imported by syncd itself; a library only the tests use (vobject,
the reference reader of cards) belongs to the `test` extra."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Distribution name -> the module it provides, where they differ; None: used without an import.
MODULES: dict[str, str | None] = {
    "recurring-ical-events": "recurring_ical_events",
    "pydantic-settings": "pydantic_settings",
    "python-dateutil": "dateutil",
    "tzdata": None,  # read by zoneinfo where the system has no time zone database
}


def imported_by_syncd() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "syncd").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_runtime_dependencies_are_used_at_run_time() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"]]
    imported = imported_by_syncd()
    unused = [
        n for n in names if MODULES.get(n, n.replace("-", "_")) not in imported and MODULES.get(n, "") is not None
    ]
    assert unused == [], f"runtime dependencies syncd never imports: {unused}"
    assert "vobject" not in imported
    assert any(spec.startswith("vobject") for spec in project["optional-dependencies"]["test"])
