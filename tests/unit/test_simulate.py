"""The year simulation (bench/simulate.py) meets its targets: the tuned planner keeps the habit working."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("simulate", ROOT / "bench" / "simulate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["simulate"] = module
    spec.loader.exec_module(module)
    return module


SEEDS = range(1, 1 + int(os.environ.get("SYNCD_SIM_SEEDS", "2")))


@pytest.mark.parametrize("seed", SEEDS)
def test_a_year_meets_the_targets(seed: int) -> None:
    sim = load()
    table = sim.simulate(seed, 365).table()
    assert sim.failures(table) == []
    assert table["touches_per_year"] >= 1400
    assert table["circles"]["1"]["within_1_5"] >= 0.95
    assert table["worst_wait"] <= 2.0
    assert table["max_open_due"] <= 5
    assert table["birthday_reminders"] > 0 and table["by_meeting"] > 0


def test_never_contacted_are_not_starved() -> None:
    # With never-contacted contacts ranked at ratio 0 (the old planner) they wait far beyond 2x interval.
    sim = load()
    import syncd.core.planner as planner

    old = planner.NEVER_CONTACTED_RATIO
    try:
        planner.NEVER_CONTACTED_RATIO = 0.0
        assert sim.simulate(1, 365).table()["worst_wait"] > 2.0
    finally:
        planner.NEVER_CONTACTED_RATIO = old
