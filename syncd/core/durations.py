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


_SHORT = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$", re.IGNORECASE)
_UNITS = {
    **dict.fromkeys(("d", "day", "days"), "D"),
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), "W"),
    **dict.fromkeys(("m", "mo", "mos", "month", "months"), "M"),
    **dict.fromkeys(("y", "yr", "yrs", "year", "years"), "Y"),
}
FORMS = "3w, 10d, 2m (months), 1y, or ISO 8601 such as P3W or PT15M"

# A contact interval: at least a day (reminders are days), at most ten years.
MIN_INTERVAL_DAYS = 1
MAX_INTERVAL_DAYS = 3652.5  # P10Y, P120M


def parse_duration(text: str) -> Duration:
    """The one reader of a duration a person typed: on the command line, in the config, in a NOTE tag.

    ISO 8601 (`P14D`, `P2W`, `P3M`, `P1Y`, `PT15M`), or a number and a unit of days, weeks, months or years:
    `10d`, `3w`, `2m`, `1y`, also written out (`10 days`, `2 weeks`, `3 months`, `1 year`). `m` is a month,
    never a minute: minutes and hours are ISO only (`PT15M`, `PT1H`)."""
    match = _SHORT.match(text)
    if match:
        amount, word = int(match.group(1)), match.group(2)
        unit = _UNITS.get(word.lower())
        if unit is None:
            raise ValueError(f"{text.strip()!r} is not a duration: unknown unit {word!r} (use {FORMS})")
        if amount <= 0:
            raise ValueError(f"{text.strip()!r}: a duration must be positive")
        return Duration(f"P{amount}{unit}")
    try:
        return Duration(text)
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a duration such as {FORMS}") from None


def parse_interval(text: str) -> Duration:
    """A contact interval (`parse_duration`) between a day and ten years: contact every hour, or once a
    century, is a typo."""
    duration = parse_duration(text)
    if not MIN_INTERVAL_DAYS <= duration.approx_days <= MAX_INTERVAL_DAYS:
        raise ValueError(f"{text.strip()!r}: an interval must be between 1 day and 10 years")
    return duration
