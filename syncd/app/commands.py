"""What each command does: parse its arguments' values, open a session, call the engine, print the result.

What only one command needs is imported in that command: `syncd sync` starts without the reviews, the report
or the importers."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from syncd.app import wiring
from syncd.app.config_file import LoadedConfig, load_config
from syncd.app.output import tables
from syncd.config import Settings
from syncd.core.contacts import NO_CIRCLE, parse_date
from syncd.core.durations import parse_duration, parse_interval
from syncd.core.words import counted
from syncd.dav.client import NotFound
from syncd.engine import commands
from syncd.engine.cycle import Cycle
from syncd.engine.reading import NotCached
from syncd.engine.session import Session
from syncd.engine.writing import DryRun, Writer
from syncd.errors import DataError, ServerError, SyncdError, UsageError, WriteRefused
from syncd.store.journal import Entry, Journal, select

log = logging.getLogger("syncd")
_T = TypeVar("_T")
# Commands that retry a failing request with backoff (within the client's deadline); every other command is
# one a person waits for: each request is sent once, and a server that is down is reported at once.
RETRYING = {"sync"}
HISTORY_LIMIT = 20  # changes `history` shows unless --limit says otherwise (JSON: all)


class Context:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._loaded: LoadedConfig | None = None

    @property
    def loaded(self) -> LoadedConfig:
        if self._loaded is None:
            self._loaded = load_config(self.args.config, require_file=False)
        return self._loaded

    @property
    def settings(self) -> Settings:
        return self.loaded.settings

    @property
    def zone(self) -> ZoneInfo:
        return self.settings.schedule.zone

    def now(self) -> datetime:
        return wiring.parse_now(self.args.now, self.zone)

    @contextmanager
    def session(self) -> Iterator[Session]:
        retries = None if self.args.command in RETRYING else 0
        session = wiring.open_session(wiring.require_server(self.loaded), retries=retries)
        try:
            yield session
        finally:
            session.close()


def cmd_sync(ctx: Context) -> int:
    with ctx.session() as session:
        writer = DryRun(session) if ctx.args.dry_run else Writer(session)
        if ctx.args.dry_run:
            session.read_only()
        summary = Cycle(session, writer, full=ctx.args.full).run(ctx.now())
    if ctx.args.dry_run:
        tables.print_plan(writer.planned, sys.stdout)
    if summary.refused:
        raise WriteRefused(f"sync: the server refused {summary.refusals()}; every other write was made")
    if summary.mail_failed:
        raise ServerError(f"sync: mail: {summary.mail_failed}; contacts and reminders were synced without it")
    return 0


def cmd_today(ctx: Context) -> int:
    """Today's list; with the server down, the list as the last read left it, and exit 69 saying so."""
    now = ctx.now()
    with ctx.session() as session:
        try:
            items = commands.today(session, now)
            down = None
        except ServerError as err:
            if isinstance(err, NotFound):
                raise
            try:
                items = commands.today(session, now, offline=True)
            except NotCached:
                raise err from None
            down = err
    tables.print_today(items, now.astimezone(ctx.zone).date(), ctx.zone, ctx.args.json, sys.stdout)
    if down is not None:
        raise ServerError(f"offline: {down}; that is the last known list (from the last read of the server)") from down
    return 0


def cmd_set(ctx: Context) -> int:
    args = ctx.args
    if args.circle is None and args.interval is None:
        raise UsageError("set: give --circle KEY and/or --interval DURATION")
    circle = args.circle
    if circle is not None:
        if circle.lower() == NO_CIRCLE:
            circle = NO_CIRCLE
        elif circle not in ctx.settings.circles:
            keys = ", ".join(ctx.settings.circles)
            raise UsageError(f"--circle: {circle!r} is not a circle (configured: {keys}, or none)")
    interval = args.interval
    clear = interval is not None and interval.lower() == "none"
    if interval is not None and not clear:
        try:
            interval = str(parse_interval(interval))
        except ValueError as err:
            raise UsageError(f"--interval: {err}") from err
    with ctx.session() as session:
        contact, changed = commands.set_contact(
            session, args.contact, circle, None if clear else interval, clear_interval=clear
        )
    parts = [
        f"circle {circle}" if circle else "",
        "interval cleared" if clear else f"interval {interval}" if interval else "",
    ]
    print(f"{contact.name}: {', '.join(p for p in parts if p)}" + ("" if changed else " (already so; nothing written)"))
    return 0


def cmd_done(ctx: Context) -> int:
    now = ctx.now()
    when = now
    if ctx.args.on:
        try:
            when = wiring.parse_now(ctx.args.on, ctx.zone)
        except UsageError as err:
            raise UsageError(f"--on: {ctx.args.on!r} is not an ISO date or date-time") from err
        if when > now:
            shown = now.astimezone(ctx.zone).strftime("%Y-%m-%d %H:%M")
            raise UsageError(f"--on: {ctx.args.on} is in the future (it is {shown} now); give the day it happened")
    note = ctx.args.note
    if note is not None and not note.strip():
        raise UsageError("--note: give the text of the note")
    with ctx.session() as session:
        contact, wrote, closed = commands.done(session, ctx.args.contact, when, now, note)
    dated = ctx.args.on and not any(sep in ctx.args.on for sep in ("T", "t", " "))  # a day, no time of day
    shown = when.astimezone(ctx.zone).date().isoformat() if dated else tables.local_time(when, ctx.zone)
    message = f"{contact.name}: last contact {shown}"
    if not wrote:
        message += " (the card already had this or a later date; nothing written)"
    if closed:
        message += "; open reminder marked done"
    if note is not None:
        message += "; note kept"
    print(message)
    return 0


def cmd_show(ctx: Context) -> int:
    from syncd.engine import people

    with ctx.session() as session:
        found = people.show(session, ctx.args.contact, ctx.now())
    tables.print_person(found, ctx.zone, ctx.args.json, sys.stdout)
    return 0


def cmd_list(ctx: Context) -> int:
    from syncd.engine import people

    circle = ctx.args.circle
    if circle is not None and circle != NO_CIRCLE and circle not in ctx.settings.circles:
        keys = ", ".join(ctx.settings.circles)
        raise UsageError(f"--circle: {circle!r} is not a circle (configured: {keys}, or none)")
    with ctx.session() as session:
        found = people.listing(session, ctx.now(), circle, ctx.args.due)
    tables.print_people(found, ctx.zone, ctx.args.json, sys.stdout)
    return 0


def parse_until(value: str, today: date) -> date:
    """SNOOZE's DURATION-or-DATE: a day after `today` (a date on or before it would change nothing)."""
    until = parse_date(value)
    said = value
    if until is None:
        try:
            until = parse_duration(value).after(today)
        except ValueError as err:
            raise UsageError(f"snooze: {value!r} is neither a date (2027-01-15) nor a duration (P2W, 3w, 10d)") from err
        said = f"{value} from today is {until.isoformat()}, which"
    if until <= today:
        raise UsageError(f"snooze: {said} is not after today ({today.isoformat()}); give a later day or e.g. 2w")
    return until


def cmd_snooze(ctx: Context) -> int:
    now = ctx.now()
    until = parse_until(ctx.args.until, now.astimezone(ctx.zone).date())
    with ctx.session() as session:
        contact, changed, moved = commands.snooze(session, ctx.args.contact, until, now)
    line = f"{contact.name}: not due before {until.isoformat()}" + ("" if changed else " (already so)")
    if moved is not None and moved.due is not None:
        line += f"; the open reminder (due {moved.due.isoformat()}) now falls due then"
    print(line)
    return 0


def cmd_history(ctx: Context) -> int:
    args = ctx.args
    journal = Journal.in_dir(ctx.settings.state_dir)
    entries = journal.entries()
    if args.undo:
        return _undo(ctx, entries, args.undo)
    chosen = select(entries, args.contact)
    if args.contact and not chosen and entries:
        names = sorted({e.name for e in entries if args.contact.casefold() in e.name.casefold()})
        hint = f" Did you mean: {'; '.join(names[:10])}" if names else ""
        raise DataError(f"no change recorded for {args.contact!r}.{hint}")
    if args.limit is not None and args.limit < 0:
        raise UsageError(f"--limit: {args.limit} is not a number of changes (0 = all)")
    limit = args.limit if args.limit is not None else 0 if args.json else HISTORY_LIMIT
    recent = chosen[-limit:] if limit else chosen
    tables.print_history(
        recent if args.json else recent[::-1],  # JSON keeps the journal's order, oldest first
        str(journal.path),
        args.json,
        sys.stdout,
        zone=ctx.zone,
        ids=tables.short_ids(entries),
        older=len(chosen) - len(recent),
    )
    return 0


def _undo(ctx: Context, entries: list[Entry], entry_id: str) -> int:
    matches = [e for e in entries if e.id == entry_id or (len(entry_id) >= 4 and e.id.startswith(entry_id))]
    if len(matches) != 1:
        found = "no change" if not matches else f"{len(matches)} changes"
        raise DataError(f"--undo: {found} with id {entry_id!r} in the journal (see `syncd history`)")
    entry = matches[0]
    if not entry.changes():
        raise DataError(f"--undo: change {entry.id} changed no value; nothing to undo")
    if not entry.undoable:
        raise DataError(f"--undo: change {entry.id} was not made ({tables.outcome_text(entry)}); nothing to undo")
    with ctx.session() as session:
        wrote, reopened = commands.undo(session, entry, ctx.now())
    tables.print_undone(entry, wrote, sys.stdout, reopened)
    return 0


def cmd_import(ctx: Context) -> int:
    from syncd.engine import frm

    path = Path(ctx.args.log).expanduser() if ctx.args.log else frm.default_log_path()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        if ctx.args.log:
            raise DataError(f"--log: {path}: no such file") from None
        log.warning("no frm history at %s; importing the X-FRM fields only", path)
        lines = []
    except OSError as err:
        raise DataError(f"{path}: cannot read frm's history: {err.strerror}") from err
    history = frm.read_history(lines)
    if history.skipped:
        log.warning("%s: %s could not be read; skipped", path, counted(history.skipped, "line"))
    with ctx.session() as session:
        rows = frm.import_frm(session, history, ctx.now(), dry_run=ctx.args.dry_run)
    tables.print_imported(rows, ctx.args.dry_run, ctx.args.json, sys.stdout)
    refused = "; ".join(f"{r.name}'s card: {r.refused}" for r in rows if r.refused)
    if refused:
        raise WriteRefused(f"import frm: the server refused {refused}; every other write was made")
    return 0


def cmd_check(ctx: Context) -> int:
    from syncd.app.output import checked
    from syncd.engine import check

    loaded = ctx.loaded
    checked.print_config(loaded, sys.stdout)
    wiring.require_server(loaded)
    checked.print_server(loaded, sys.stdout)
    with ctx.session() as session:
        try:
            reader, account = check.discover(session)
        except SyncdError:
            checked.print_unreached(sys.stdout)
            raise
        found = check.inspect(session, reader, account)
        checked.print_findings(loaded, found, sys.stdout)
        if getattr(ctx.args, "probe", False):
            checked.print_probes(check.probe(session, found), sys.stdout)
    return 0


def cmd_init(ctx: Context) -> int:
    """Write a config (syncd.app.init), then check it as `syncd check` would."""
    from syncd.app import init
    from syncd.app.config_file import example_text

    if ctx.args.example:
        sys.stdout.write(example_text())
        return 0
    ctx.args.config = str(init.run(ctx.args, sys.stdout))
    ctx._loaded = None
    return cmd_check(ctx)


def cmd_run(ctx: Context) -> int:
    from syncd.app.daemon import Daemon

    return Daemon(lambda: load_config(ctx.args.config), ctx.args.now).run(once=ctx.args.once)


def cmd_demo(ctx: Context) -> int:
    from syncd.app.demo import run_demo

    return run_demo(
        once=ctx.args.once, host=ctx.args.host, port=ctx.args.port, count=ctx.args.contacts, now_arg=ctx.args.now
    )


def _insight(ctx: Context, view: Callable[[Session, datetime], _T]) -> _T:
    with ctx.session() as session:
        return view(session, ctx.now())


def _show(ctx: Context, as_json: Callable[[], object], human: Callable[[], None]) -> None:
    """`--json` prints the JSON object, else the human view."""
    if ctx.args.json:
        tables.print_json(as_json(), sys.stdout)
    else:
        human()


def cmd_audit(ctx: Context) -> int:
    from syncd.app.output import views
    from syncd.engine import insights

    result = _insight(ctx, insights.run_audit)
    _show(ctx, result.as_json, lambda: views.print_audit(result, sys.stdout))
    return 0


def cmd_review(ctx: Context) -> int:
    from syncd.app.output import views
    from syncd.engine import insights

    if ctx.args.period == "week":
        week = _insight(ctx, insights.run_week)
        _show(ctx, week.as_json, lambda: views.print_week(week, sys.stdout))
    else:
        month = _insight(ctx, insights.run_month)
        _show(ctx, month.as_json, lambda: views.print_month(month, sys.stdout))
    return 0


def cmd_report(ctx: Context) -> int:
    from syncd.app import report
    from syncd.engine import insights

    net, audit, week, month, agenda = _insight(ctx, insights.run_all)
    page = report.render(net, audit, week, month, agenda, now=ctx.now())
    if ctx.args.html == "-":
        sys.stdout.write(page)
    else:
        report.write(ctx.args.html, page)
        print(f"wrote {ctx.args.html}")
    if not report.charts_available():
        print(f"the page has no charts: {report.CHARTS_EXTRA} adds them", file=sys.stderr)
    return 0


COMMANDS: dict[str, Callable[[Context], int]] = {
    "sync": cmd_sync,
    "run": cmd_run,
    "today": cmd_today,
    "set": cmd_set,
    "done": cmd_done,
    "snooze": cmd_snooze,
    "check": cmd_check,
    "init": cmd_init,
    "history": cmd_history,
    "import": cmd_import,
    "demo": cmd_demo,
    "audit": cmd_audit,
    "review": cmd_review,
    "report": cmd_report,
    "show": cmd_show,
    "list": cmd_list,
}
