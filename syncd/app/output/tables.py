"""Every table, JSON document and line the commands print (the audit and review views: `views`)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo

import wcwidth

from syncd.core.words import counted
from syncd.engine.world import TodayItem
from syncd.store.journal import CONFLICT, FAILED, GONE, INTERRUPTED, REFUSED, WRITTEN, Entry

if TYPE_CHECKING:
    from syncd.engine.frm import Imported
    from syncd.insight.person import Person


NOTE_WIDTH = 2000  # display columns of one line of a note in `show` (the --json output has it whole)
MAX_CELL = 32  # display columns; a longer value is cut with "…" (the --json output has it whole)


def cell_text(value: str, limit: int = MAX_CELL) -> str:
    """`value` for a table cell: control characters (a name may carry a tab or an escape sequence) become
    spaces, and what is wider than `limit` terminal columns is cut at a grapheme and ends with "…"."""
    clean = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in value)
    if display_width(clean) <= limit:
        return clean
    kept, used = [], 0
    for grapheme in wcwidth.iter_graphemes(clean):
        size = display_width(grapheme)
        if used + size > limit - 1:
            break
        kept.append(grapheme)
        used += size
    return "".join(kept).rstrip() + "…"


def display_width(text: str) -> int:
    """Terminal columns: 2 for CJK and most emoji, 0 for combining marks."""
    return max(wcwidth.width(text), 0)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Columns padded to the widest cell as a terminal shows it (CJK, emoji); cells cut at `MAX_CELL`."""
    cells = [[cell_text(cell) for cell in row] for row in rows]
    widths = [display_width(h) for h in headers]
    for row in cells:
        widths = [max(w, display_width(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(row: Sequence[str]) -> str:
        padded = (cell + " " * (w - display_width(cell)) for cell, w in zip(row, widths, strict=True))
        return "  ".join(padded).rstrip() + "\n"

    out.write(line(headers))
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write(line(row))


def print_json(value: object, out: TextIO) -> None:
    json.dump(value, out, indent=2, ensure_ascii=False)
    out.write("\n")


# syncd today -------------------------------------------------------------------------------------------


def _since(value: datetime | None, today: date, zone: ZoneInfo) -> str:
    if value is None:
        return "never"
    day = value.astimezone(zone).date()
    days = (today - day).days
    return f"{day.isoformat()} ({days}d ago)" if days > 0 else day.isoformat()


def print_today(items: list[TodayItem], today: date, zone: ZoneInfo, as_json: bool, out: TextIO) -> None:
    if as_json:
        print_json([item.as_json() for item in items], out)
        return
    if not items:
        out.write("Nobody is due today. Enjoy the day.\n")
        return
    rows = [
        [
            item.name,
            item.circle,
            item.due.isoformat() + ("" if item.reminder else " (new)"),
            _since(item.last_contact, today, zone),
            item.phone or "—",
            item.email or "—",
        ]
        for item in items
    ]
    render_table(["NAME", "CIRCLE", "DUE", "LAST CONTACT", "PHONE", "EMAIL"], rows, out)
    pending = sum(1 for item in items if item.reminder is None)
    if pending:
        out.write(f"\n{pending} marked (new) will be added to your task list by the next sync.\n")


# syncd sync --dry-run, syncd history -------------------------------------------------------------------

OUTCOMES = {
    WRITTEN: "written",
    CONFLICT: "lost a race (the card changed meanwhile; re-read and tried again)",
    GONE: "not written: the card was deleted",
    REFUSED: "refused by the server: {detail}",
    FAILED: "not confirmed ({detail}): may or may not be written",
    INTERRUPTED: "interrupted: syncd stopped before the server answered (may or may not be written)",
}


def outcome_text(entry: Entry) -> str:
    """The outcome of a journaled write in words: what `history` prints for the `outcome` of `--json`."""
    text = OUTCOMES.get(entry.outcome, entry.outcome)
    default = "no reason given" if entry.outcome == REFUSED else "no reason recorded"
    return text.replace("{detail}", entry.detail or default)


def print_plan(planned: list[str], out: TextIO) -> None:
    if not planned:
        out.write("dry run: nothing to write.\n")
        return
    out.write("dry run: these writes would be made (none was):\n")
    for line in planned:
        out.write(f"  {line}\n")


def local_time(value: datetime, zone: ZoneInfo) -> str:
    """An instant as people read it: the date and time of day in `schedule.timezone`."""
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _local_at(at: str, zone: ZoneInfo) -> str:
    try:
        return local_time(datetime.fromisoformat(at), zone)
    except ValueError:
        return at


SHORT_ID = 6  # the fewest characters of a journal id that history shows


def short_ids(entries: Sequence[Entry]) -> dict[str, str]:
    """Each entry's id cut to the shortest length (at least `SHORT_ID`) at which all of them differ; `history
    --undo` takes these as well as the full ids."""
    ids = {e.id for e in entries}
    length = SHORT_ID
    while length < max((len(i) for i in ids), default=0) and len({i[:length] for i in ids}) < len(ids):
        length += 1
    return {i: i[:length] for i in ids}


def describe(entry: Entry, zone: ZoneInfo, short: str | None = None) -> list[str]:
    short = short or entry.id
    when = _local_at(entry.at, zone)
    lines = [f"{when}  {short}  {entry.name} ({entry.uid})  {entry.reason or 'write'}"]
    lines.append(f"    {entry.href}  ETag {entry.etag_before or '?'} → {entry.etag_after or '?'}")
    for key, old, new in entry.changes():
        lines.append(f"    {key}: {old if old is not None else '(none)'} → {new if new is not None else '(none)'}")
    if not entry.changes():
        lines.append("    duplicate X-SYNCD lines tidied (values unchanged)")
    if entry.reminder is not None:
        lines.append(f"    closed the open reminder {entry.reminder.href}")
    lines.append(f"    {outcome_text(entry)}")
    if entry.undoable:
        lines.append(f"    undo: syncd history --undo {short}")
    return lines


def print_history(
    entries: list[Entry],
    journal_path: str,
    as_json: bool,
    out: TextIO,
    *,
    zone: ZoneInfo,
    ids: dict[str, str] | None = None,
    older: int = 0,
) -> None:
    """`entries` as given; times in `zone`, ids as in `ids` (JSON: UTC, full ids); `older`: how many earlier
    changes were left out."""
    if as_json:
        print_json([e.as_json() for e in entries], out)
        return
    if not entries:
        out.write(f"syncd has not changed any card yet (journal: {journal_path}).\n")
        return
    for entry in entries:
        out.write("\n".join(describe(entry, zone, (ids or {}).get(entry.id))) + "\n\n")
    if older:
        out.write(f"{counted(older, 'older change')} not shown (--limit N shows more, --limit 0 all).\n")


def print_undone(entry: Entry, wrote: bool, out: TextIO, reopened: bool | None = None) -> None:
    restored = ", ".join(f"{k} {old if old is not None else '(removed)'}" for k, old, _new in entry.changes())
    if wrote:
        reminder = {
            None: "",
            True: "; the reminder it closed is open again",
            False: "; the reminder it closed stays closed",
        }
        out.write(f"{entry.name}: undid {entry.id}: {restored}{reminder[reopened]}\n")
    else:
        out.write(f"{entry.name}: the card already holds the values from before {entry.id}; nothing written\n")


# syncd import frm --------------------------------------------------------------------------------------


def print_imported(rows: list[Imported], dry_run: bool, as_json: bool, out: TextIO) -> None:
    if as_json:
        print_json([row.as_json() for row in rows], out)
        return
    table = [
        [
            r.name,
            ", ".join(f"{k}:{v}" for k, v in r.values.items()),
            "yes" if r.written else "refused" if r.refused else "no",
        ]
        for r in rows
    ]
    if table:
        render_table(["NAME", "VALUES", "WRITTEN"], table, out)
    written = sum(1 for r in rows if r.written)
    verb = "would be written (dry run)" if dry_run else "written"
    taken = written if not dry_run else len(rows)
    out.write(f"{counted(len(rows), 'card')} with frm data to take over, {taken} {verb}\n")


def _last(person: Person, zone: ZoneInfo) -> str:
    if person.last_contact is None:
        return "never"
    return f"{person.last_contact.astimezone(zone).date().isoformat()} ({person.last_contact_source})"


def print_person(person: Person, zone: ZoneInfo, as_json: bool, out: TextIO) -> None:
    """`syncd show`: the contact's fields, then the notes, newest first."""
    if as_json:
        print_json(person.as_json(), out)
        return
    rows = [
        ("Circle", person.circle or "not tracked"),
        ("Interval", person.interval or "-"),
        ("Last contact", _last(person, zone)),
        ("Next due", person.next_due.isoformat() if person.next_due else "-"),
    ]
    out.write(cell_text(person.name, 200) + "\n")
    for label, value in rows:
        out.write(f"  {label + ':':<14}{value}\n")
    if not person.notes:
        out.write("  Notes:        none\n")
        return
    out.write("  Notes:\n")
    for note in person.notes:
        day = note.at.astimezone(zone).date().isoformat()
        lines = [cell_text(line, NOTE_WIDTH) for line in note.text.splitlines()] or [""]
        out.write(f"    {day} ({note.source}): {lines[0]}\n")
        for line in lines[1:]:
            out.write(f"      {line}\n")


def print_people(people: Sequence[Person], zone: ZoneInfo, as_json: bool, out: TextIO) -> None:
    """`syncd list`: one row per contact (JSON: the fields of `show` without notes)."""
    if as_json:
        print_json([p.as_json(with_notes=False) for p in people], out)
        return
    if not people:
        out.write("No contacts match.\n")
        return
    rows = [
        [p.name, p.circle or "-", p.interval or "-", _last(p, zone), p.next_due.isoformat() if p.next_due else "-"]
        for p in people
    ]
    render_table(["Name", "Circle", "Interval", "Last contact", "Next due"], rows, out)
