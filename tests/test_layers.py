"""The tree keeps its layers: the import contracts in pyproject.toml hold (imports inside functions and under
TYPE_CHECKING included), and the pure layers never read the clock."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = ("core", "insight")
CLOCK = {"now", "today", "utcnow", "time", "monotonic", "perf_counter", "time_ns", "localtime", "gmtime"}


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 kept, 0 broken" in result.stdout


def clock_reads(source: str) -> list[str]:
    """Calls such as `datetime.now()`, `date.today()` or `time.time()`, and `from time import ...`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK:
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in {"datetime", "date", "time"}:
                found.append(f"line {node.lineno}: {owner.id}.{node.func.attr}()")
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            found.append(f"line {node.lineno}: from time import ...")
    return found


@pytest.mark.parametrize("layer", PURE)
def test_pure_layers_never_read_the_clock(layer: str) -> None:
    reads = {
        str(path.relative_to(ROOT)): found
        for path in sorted((ROOT / "syncd" / layer).rglob("*.py"))
        if (found := clock_reads(path.read_text(encoding="utf-8")))
    }
    assert reads == {}


def test_the_clock_check_finds_a_clock_read() -> None:
    assert clock_reads("from datetime import datetime\nx = datetime.now()\n") == ["line 2: datetime.now()"]
    assert clock_reads("import time\nt = time.monotonic()\n") == ["line 2: time.monotonic()"]
    assert clock_reads("def f(now): return now.date()\n") == []
