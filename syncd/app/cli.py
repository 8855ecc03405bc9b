"""The command line. `main` is the one place where errors become a message on stderr and an exit code."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from syncd.app import logs
from syncd.app.commands import COMMANDS, Context
from syncd.app.parser import build_parser
from syncd.errors import SyncdError

log = logging.getLogger("syncd")

# The reader of the output went away (`syncd today | head -1`): stop quietly with the status a shell reports for
# a program ended by SIGPIPE (128 + 13), as git and cat do.
EXIT_BROKEN_PIPE = 141


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    verbose = "-v" in (argv or sys.argv[1:]) or "--verbose" in (argv or sys.argv[1:])
    logs.setup(verbose=verbose)
    try:
        args = parser.parse_args(argv)
        logs.setup(verbose=args.verbose, quiet=args.command in logs.ANSWERING and not args.verbose)
        if not args.command:
            parser.print_help()
            return 2
        status = COMMANDS[args.command](Context(args))
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return status
    except BrokenPipeError:
        # Nothing more can be written there; what is still buffered goes to /dev/null so that the interpreter's
        # last flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
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
