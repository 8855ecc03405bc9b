"""The one reader of durations (command line, config, NOTE tags) and the bounds of a contact interval."""

from __future__ import annotations

import pytest

from syncd.core import notetags
from syncd.core.durations import parse_duration, parse_interval


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("3w", "P3W"),
        ("10d", "P10D"),
        ("10 days", "P10D"),
        ("2m", "P2M"),
        ("2 months", "P2M"),
        ("1y", "P1Y"),
        ("1 yr", "P1Y"),
        (" P6W ", "P6W"),
        ("pt15m", "PT15M"),
    ],
)
def test_forms(text: str, iso: str) -> None:
    assert parse_duration(text).text == iso


@pytest.mark.parametrize("text", ["15min", "3 minutes", "2h", "0d", "1.5w", "", "P", "every week"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_m_is_a_month_never_a_minute() -> None:
    """`3 minutes` was read as 3 months by the first letter of its unit."""
    with pytest.raises(ValueError, match="unknown unit 'minutes'"):
        parse_duration("3 minutes")
    assert parse_duration("3m").text == "P3M"


@pytest.mark.parametrize("text", ["PT1H", "PT23H59M", "P100Y", "P3653D", "P121M", "11y"])
def test_interval_bounds_refuse(text: str) -> None:
    with pytest.raises(ValueError, match="between 1 day and 10 years"):
        parse_interval(text)


@pytest.mark.parametrize("text", ["1d", "P1D", "PT24H", "10y", "P120M", "P3652D"])
def test_interval_bounds_take(text: str) -> None:
    assert parse_interval(text).approx_days >= 1


def test_note_tags_read_intervals_the_same_way() -> None:
    assert notetags.parse("#every 2 weeks").interval == parse_interval("P2W")
    for note in ("#every 3min", "#every 100y", "#every PT1H"):
        tags = notetags.parse(note)
        assert tags.interval is None and tags.problems, note
