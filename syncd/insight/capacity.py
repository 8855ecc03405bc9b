"""Capacity: the touches per day the circles need (Σ size / interval) against `reminders.daily_limit`. Pure.

When the need exceeds the budget, the inner circles are served first (the order the method gives them and the
planner's tie-break), so the budget left over decides how far the outer circles drift: a circle of `size`
people that gets `a` touches a day sees each of them every `size / a` days instead of every interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from syncd.core.words import counted
from syncd.insight.network import CircleSpec


@dataclass(frozen=True, slots=True)
class CircleLoad:
    key: str
    label: str
    size: int
    interval_days: float
    need: float  # touches per day to keep everyone within the interval
    allocated: float  # touches per day left for this circle, inner circles first
    effective_days: float | None  # the cadence it gets: size / allocated (None = never, nothing left)

    @property
    def drifts(self) -> bool:
        return self.allocated + 1e-9 < self.need

    def as_json(self) -> dict[str, object]:
        return {
            "circle": self.key,
            "label": self.label,
            "size": self.size,
            "interval_days": round(self.interval_days, 1),
            "need_per_day": round(self.need, 2),
            "allocated_per_day": round(self.allocated, 2),
            "effective_days": None if self.effective_days is None else round(self.effective_days, 1),
            "drifts": self.drifts,
        }


@dataclass(slots=True)
class Capacity:
    need: float  # touches per day all circles need
    budget: int  # reminders.daily_limit
    loads: list[CircleLoad]
    fixes: list[str] = field(default_factory=list)

    @property
    def over(self) -> bool:
        return self.need > self.budget + 1e-9

    @property
    def utilisation(self) -> float:
        return self.need / self.budget if self.budget else math.inf

    def as_json(self) -> dict[str, object]:
        return {
            "need_per_day": round(self.need, 2),
            "daily_limit": self.budget,
            "over_budget": self.over,
            "circles": [load.as_json() for load in self.loads],
            "fixes": list(self.fixes),
        }

    def summary(self) -> str:
        head = f"Your circles need {self.need:.1f} touches a day; the daily limit is {self.budget}."
        if not self.over:
            spare = self.budget - self.need
            return f"{head} That fits, with {spare:.1f} a day to spare."
        drifting = [load for load in self.loads if load.drifts]
        parts = []
        for load in drifting:
            if load.effective_days is None:
                parts.append(f"{load.label} gets no slot at all")
            else:
                parts.append(
                    f"{load.label} drifts from every {load.interval_days:.0f} to every {load.effective_days:.0f} days"
                )
        return f"{head} Over budget: " + "; ".join(parts) + "."


def capacity(circles: Sequence[tuple[CircleSpec, int]], daily_limit: int) -> Capacity:
    """`circles`: (circle, number of tracked contacts in it), innermost first."""
    loads: list[CircleLoad] = []
    left = float(daily_limit)
    total = 0.0
    for spec, size in circles:
        days = max(spec.interval.approx_days, 1.0)
        need = size / days
        total += need
        allocated = min(need, left)
        left = max(left - allocated, 0.0)
        if size == 0:
            effective: float | None = days
        elif allocated <= 1e-9:
            effective = None
        else:
            effective = size / allocated
        loads.append(CircleLoad(spec.key, spec.label, size, days, need, allocated, effective))
    result = Capacity(total, daily_limit, loads)
    if result.over:
        result.fixes = _fixes(result)
    return result


def _fixes(result: Capacity) -> list[str]:
    fixes = [f"raise reminders.daily_limit to {math.ceil(result.need - 1e-9)}"]
    for load in result.loads:
        if not load.drifts:
            continue
        if load.allocated > 1e-9:
            days = math.ceil(load.size / load.allocated)
            keep = math.floor(load.allocated * load.interval_days + 1e-9)
            fixes.append(
                f"or give {load.label} an interval of P{days}D, or keep {keep} of its {counted(load.size, 'contact')} "
                f"(stop tracking {load.size - keep} of them)"
            )
        else:
            fixes.append(f"or stop tracking the {counted(load.size, 'contact')} of {load.label}")
    return fixes
