"""Every error a user can cause, each with its exit code (sysexits).

`syncd.app.cli.main` is the one place where these become a message on stderr and an exit code.
"""

from __future__ import annotations


class SyncdError(Exception):
    """Base class: `str(err)` is the one line shown to the user."""

    exit_code = 1


class UsageError(SyncdError):
    exit_code = 2


class DataError(SyncdError):
    """Bad input data, e.g. an unknown or ambiguous contact (EX_DATAERR)."""

    exit_code = 65


class ServerError(SyncdError):
    """The server is unreachable or failing (EX_UNAVAILABLE)."""

    exit_code = 69


class WriteRefused(ServerError):
    """The server refused a write (HTTP 4xx): it was not made. The message names the contact and the
    server's reason (EX_UNAVAILABLE)."""


class CantCreate(SyncdError):
    """A file syncd would create is already there, and replacing it was not asked for (EX_CANTCREAT)."""

    exit_code = 73


class AuthError(SyncdError):
    """The server refused our credentials (EX_NOPERM)."""

    exit_code = 77


class ConfigError(SyncdError):
    """The configuration is invalid (EX_CONFIG)."""

    exit_code = 78


class PreconditionFailed(SyncdError):
    """A conditional write lost a race (HTTP 412): re-read and re-apply, never overwrite."""

    exit_code = 69

    def __init__(self, url: str) -> None:
        super().__init__(f"{url} changed on the server while syncd was writing it")
        self.url = url


class BrokenItem(SyncdError):
    """A card or task that cannot be understood; it is skipped and never written."""

    exit_code = 65

    def __init__(self, href: str, reason: str) -> None:
        super().__init__(f"{href}: {reason}")
        self.href = href
        self.reason = reason
