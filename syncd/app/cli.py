"""The command line. `main` is the one place where errors become a message on stderr and an exit code."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from syncd.app import logs
from syncd.app.commands import COMMANDS, Context
from syncd.app.parser import build_parser
from syncd.errors import SyncdError

log = logging.getLogger("syncd")


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
