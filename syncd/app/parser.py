"""The command line's grammar: every command, option and help text (`syncd --help`)."""

from __future__ import annotations

import argparse

from syncd import __version__
from syncd.errors import UsageError

DESCRIPTION = """\
syncd keeps you in touch with the people who matter, on purpose.

It reads your contacts from your CardDAV server, keeps each contact's circle and contact interval in the
card itself (X-SYNCD-* properties, nothing else is touched), and writes "Reach out to ..." reminders into a
CalDAV task list (default "Keep in touch") that your phone's Reminders app shows. Tick one off and syncd
records the contact and schedules the next. At most reminders.daily_limit (default 5) are due at once.

Start with `syncd demo` (no config needed), then `syncd init`: it asks for your server, writes a working
config and checks it (`syncd init --example` prints the documented example with every key)."""

EPILOG = """\
exit codes: 0 ok, 2 usage, 65 bad input (e.g. unknown contact), 69 server unreachable or failing,
73 a file that would be replaced exists (init without --force), 77 authentication refused,
78 configuration invalid, 1 a bug; 141 when the output's reader went away early
(`syncd history | head -1`), quietly, as git does.
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
    today = sub.add_parser(
        "today",
        help="who to reach out to today",
        description="Open reminders due today or earlier, then who the next sync would add. With the server "
        "down: the last known list (from the last read of the server), a line on stderr saying it is offline, "
        "and exit 69.",
    )
    today.add_argument("--json", action="store_true", help="print a JSON array instead of a table")

    set_ = sub.add_parser(
        "set",
        help="set a contact's circle and/or own interval",
        description="Write X-SYNCD-CIRCLE / X-SYNCD-INTERVAL into the contact's card (only those lines change).",
    )
    set_.add_argument("contact", metavar="CONTACT", help="a vCard UID or the contact's full name")
    set_.add_argument("--circle", metavar="KEY", help="a circle key from [circles], or `none` to stop tracking")
    set_.add_argument(
        "--interval",
        metavar="DURATION",
        help="own interval, 1 day to 10 years: P3W, P2M, 10d, 3w, ...; `none` to clear",
    )

    done = sub.add_parser("done", help="record that you were in touch (default: now)")
    done.add_argument("contact", metavar="CONTACT", help="a vCard UID or the contact's full name")
    done.add_argument("--on", metavar="DATE", help="the day it happened (ISO date or date-time; not after now)")
    done.add_argument("--note", metavar="TEXT", help="what was said: a note about the contact, kept on the server")
    add_person_parsers(sub)

    snooze = sub.add_parser(
        "snooze",
        help="the contact is not due before then",
        description="Write X-SYNCD-SNOOZE into the contact's card; an open reminder due earlier is moved to that "
        "day (its time of day and alarm move with it), as when its due date is moved on a phone. If every "
        "daily_limit slot is taken on that day, it gives way and the contact waits for a free one.",
    )
    snooze.add_argument("contact", metavar="CONTACT", help="a vCard UID or the contact's full name")
    snooze.add_argument("until", metavar="DURATION-or-DATE", help="a day after today: e.g. P2W, 3w, 10d or 2027-01-15")

    check = sub.add_parser(
        "check",
        help="validate the config, reach the server, show what was found",
        description="Validate the config, reach the server, and show what syncd finds there: the address books, "
        "the task list and what iPhone Reminders will make of it (VTODO-only? your own, not shared? a change "
        "feed?), the calendars the config names.",
    )
    check.add_argument(
        "--probe",
        action="store_true",
        help="also write a scratch card (and a scratch task) with X- properties, read it back and delete it: "
        "does the server keep unknown X- properties, does its change feed report deletions?",
    )
    init = sub.add_parser(
        "init",
        help="write a working config: server, address books, task list, time zone; then check it",
        description="Asks for the server, user name and password (or takes them from the flags; the password also "
        "from $SYNCD_SERVER__PASSWORD), reaches the server, lists its address books to choose from, proposes the "
        "task list and the machine's time zone, and writes the config (mode 0600) to --config, $SYNCD_CONFIG or "
        "~/.config/syncd/config.toml; a typed password goes into a 0600 file `password` beside it. Then runs "
        "`syncd check`. Without a terminal nothing is asked: --url is required. An existing config is replaced "
        "only with --force (else exit 73). --example prints the documented example config instead. A second run "
        "with --account NAME adds that account to the existing config (split setups: contacts here, reminders "
        "there).",
    )
    init.add_argument("--example", action="store_true", help="print the example config to standard output")
    init.add_argument("--url", metavar="URL", help="the CardDAV/CalDAV server (e.g. https://dav.example.com/)")
    init.add_argument("--username", metavar="NAME", help="the user name on the server")
    secret = init.add_mutually_exclusive_group()
    secret.add_argument("--password-file", metavar="PATH", help="a file holding the password; the config names it")
    secret.add_argument(
        "--password-command",
        metavar="COMMAND",
        help="a program that prints the password (e.g. 'pass show dav'; split as a shell would, run without one); "
        "the config holds it as server.password_command",
    )
    init.add_argument(
        "--addressbook",
        action="append",
        metavar="NAME",
        help="an address book to read (display name or path; repeatable; default: all)",
    )
    init.add_argument("--task-list", metavar="NAME", help='the task list for the reminders (default "Keep in touch")')
    init.add_argument("--timezone", metavar="ZONE", help="IANA time zone (default: the machine's own)")
    init.add_argument(
        "--account",
        metavar="NAME",
        help="a second account, for a split setup: adds [accounts.NAME] to the existing config (its typed password "
        "into NAME.password beside it, or from $SYNCD_ACCOUNTS__NAME__PASSWORD) and points --role at it",
    )
    init.add_argument(
        "--role",
        choices=("reminders", "contacts"),
        default="reminders",
        help="with --account: what moves to that account (default reminders: the task list and events calendar)",
    )
    init.add_argument(
        "--force", action="store_true", help="replace an existing config (and password file), or --account's table"
    )

    history = sub.add_parser(
        "history",
        help="every change syncd made to a card, and how to undo it",
        description="The change journal (journal.jsonl in state_dir): each write syncd made to a card, with the "
        "X-SYNCD values before and after, the card's ETag and the reason. Reads only the local journal, "
        "except --undo, which writes the before-values back (conditional on the card's ETag, and only while the "
        "card still holds the values that change set); undoing a `done` also opens the reminder it closed again. "
        "Newest first, times in schedule.timezone; --json: oldest first, times in UTC, full ids.",
    )
    history.add_argument("contact", nargs="?", metavar="CONTACT", help="a vCard UID or full name (default: all)")
    history.add_argument("--json", action="store_true", help="print a JSON array instead of text")
    history.add_argument("--undo", metavar="ID", help="undo the change with this id (as shown, or the full id)")
    history.add_argument(
        "--limit", type=int, metavar="N", help="only the N newest changes (default 20; with --json all); 0 = all"
    )
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
    demo.add_argument("--port", type=int, default=0, help="port (default: a free one; one in use is an error)")
    demo.add_argument("--contacts", type=int, default=300, help=argparse.SUPPRESS)
    add_insight_parsers(sub)
    return parser


def add_person_parsers(sub: argparse._SubParsersAction[_Parser]) -> None:
    show = sub.add_parser(
        "show",
        help="one contact: circle, interval, last contact and where it came from, next due date, notes",
        description="Last contact's source: reminder (ticked off), meeting, mail, manual (`syncd done`), or card "
        "(a date in the card syncd has no other record of). Notes newest first.",
    )
    show.add_argument("contact", metavar="CONTACT", help="a vCard UID or the contact's full name")
    show.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    list_ = sub.add_parser("list", help="the contacts syncd knows, with the fields of `show` (without notes)")
    list_.add_argument("--circle", metavar="KEY", help="only the contacts of this circle")
    list_.add_argument("--due", action="store_true", help="only the contacts due today or earlier")
    list_.add_argument("--json", action="store_true", help="print a JSON array instead of a table")


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
        help="write today's list, the audit, the reviews and charts as one self-contained HTML page",
        description="One HTML file with no external references (charts are inline SVG): open it in any browser. "
        "The charts need matplotlib: pip install 'syncd[report]'; without it the page says so where they would be.",
    )
    report.add_argument("--html", metavar="FILE", required=True, help="where to write the page (- = stdout)")
