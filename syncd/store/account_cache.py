"""The discovered account, kept in the state for DISCOVERY_TTL: a cycle within the hour skips discovery.

Each account (`[server]`, `[accounts.NAME]`) is kept on its own, with its name, the server settings it was
discovered for and what it serves; other settings, an older entry or one that does not decode mean
discovering it again. Losing it costs one discovery.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from syncd.config import Settings
from syncd.core.account import Account, Collection
from syncd.store.state import State

log = logging.getLogger("syncd.store.account_cache")

DISCOVERY_KEY = "discovery"
DISCOVERY_TTL = 3600.0  # seconds a discovered account is reused before the server is asked again


def _server_key(settings: Settings, name: str) -> str:
    server = settings.server_for(name)
    serves = settings.roles.get(name, [])
    return json.dumps([name, server.url, server.username, server.carddav_url, server.caldav_url, serves])


def _meta_key(name: str) -> str:
    return f"{DISCOVERY_KEY}.{name}" if name else DISCOVERY_KEY


def _collection_json(c: Collection) -> dict[str, Any]:
    return {"url": c.url, "name": c.name, "kind": c.kind, "components": sorted(c.components), "sync": c.supports_sync}


def save_account(
    state: State, settings: Settings, account: Account, now: float | None = None, *, name: str = ""
) -> None:
    """Keep what account `name` ("" = `[server]`) holds."""
    data = {
        "key": _server_key(settings, name),
        "at": time.time() if now is None else now,
        "principal": account.principal,
        "addressbook_home": account.addressbook_home,
        "calendar_home": account.calendar_home,
        "addressbooks": [_collection_json(c) for c in account.addressbooks],
        "calendars": [_collection_json(c) for c in account.calendars],
    }
    state.set_meta(_meta_key(name), json.dumps(data))


def load_account(
    state: State,
    settings: Settings,
    now: float | None = None,
    max_age: float | None = DISCOVERY_TTL,
    *,
    name: str = "",
) -> Account | None:
    """Account `name` ("" = `[server]`) as discovered less than `max_age` seconds ago (None: however long
    ago) for the same server settings, else None."""
    raw = state.get_meta(_meta_key(name))
    if not raw:
        return None
    try:
        data = json.loads(raw)
        if data["key"] != _server_key(settings, name):
            return None
        age = (time.time() if now is None else now) - float(data["at"])
        if max_age is not None and not 0 <= age < max_age:
            return None

        def collection(c: dict[str, Any]) -> Collection:
            return Collection(c["url"], c["name"], c["kind"], set(c["components"]), bool(c["sync"]))

        return Account(
            data["principal"],
            data["addressbook_home"],
            data["calendar_home"],
            [collection(c) for c in data["addressbooks"]],
            [collection(c) for c in data["calendars"]],
        )
    except (ValueError, KeyError, TypeError) as err:
        log.debug("cache: the saved account is unreadable (%s); discovering again", err)
        return None


def forget_account(state: State, name: str = "") -> None:
    state.set_meta(_meta_key(name), "")
