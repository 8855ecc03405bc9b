"""What users read, as pure text: counted nouns, the cycle's summary line, tables."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

import wcwidth

from syncd.app.output.tables import MAX_CELL, cell_text, print_history, render_table, short_ids
from syncd.core.words import counted
from syncd.engine.world import Summary
from syncd.store.journal import Entry


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


# Tables ----------------------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = io.StringIO()
    render_table(headers, rows, out)
    return out.getvalue().splitlines()


def column_starts(line: str, cell: str) -> int:
    """The terminal column where the cell `cell` (the first after two spaces) begins in `line`."""
    return wcwidth.width(line[: line.index("  " + cell) + 2])


def test_columns_line_up_on_the_terminal_with_cjk_and_emoji() -> None:
    names = ["Ada Lovelace", "李小龙", "Zoë 👋🏽", "👨‍👩‍👧 Family", "Ǹ̈a͂me"]
    lines = table(["NAME", "CIRCLE"], [[name, f"c{i}"] for i, name in enumerate(names)])
    starts = {column_starts(line, f"c{i}") for i, line in enumerate(lines[2:])}
    assert starts == {column_starts(lines[0], "CIRCLE")} == {len("Ada Lovelace") + 2}
    assert lines[1] == "-" * len("Ada Lovelace") + "  " + "-" * len("CIRCLE")


def test_long_cells_are_cut_with_an_ellipsis_at_the_maximum_width() -> None:
    long = "Maximilian Alexander von und zu Hohenberg-Wittelsbach"
    wide = "李" * 40
    lines = table(["NAME", "X"], [[long, "a"], [wide, "b"], ["Bo", "c"]])
    cut = lines[2][: lines[2].index("  a")].rstrip()
    assert cut.endswith("…") and long.startswith(cut[:-1]) and wcwidth.width(cut) <= MAX_CELL
    assert lines[3][: lines[3].index("  b")].rstrip() == "李" * 15 + "…"  # 31 columns: a 16th would not fit
    assert {column_starts(lines[i], x) for i, x in ((2, "a"), (3, "b"), (4, "c"))} == {MAX_CELL + 2}
    assert cell_text("short") == "short" and cell_text(long, 10) == "Maximilia…"


def test_control_characters_never_reach_the_terminal() -> None:
    assert cell_text("Evil\x1b[2J\tName\n") == "Evil [2J Name "
    [_, _, row] = table(["NAME", "X"], [["Evil\x1b]0;title\x07Name", "x"]])
    assert "\x1b" not in row and "\x07" not in row


def entry(entry_id: str) -> Entry:
    return Entry(entry_id, "2026-11-22T09:00:00Z", "u", "Ada", "/ab/u.vcf", "syncd done", "e1", {}, {})


def test_short_ids_grow_until_they_differ() -> None:
    assert short_ids([entry("3f9c2a71be"), entry("77aa01b2c3")]) == {"3f9c2a71be": "3f9c2a", "77aa01b2c3": "77aa01"}
    assert set(short_ids([entry("3f9c2a71be"), entry("3f9c2a0000")]).values()) == {"3f9c2a7", "3f9c2a0"}
    assert short_ids([]) == {}


def test_history_times_are_local() -> None:
    out = io.StringIO()
    print_history([entry("3f9c2a71be")], "journal.jsonl", False, out, zone=ZoneInfo("Europe/Berlin"))
    assert out.getvalue().startswith("2026-11-22 10:00  3f9c2a71be  Ada (u)  syncd done\n")


def test_show_prints_notes_newest_first_without_control_characters() -> None:
    """A note is the user's text: an escape sequence in it reaches the terminal as a space, not as a command."""
    from datetime import UTC, date, datetime

    from syncd.app.output.tables import print_person
    from syncd.core.notes import Note
    from syncd.insight.person import Person

    at = datetime(2026, 11, 22, 15, tzinfo=UTC)
    notes = [
        Note("r2", "u1", at, "Lisbon\x1b[2J\nthe flat", "manual"),
        Note("r1", "u1", datetime(2026, 11, 1, tzinfo=UTC), "older", "reminder"),
    ]
    person = Person("u1", "Ada", "1", "P14D", at, "manual", date(2026, 12, 6), notes)
    out = io.StringIO()
    print_person(person, ZoneInfo("Europe/Berlin"), False, out)
    text = out.getvalue()
    assert "\x1b" not in text
    assert "2026-11-22 (manual): Lisbon [2J\n      the flat\n    2026-11-01 (reminder): older\n" in text
    assert "Last contact: 2026-11-22 (manual)" in text and "Next due:     2026-12-06" in text
