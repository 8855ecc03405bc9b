"""ISO 8601 durations (`P14D`, `P2W`, `P3M`, `P1Y`, `PT15M`) as calendar-aware `relativedelta`s."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta

_ISO = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$",
    re.IGNORECASE,
)


class Duration:
    """An ISO 8601 duration. Months and years are calendar months and years."""

    __slots__ = ("delta", "text")

    def __init__(self, text: str) -> None:
        match = _ISO.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not an ISO 8601 duration such as P14D, P2W, P3M or PT15M")
        parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
        self.text = text.strip().upper()
        self.delta = relativedelta(**parts)  # type: ignore[arg-type]

    @classmethod
    def from_days(cls, days: int) -> Duration:
        return cls(f"P{days}D")

    def after(self, when: date) -> date:
        """The date this duration after `when` (month arithmetic clamps to the month's end).

        A time part counts from the start of that day: P1DT12H after the 1st is the 2nd.
        """
        result = when + self.delta
        return result.date() if isinstance(result, datetime) else result

    def after_instant(self, when: datetime) -> datetime:
        result: datetime = when + self.delta
        return result

    @property
    def approx_days(self) -> float:
        """Length in days, months counted as 30.44 days: for ranking and display only."""
        d = self.delta
        return d.years * 365.25 + d.months * 30.4375 + d.days + (d.hours * 3600 + d.minutes * 60 + d.seconds) / 86400

    @property
    def seconds(self) -> float:
        return self.approx_days * 86400

    def as_timedelta(self) -> timedelta:
        return timedelta(days=self.approx_days)

    def human(self) -> str:
        d = self.delta
        for amount, unit in ((d.years, "year"), (d.months, "month")):
            if amount and not (d.days or d.hours or d.minutes or d.seconds):
                return f"every {unit}" if amount == 1 else f"every {amount} {unit}s"
        days = self.approx_days
        if days >= 1 and days == int(days):
            n = int(days)
            if n % 7 == 0:
                w = n // 7
                return "every week" if w == 1 else f"every {w} weeks"
            return "every day" if n == 1 else f"every {n} days"
        return f"every {self.text}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and self.delta == other.delta

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Duration({self.text!r})"

    def __str__(self) -> str:
        return self.text


_SHORT = re.compile(r"^\s*(\d+)\s*([dwmy])\w*\s*$", re.IGNORECASE)


def parse_short(text: str) -> Duration:
    """`3w`, `10 days`, `2m`, `1y` (as typed in a phone note or on the command line) or ISO 8601."""
    match = _SHORT.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2).upper()
        if amount <= 0:
            raise ValueError(f"{text!r}: a duration must be positive")
        return Duration(f"P{amount}{unit}")
    return Duration(text)
