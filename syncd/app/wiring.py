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


def make_client(
    settings: Settings, cls: Callable[..., DavClient] = DavClient, *, account: str = "", **extra: Any
) -> DavClient:
    """A client for an account's server ("" = `[server]`, else `[accounts.NAME]`); its password, which goes
    to that server's site only (`DavClient.servers`), is masked in every log line from now on."""
    server = settings.server_for(account)
    password = server.resolve_password(f"accounts.{account}" if account else "server")
    logs.add_secret(password)
    return cls(
        username=server.username,
        password=password,
        verify=server.verify_tls,
        timeout=server.timeout,
        auth=server.auth,
        servers=(server.url, server.carddav_url, server.caldav_url),
        **extra,
    )


def make_clients(settings: Settings, build: Callable[[str], DavClient]) -> Clients:
    """One client per account in use (`build(name)`), each role given its account's."""
    built = {name: build(name) for name in settings.roles}

    def of(name: str) -> DavClient:
        return built.get(name) or built[settings.reminders.account]

    return Clients(of(settings.contacts.account), of(settings.reminders.account), of(settings.interactions.account))


def open_session(
    settings: Settings,
    client: DavClient | None = None,
    *,
    retries: int | None = None,
    clients: Clients | None = None,
) -> Session:
    """A session on the configured accounts: one client per account (or `client` for every role, or
    `clients`). `retries`: of each request (default: the client's, with backoff); 0 for a command a person
    waits for."""
    if client is not None:
        clients = Clients.single(client)
    elif clients is None:
        extra: dict[str, Any] = {} if retries is None else {"retries": retries}
        clients = make_clients(settings, lambda name: make_client(settings, account=name, **extra))
    return Session(settings, clients, progress=Progress)


def require_server(loaded: LoadedConfig) -> Settings:
    """The settings, when every account in use says where its server is."""
    settings = loaded.settings
    for name in settings.roles:
        if settings.server_for(name).configured:
            continue
        if loaded.path is None and not name:
            raise no_config_error()
        key = f"accounts.{name}" if name else "server"
        raise ConfigError(f"{key}.url: required key is missing in {loaded.source}")
    return settings
