"""`syncd history` and the `sync --dry-run` plan: what syncd changed (or would change), in words."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TextIO

from syncd.errors import DataError
from syncd.store.journal import CONFLICT, FAILED, GONE, INTERRUPTED, WRITTEN, Entry, Journal, select

if TYPE_CHECKING:
    from syncd.app.cli import Context

OUTCOMES = {
    WRITTEN: "written",
    CONFLICT: "lost a race (the card changed meanwhile; re-read and tried again)",
    GONE: "not written: the card was deleted",
    FAILED: "not confirmed: the server did not answer",
    INTERRUPTED: "interrupted: syncd stopped before the server answered (may or may not be written)",
}


def print_plan(planned: list[str], out: TextIO) -> None:
    if not planned:
        out.write("dry run: nothing to write.\n")
        return
    out.write("dry run: these writes would be made (none was):\n")
    for line in planned:
        out.write(f"  {line}\n")


def describe(entry: Entry) -> list[str]:
    lines = [f"{entry.at}  {entry.id}  {entry.name} ({entry.uid})  {entry.reason or 'write'}"]
    lines.append(f"    {entry.href}  ETag {entry.etag_before or '?'} → {entry.etag_after or '?'}")
    for key, old, new in entry.changes():
        lines.append(f"    {key}: {old if old is not None else '(none)'} → {new if new is not None else '(none)'}")
    if not entry.changes():
        lines.append("    duplicate X-SYNCD lines tidied (values unchanged)")
    lines.append(f"    {OUTCOMES.get(entry.outcome, entry.outcome)}")
    if entry.outcome in (WRITTEN, INTERRUPTED, FAILED) and entry.changes():
        lines.append(f"    undo: syncd history --undo {entry.id}")
    return lines


def run_history(ctx: Context, out: TextIO) -> int:
    journal = Journal.in_dir(ctx.settings.state_dir)
    entries = journal.entries()
    if ctx.args.undo:
        return _undo(ctx, entries, ctx.args.undo, out)
    chosen = select(entries, ctx.args.contact)
    if ctx.args.contact and not chosen and entries:
        names = sorted({e.name for e in entries if ctx.args.contact.casefold() in e.name.casefold()})
        hint = f" Did you mean: {'; '.join(names[:10])}" if names else ""
        raise DataError(f"no change recorded for {ctx.args.contact!r}.{hint}")
    if ctx.args.json:
        json.dump([e.as_json() for e in chosen], out, indent=2, ensure_ascii=False)
        out.write("\n")
        return 0
    if not chosen:
        out.write(f"syncd has not changed any card yet (journal: {journal.path}).\n")
        return 0
    for entry in chosen:
        out.write("\n".join(describe(entry)) + "\n\n")
    return 0


def _undo(ctx: Context, entries: list[Entry], entry_id: str, out: TextIO) -> int:
    matches = [e for e in entries if e.id == entry_id or (len(entry_id) >= 4 and e.id.startswith(entry_id))]
    if len(matches) != 1:
        found = "no change" if not matches else f"{len(matches)} changes"
        raise DataError(f"--undo: {found} with id {entry_id!r} in the journal (see `syncd history`)")
    entry = matches[0]
    if not entry.changes():
        raise DataError(f"--undo: change {entry.id} changed no value; nothing to undo")
    engine = ctx.engine()
    try:
        wrote = engine.undo(entry)
    finally:
        engine.close()
    restored = ", ".join(f"{k} {old if old is not None else '(removed)'}" for k, old, _new in entry.changes())
    if wrote:
        out.write(f"{entry.name}: undid {entry.id}: {restored}\n")
    else:
        out.write(f"{entry.name}: the card already holds the values from before {entry.id}; nothing written\n")
    return 0
