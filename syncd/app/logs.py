"""Logging: journald-friendly under systemd (syslog priority prefixes, no timestamps), readable timestamps in a
terminal; tracebacks only at debug level; secrets are masked in every record."""

from __future__ import annotations

import logging
import os
import re
import sys

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def under_journald(stream: object = None) -> bool:
    """True when stderr is connected to the journal (systemd sets JOURNAL_STREAM=dev:inode)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    if not value or ":" not in value:
        return False
    target = stream if stream is not None else sys.stderr
    try:
        st = os.fstat(target.fileno())  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        return False
    dev, _, ino = value.partition(":")
    return f"{st.st_dev}" == dev and f"{st.st_ino}" == ino


class NoTracebackFormatter(logging.Formatter):
    """Drops exception details unless the logger is at debug level."""

    def __init__(self, fmt: str | None, debug: bool, datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt)
        self.debug = debug

    def formatException(self, ei: object) -> str:
        return super().formatException(ei) if self.debug else ""  # type: ignore[arg-type]

    def format(self, record: logging.LogRecord) -> str:
        if not self.debug:
            record.exc_info = None
            record.exc_text = None
        return mask(super().format(record))  # the traceback too: an exception's text may quote a secret


class JournalFormatter(NoTracebackFormatter):
    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in message.splitlines() or [""])


class SecretFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


SECRETS = SecretFilter()

# Commands whose answer is what they print: besides it, only warnings and errors go to stderr.
ANSWERING = frozenset(
    {"today", "check", "set", "done", "snooze", "history", "audit", "review", "report", "import", "init"}
)

# Libraries whose log lines never reach stderr without --verbose, whatever their loggers' levels are set to
# (matplotlib warns "building the font cache" on a first chart, and when it has no writable cache directory).
SILENCED = ("matplotlib", "PIL", "fontTools")


class LibraryFilter(logging.Filter):
    """Drops the records of `SILENCED` libraries."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(record.name == name or record.name.startswith(name + ".") for name in SILENCED)


# Credentials that may show up in library debug output even when syncd never logs them itself.
_AUTH_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization)(['\"]?\s*[:=]\s*['\"]?)(?:[A-Za-z]+\s+)?[^\s'\",}]+")
_AUTH_SCHEME = re.compile(r"(?i)\b(basic|bearer|digest)\s+[A-Za-z0-9+/=._~-]{8,}")


def mask(text: str) -> str:
    """`text` with every known secret, Authorization header value and Basic/Bearer token replaced by ***."""
    for secret in SECRETS.secrets:
        text = text.replace(secret, "***")
    text = _AUTH_HEADER.sub(r"\1\2***", text)
    return _AUTH_SCHEME.sub(r"\1 ***", text)


def add_secret(secret: str | None) -> None:
    if secret and len(secret) >= 3:
        SECRETS.secrets.add(secret)


def setup(verbose: bool = False, quiet: bool = False) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    if under_journald():
        handler.setFormatter(JournalFormatter("%(message)s", verbose))
    else:
        handler.setFormatter(
            NoTracebackFormatter("%(asctime)s %(levelname)-7s %(message)s", verbose, "%Y-%m-%d %H:%M:%S")
        )
    handler.addFilter(SECRETS)
    if not verbose:
        handler.addFilter(LibraryFilter())
    root.addHandler(handler)
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    root.setLevel(level)
    # Other libraries stay quiet unless --verbose.
    for name in ("urllib3", "requests", "vobject", "icalendar", "schedule"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
