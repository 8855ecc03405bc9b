"""The command line. `main` is the one place where errors become a message on stderr and an exit code."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TextIO, TypeVar
from zoneinfo import ZoneInfo

from syncd import __version__
from syncd.app import logs
from syncd.config import LoadedConfig, Settings, load_config
from syncd.core.contacts import NO_CIRCLE, format_instant, parse_date
from syncd.core.durations import parse_short
from syncd.dav.client import DavClient
from syncd.engine.cycle import Engine, TodayItem
from syncd.errors import DataError, SyncdError, UsageError

log = logging.getLogger("syncd")
_T = TypeVar("_T")

DESCRIPTION = """\
syncd keeps you in touch with the people who matter, on purpose.

It reads your contacts from your CardDAV server, keeps each contact's circle and contact interval in the
card itself (X-SYNCD-* properties, nothing else is touched), and writes "Reach out to ..." reminders into a
CalDAV task list (default "Keep in touch") that your phone's Reminders app shows. Tick one off and syncd
records the contact and schedules the next. At most reminders.daily_limit (default 5) are due at once.

Start with `syncd demo` (no config needed), then write a config (see config.example.toml) and run
`syncd check`."""

EPILOG = """\
exit codes: 0 ok, 2 usage, 65 bad input (e.g. unknown contact), 69 server unreachable or failing,
77 authentication refused, 78 configuration invalid, 1 a bug.
config lookup: --config, $SYNCD_CONFIG, $XDG_CONFIG_HOME/syncd/config.toml, /etc/syncd/config.toml;
any key can be set as SYNCD_<SECTION>__<KEY>, e.g. SYNCD_SERVER__PASSWORD."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="syncd",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="PATH", help="the config file (TOML)")
    parser.add_argument(
        "--now",
        metavar="ISO-DATETIME",
        help="act as if this were the current time (no offset = schedule.timezone); for planning and tests",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, with tracebacks")
    parser.add_argument("--version", action="version", version=f"syncd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sync = sub.add_parser(
        "sync",
        help="one full cycle: read, record completions, plan, write; then exit",
        description="One cycle: read, record completions, plan, write; then exit. When the last cycle wrote "
        "nothing and neither the server's collections, the config, the date nor syncd's state changed since, "
        "the cycle stops after one sync REPORT per collection and repeats that cycle's summary (its outcome "
        "would be the same); --full plans anyway.",
    )
    sync.add_argument(
        "--full", action="store_true", help="read and plan everything even when nothing changed since the last cycle"
    )
    sync.add_argument(
        "--dry-run",
        action="store_true",
        help="read and plan, then print every write the cycle would make (card X-SYNCD line changes, tasks to "
        "create, complete or delete) and make none",
    )
    run = sub.add_parser(
        "run",
        help="the daemon: sync every schedule.sync_every until stopped",
        description="Sync every schedule.sync_every until SIGTERM or SIGINT (exit 0); SIGHUP reloads the config "
        "(an invalid one is reported and the old one kept). A failing server is retried with backoff and never "
        "ends the daemon. Under systemd (Type=notify) it reports READY=1, STATUS= and WATCHDOG=1; see "
        "systemd/syncd.service.",
    )
    run.add_argument("--once", action="store_true", help=argparse.SUPPRESS)
    today = sub.add_parser("today", help="who to reach out to today")
    today.add_argument("--json", action="store_true", help="print a JSON array instead of a table")

    set_ = sub.add_parser(
        "set",
        help="set a contact's circle and/or own interval",
        description="Write X-SYNCD-CIRCLE / X-SYNCD-INTERVAL into the contact's card (only those lines change).",
    )
    set_.add_argument("contact", metavar="CONTACT", help="a vCard UID or the contact's full name")
    set_.add_argument("--circle", metavar="KEY", help="a circle key from [circles], or `none` to stop tracking")
    set_.add_argument("--interval", metavar="DURATION", help="own interval: P3W, P2M, 10d, 3w, ...; `none` to clear")

    done = sub.add_parser("done", help="record that you were in touch (default: now)")
    done.add_argument("contact", metavar="CONTACT", help="a vCard UID or the contact's full name")
    done.add_argument("--on", metavar="DATE", help="the day it happened (ISO date or date-time)")

    snooze = sub.add_parser(
        "snooze",
        help="the contact is not due before then",
        description="Write X-SYNCD-SNOOZE into the contact's card; an open reminder due earlier is moved to that "
        "day (its time of day and alarm move with it), as when its due date is moved on a phone.",
    )
    snooze.add_argument("contact", metavar="CONTACT", help="a vCard UID or the contact's full name")
    snooze.add_argument("until", metavar="DURATION-or-DATE", help="e.g. P2W, 3w, 10d or 2027-01-15")

    sub.add_parser("check", help="validate the config, reach the server, show what was found")

    history = sub.add_parser(
        "history",
        help="every change syncd made to a card, and how to undo it",
        description="The change journal (journal.jsonl in state_dir): each write syncd made to a card, with the "
        "X-SYNCD values before and after, the card's ETag and the reason. Reads only the local journal, "
        "except --undo, which writes the before-values back (conditional on the card's ETag, and only while the "
        "card still holds the values that change set).",
    )
    history.add_argument("contact", nargs="?", metavar="CONTACT", help="a vCard UID or full name (default: all)")
    history.add_argument("--json", action="store_true", help="print a JSON array instead of text")
    history.add_argument("--undo", metavar="ID", help="undo the change with this id")
    import_ = sub.add_parser("import", help="take over what another keep-in-touch tool knew (frm)")
    sources = import_.add_subparsers(dest="source", metavar="SOURCE", parser_class=_Parser, required=True)
    frm = sources.add_parser(
        "frm",
        help="X-FRM-FREQUENCY / X-FRM-IGNORE / X-FRM-SNOOZE-UNTIL and frm's history, where no X-SYNCD value is",
        description="Write X-SYNCD-CIRCLE (nearest circle; none for X-FRM-IGNORE:true), X-SYNCD-INTERVAL, "
        "X-SYNCD-SNOOZE and X-SYNCD-LAST-CONTACT (the latest entry of frm's log.jsonl) into cards that do not "
        "have them yet. Values a card already has are never changed.",
    )
    frm.add_argument("--log", metavar="PATH", help="frm's history (default: $FRM_CONFIG_DIR or ~/.frm, log.jsonl)")
    frm.add_argument("--dry-run", action="store_true", help="show what would be written; write nothing")
    frm.add_argument("--json", action="store_true", help="print a JSON array instead of a table")

    demo = sub.add_parser(
        "demo",
        help="run everything against a local demo server with sample contacts (no config needed)",
        description="Start a local Radicale on 127.0.0.1 with ~300 generated contacts, run a sync, print "
        "today's list and where the reminders are, then keep syncing until Ctrl-C.",
    )
    demo.add_argument("--once", action="store_true", help="exit after one cycle and stop the server")
    demo.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0 for your LAN)")
    demo.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    demo.add_argument("--contacts", type=int, default=300, help=argparse.SUPPRESS)
    add_insight_parsers(sub)
    return parser


def add_insight_parsers(sub: argparse._SubParsersAction[_Parser]) -> None:
    audit = sub.add_parser(
        "audit",
        help="network audit: key contacts, circle sizes, spread, neglected, capacity",
        description="What your network is: the 10 most important contacts and when you last spoke, circle sizes "
        "against the method's ranges (10-15, 30-50, 100-200), organisations/titles/categories over- or "
        "under-represented in your circles, contacts over 2x their interval, and whether daily_limit "
        "covers what the circles need.",
    )
    audit.add_argument("--json", action="store_true", help="print a JSON object instead of tables")
    review = sub.add_parser(
        "review",
        help="weekly reflection or monthly review (the 7 / 30 days up to and including today)",
        description="week: who you reached, new contacts, reminders that slipped, the streak of days with the "
        "daily list done. month: per circle the share within cadence, categories and organisations active "
        "or going quiet (60+ days), [goals], touches against the Connect-5 pace.",
    )
    review.add_argument("period", choices=["week", "month"], help="week = 7 days, month = 30 days")
    review.add_argument("--json", action="store_true", help="print a JSON object instead of tables")
    report = sub.add_parser(
        "report",
        help="write the audit, the reviews and charts as one self-contained HTML page",
        description="One HTML file with no external references (charts are inline SVG): open it in any browser.",
    )
    report.add_argument("--html", metavar="FILE", required=True, help="where to write the page (- = stdout)")


# Helpers -----------------------------------------------------------------------------------------------


def parse_now(value: str | None, zone: ZoneInfo) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        if len(value) == 10:
            parsed = datetime.combine(date.fromisoformat(value), time(0, 0))
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError as err:
        raise UsageError(f"--now: {value!r} is not an ISO date-time such as 2026-11-22T09:00") from err
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def make_client(settings: Settings) -> DavClient:
    password = settings.server.resolve_password()
    logs.add_secret(password)
    return DavClient(
        username=settings.server.username,
        password=password,
        verify=settings.server.verify_tls,
        timeout=settings.server.timeout,
    )


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    out.write(line + "\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")


def _since(value: datetime | None, today: date, zone: ZoneInfo) -> str:
    if value is None:
        return "never"
    day = value.astimezone(zone).date()
    days = (today - day).days
    return f"{day.isoformat()} ({days}d ago)" if days > 0 else day.isoformat()


def print_today(items: list[TodayItem], today: date, zone: ZoneInfo, as_json: bool, out: TextIO) -> None:
    if as_json:
        json.dump([item.as_json() for item in items], out, indent=2, ensure_ascii=False)
        out.write("\n")
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
            item.reach or "—",
        ]
        for item in items
    ]
    render_table(["NAME", "CIRCLE", "DUE", "LAST CONTACT", "REACH"], rows, out)
    pending = sum(1 for item in items if item.reminder is None)
    if pending:
        out.write(f"\n{pending} marked (new) will be added to your task list by the next sync.\n")


# Commands ----------------------------------------------------------------------------------------------


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
        return parse_now(self.args.now, self.zone)

    def engine(self) -> Engine:
        settings = self.settings
        if not settings.server.url and not (settings.server.carddav_url and settings.server.caldav_url):
            from syncd.errors import ConfigError

            raise ConfigError(f"server.url: required key is missing in {self.loaded.source}")
        return Engine(settings, make_client(settings))


def cmd_sync(ctx: Context) -> int:
    engine = ctx.engine()
    if ctx.args.dry_run:
        engine.dry_run = True
        engine.client.read_only = True  # a write reaching the client would be a bug: refused, never sent
    engine.full = ctx.args.full
    try:
        engine.sync(ctx.now())
    finally:
        engine.close()
    if ctx.args.dry_run:
        from syncd.app.history import print_plan

        print_plan(engine.planned, sys.stdout)
    return 0


def cmd_history(ctx: Context) -> int:
    from syncd.app.history import run_history

    return run_history(ctx, sys.stdout)


def cmd_today(ctx: Context) -> int:
    engine = ctx.engine()
    now = ctx.now()
    try:
        items = engine.today(now)
    finally:
        engine.close()
    print_today(items, now.astimezone(ctx.zone).date(), ctx.zone, ctx.args.json, sys.stdout)
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
            interval = str(parse_short(interval))
        except ValueError as err:
            raise UsageError(f"--interval: {err}") from err
    engine = ctx.engine()
    try:
        contact, changed = engine.set_contact(args.contact, circle, None if clear else interval, clear_interval=clear)
    finally:
        engine.close()
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
            when = parse_now(ctx.args.on, ctx.zone)
        except UsageError as err:
            raise UsageError(f"--on: {ctx.args.on!r} is not an ISO date or date-time") from err
    engine = ctx.engine()
    try:
        contact, wrote, closed = engine.done(ctx.args.contact, when)
    finally:
        engine.close()
    message = f"{contact.name}: last contact {format_instant(when)}"
    if not wrote:
        message += " (the card already had this or a later date; nothing written)"
    if closed:
        message += "; open reminder marked done"
    print(message)
    return 0


def parse_until(value: str, today: date) -> date:
    found = parse_date(value)
    if found is not None:
        return found
    try:
        return parse_short(value).after(today)
    except ValueError as err:
        raise UsageError(f"{value!r} is neither a date (2027-01-15) nor a duration (P2W, 3w, 10d)") from err


def cmd_snooze(ctx: Context) -> int:
    today = ctx.now().astimezone(ctx.zone).date()
    until = parse_until(ctx.args.until, today)
    engine = ctx.engine()
    try:
        contact, changed, moved = engine.snooze(ctx.args.contact, until, ctx.now())
    finally:
        engine.close()
    line = f"{contact.name}: not due before {until.isoformat()}" + ("" if changed else " (already so)")
    if moved is not None and moved.due is not None:
        line += f"; the open reminder (due {moved.due.isoformat()}) now falls due then"
    print(line)
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
        log.warning("%s: %d lines could not be read; skipped", path, history.skipped)
    engine = ctx.engine()
    try:
        rows = frm.import_frm(engine, history, ctx.now(), dry_run=ctx.args.dry_run)
    finally:
        engine.close()
    if ctx.args.json:
        json.dump([row.as_json() for row in rows], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    table = [[r.name, ", ".join(f"{k}:{v}" for k, v in r.values.items()), "yes" if r.written else "no"] for r in rows]
    if table:
        render_table(["NAME", "VALUES", "WRITTEN"], table, sys.stdout)
    written = sum(1 for r in rows if r.written)
    verb = "would be written (dry run)" if ctx.args.dry_run else "written"
    print(f"{len(rows)} cards with frm data to take over, {written if not ctx.args.dry_run else len(rows)} {verb}")
    return 0


def cmd_check(ctx: Context) -> int:
    from syncd.engine.check import run_check

    with make_client(ctx.settings) as client:
        return run_check(ctx.loaded, client, sys.stdout)


def cmd_run(ctx: Context) -> int:
    from syncd.app.daemon import Daemon

    return Daemon(lambda: load_config(ctx.args.config), ctx.args.now).run(once=ctx.args.once)


def cmd_demo(ctx: Context) -> int:
    from syncd.app.demo import run_demo

    return run_demo(
        once=ctx.args.once,
        host=ctx.args.host,
        port=ctx.args.port,
        count=ctx.args.contacts,
        now_arg=ctx.args.now,
    )


def _insight(ctx: Context, view: Callable[[Engine, datetime], _T]) -> _T:
    engine = ctx.engine()
    try:
        return view(engine, ctx.now())
    finally:
        engine.close()


def _show(ctx: Context, as_json: Callable[[], object], human: Callable[[], None]) -> None:
    """`--json` prints the JSON object, else the human view."""
    if ctx.args.json:
        json.dump(as_json(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        human()


def cmd_audit(ctx: Context) -> int:
    from syncd.engine import insights
    from syncd.insight import views

    result = _insight(ctx, insights.run_audit)
    _show(ctx, result.as_json, lambda: views.print_audit(result, sys.stdout))
    return 0


def cmd_review(ctx: Context) -> int:
    from syncd.engine import insights
    from syncd.insight import views

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

    net, audit, week, month = _insight(ctx, insights.run_all)
    page = report.render(net, audit, week, month, now=ctx.now())
    if ctx.args.html == "-":
        sys.stdout.write(page)
    else:
        report.write(ctx.args.html, page)
        print(f"wrote {ctx.args.html}")
    return 0


COMMANDS: dict[str, Callable[[Context], int]] = {
    "sync": cmd_sync,
    "run": cmd_run,
    "today": cmd_today,
    "set": cmd_set,
    "done": cmd_done,
    "snooze": cmd_snooze,
    "check": cmd_check,
    "history": cmd_history,
    "import": cmd_import,
    "demo": cmd_demo,
    "audit": cmd_audit,
    "review": cmd_review,
    "report": cmd_report,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
    logs.setup(verbose=verbose)
    try:
        args = parser.parse_args(argv)
        logs.setup(verbose=args.verbose, quiet=args.command in ("today", "check") and not args.verbose)
        if not args.command:
            parser.print_help()
            return 2
        return COMMANDS[args.command](Context(args))
    except SyncdError as err:
        log.debug("error", exc_info=True)
        print(f"syncd: {logs.mask(str(err))}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # a bug: one line, traceback with --verbose
        log.debug("unexpected error", exc_info=True)
        hint = "" if verbose else " (run with --verbose for details)"
        print(f"syncd: internal error: {type(err).__name__}: {logs.mask(str(err))}{hint}", file=sys.stderr)
        return 1
