"""The account as plain data: its address books and calendars (found by `dav.discovery`, kept for an hour by
`store.account_cache`), and how two URLs of a collection or member are compared. Pure."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit


@dataclass(slots=True)
class Collection:
    url: str
    name: str
    kind: str  # "addressbook" or "calendar"
    components: set[str] = field(default_factory=set)  # for calendars: VTODO, VEVENT, ... (empty = any)
    supports_sync: bool = False

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.url).path)

    def label(self) -> str:
        return f"{self.name!r} ({self.path})" if self.name else self.path

    def holds(self, component: str) -> bool:
        return not self.components or component in self.components


@dataclass(slots=True)
class Account:
    principal: str
    addressbook_home: str | None
    calendar_home: str | None
    addressbooks: list[Collection]
    calendars: list[Collection]


def same_resource(a: str, b: str) -> bool:
    return unquote(urlsplit(a).path).rstrip("/") == unquote(urlsplit(b).path).rstrip("/")


@functools.lru_cache(maxsize=1 << 16)
def canonical(href: str) -> str:
    """One spelling per resource (`/a%40b.vcf` and `/a@b.vcf` are the same card)."""
    parts = urlsplit(href)
    return urlunsplit((parts.scheme, parts.netloc, quote(unquote(parts.path), safe="/:@!$&'()*+,;="), "", ""))
