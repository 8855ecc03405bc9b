"""What users read, as pure text: counted nouns, the cycle's summary line, tables."""

from __future__ import annotations

from syncd.core.words import counted
from syncd.engine.world import Summary


def test_counted() -> None:
    assert [counted(n, "card") for n in (0, 1, 2)] == ["0 cards", "1 card", "2 cards"]
    assert counted(1, "person", "people") == "1 person" and counted(3, "person", "people") == "3 people"


def test_summary_line_counts_in_words_and_a_dry_run_says_would() -> None:
    one = Summary(contacts=1, tracked=1, due=1, created=1, cards_written=1, closed=1, restored=1)
    assert one.line() == (
        "1 contact read (1 tracked), 1 due today, 1 created, 0 completed, 1 card written, 1 reminder closed, "
        "X-SYNCD lines restored on 1 card"
    )
    assert one.line(dry_run=True) == (
        "1 contact read (1 tracked), 1 due today, 1 would be created, 0 completed, 1 card would be written, "
        "1 reminder would be closed, X-SYNCD lines would be restored on 1 card"
    )
    assert Summary(contacts=2, cards_written=0).line().startswith("2 contacts read (0 tracked)")
