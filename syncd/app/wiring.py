"""One way to wire syncd: the clock (`--now`), the client of each role, the session. The command line, the
daemon, the demo, the benchmark and the tests all build their sessions here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from syncd.app import logs
from syncd.app.config_file import LoadedConfig, no_config_error
from syncd.app.progress import Progress
from syncd.config import Settings
from syncd.dav.client import DavClient
from syncd.engine.session import Clients, Session
from syncd.errors import ConfigError, UsageError


def parse_now(value: str | None, zone: ZoneInfo) -> datetime:
    """`--now`: an ISO date or date-time (no offset = `zone`); the real clock when not given."""
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


def make_client(settings: Settings, cls: Callable[..., DavClient] = DavClient, **extra: Any) -> DavClient:
    """A client for the configured server; its password is masked in every log line from now on."""
    server = settings.server
    password = server.resolve_password()
    logs.add_secret(password)
    return cls(
        username=server.username,
        password=password,
        verify=server.verify_tls,
        timeout=server.timeout,
        auth=server.auth,
        **extra,
    )


def open_session(settings: Settings, client: DavClient | None = None, *, retries: int | None = None) -> Session:
    """A session on the configured server (or on `client`): one client for contacts and reminders.
    `retries`: of each request (default: the client's, with backoff); 0 for a command a person waits for."""
    if client is None:
        client = make_client(settings) if retries is None else make_client(settings, retries=retries)
    return Session(settings, Clients.single(client), progress=Progress)


def require_server(loaded: LoadedConfig) -> Settings:
    settings = loaded.settings
    if not settings.server.url and not (settings.server.carddav_url and settings.server.caldav_url):
        if loaded.path is None:
            raise no_config_error()
        raise ConfigError(f"server.url: required key is missing in {loaded.source}")
    return settings
