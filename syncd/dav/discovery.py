"""Finding the account's address books and calendars from `server.url` (RFC 6764 well-known URIs, RFC 5397
current-user-principal, RFC 6352/4791 home sets), unless `carddav_url` / `caldav_url` name the homes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree

from syncd.config import ServerConfig
from syncd.core.account import Account, Collection, same_resource
from syncd.dav.client import DavClient, HTTPStatusError, NotFound
from syncd.dav.multistatus import Resource, qname
from syncd.errors import ConfigError, ServerError

log = logging.getLogger("syncd.dav.discovery")

# Not d:sync-token or cs:getctag: Radicale computes them over every member of every collection listed (seconds
# for a 5,000-card address book); sync support shows in supported-report-set.
COLLECTION_PROPS = [
    "d:resourcetype",
    "d:displayname",
    "d:supported-report-set",
    "cal:supported-calendar-component-set",
]


def _principal(client: DavClient, start: str, service: str) -> str | None:
    candidates = [urljoin(start, f"/.well-known/{service}"), start]
    for url in candidates:
        try:
            found = client.propfind(url, ["d:current-user-principal"], depth=0)
        except (NotFound, HTTPStatusError) as err:
            log.debug("no principal at %s: %s", url, err)
            continue
        for resource in found.resources:
            hrefs = resource.hrefs("d:current-user-principal")
            if hrefs and hrefs[0]:
                return urljoin(resource.href, hrefs[0])
    return None


def _home(client: DavClient, principal: str, prop: str) -> str | None:
    found = client.propfind(principal, [prop], depth=0)
    for resource in found.resources:
        hrefs = resource.hrefs(prop)
        if hrefs and hrefs[0]:
            return urljoin(resource.href, hrefs[0])
    return None


def _collection(resource: Resource) -> Collection | None:
    if resource.has("d:resourcetype", "card:addressbook"):
        kind = "addressbook"
    elif resource.has("d:resourcetype", "cal:calendar"):
        kind = "calendar"
    else:
        return None
    components: set[str] = set()
    comp_set = resource.props.get("{urn:ietf:params:xml:ns:caldav}supported-calendar-component-set")
    if comp_set is not None:
        components = {c.get("name", "").upper() for c in comp_set}
    reports = resource.props.get("{DAV:}supported-report-set")
    sync = resource.text("d:sync-token") is not None or (
        reports is not None and reports.find(".//{DAV:}sync-collection") is not None
    )
    name = (resource.text("d:displayname") or "").strip()
    return Collection(url=resource.href, name=name, kind=kind, components=components, supports_sync=sync)


def list_collections(client: DavClient, home: str) -> list[Collection]:
    found = client.propfind(home, COLLECTION_PROPS, depth=1)
    out = []
    for resource in found.resources:
        collection = _collection(resource)
        if collection is not None:
            out.append(collection)
    return out


def describe_collection(client: DavClient, url: str) -> Collection | None:
    """One collection's own properties (e.g. of one syncd just created), or None when it is none."""
    for resource in client.propfind(url, COLLECTION_PROPS, depth=0).resources:
        if same_resource(resource.href, url):
            return _collection(resource)
    return None


def as_collection(url: str) -> str:
    """A base or home URL as a collection: its path ends with a slash. Cyrus (Fastmail) answers the DAV root
    without its trailing slash with 404, while every server takes the collection's own form."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.path.endswith("/"):
        return url
    return urlunsplit(parts._replace(path=parts.path + "/"))


def discover(
    client: DavClient, server: ServerConfig, *, cards: bool = True, calendars: bool = True, key: str = "server"
) -> Account:
    """The account's address books (`cards`) and calendars (`calendars`); a part not asked for is not looked
    for. `key`: the config section the server settings come from, for the messages."""
    card_home = (as_collection(server.carddav_url) or None) if cards else None
    cal_home = (as_collection(server.caldav_url) or None) if calendars else None
    if not server.url and ((cards and not card_home) or (calendars and not cal_home)):
        raise ConfigError(f"{key}.url: required (or both {key}.carddav_url and {key}.caldav_url)")
    principal = ""
    if (cards and not card_home) or (calendars and not cal_home):
        start = as_collection(server.url)
        principal = _principal(client, start, "carddav" if cards else "caldav") or ""
        principal = principal or _principal(client, start, "caldav" if cards else "carddav") or ""
        if principal:
            if cards:
                card_home = card_home or _home(client, principal, "card:addressbook-home-set")
            if calendars:
                cal_home = cal_home or _home(client, principal, "cal:calendar-home-set")
        else:
            card_home = (card_home or start) if cards else None
            cal_home = (cal_home or start) if calendars else None
    if not card_home and not cal_home:
        raise ServerError(f"{server.url}: found no CardDAV or CalDAV service there")
    addressbooks = [c for c in list_collections(client, card_home) if c.kind == "addressbook"] if card_home else []
    found: list[Collection] = []
    if cal_home:
        found = [c for c in list_collections(client, cal_home) if c.kind == "calendar"]
    return Account(principal or "", card_home, cal_home, addressbooks, found)


def select_addressbooks(account: Account, wanted: list[str]) -> list[Collection]:
    """`contacts.addressbooks`: display names or hrefs; empty = all."""
    if not wanted:
        return list(account.addressbooks)
    chosen: list[Collection] = []
    for entry in wanted:
        match = [
            ab
            for ab in account.addressbooks
            if ab.name == entry or (same_resource(ab.url, urljoin(ab.url, entry)) and "/" in entry)
        ] or [ab for ab in account.addressbooks if ab.name.casefold() == entry.casefold()]
        if not match:
            found = ", ".join(ab.label() for ab in account.addressbooks) or "none"
            raise ConfigError(f"contacts.addressbooks: no address book {entry!r} on the server (found: {found})")
        for ab in match:
            if ab not in chosen:
                chosen.append(ab)
    return chosen


def find_calendar(account: Account, name: str) -> Collection | None:
    for calendar in account.calendars:
        if calendar.name == name:
            return calendar
    return None


# What says whose a collection is and what the user may do there: RFC 3744 owner and privileges, and
# calendarserver.org sharing (a list shared with or by the user names its share or its invitees).
SHARING_PROPS = ["d:owner", "d:current-user-privilege-set", "cs:shared-url", "cs:invite"]
_WRITE_PRIVILEGES = {"all", "write", "write-content", "bind"}


@dataclass(frozen=True, slots=True)
class Sharing:
    owner: str  # absolute URL of the owner's principal; "" when the server does not say
    shared: bool  # shared with the user, or by the user with others
    writable: bool | None  # None when the server does not say


def sharing(client: DavClient, url: str) -> Sharing:
    """Who owns the collection at `url`, whether it is shared, and whether the user may write in it."""
    for resource in client.propfind(url, SHARING_PROPS, depth=0).resources:
        if not same_resource(resource.href, url):
            continue
        owners = [h for h in resource.hrefs("d:owner") if h]
        owner = urljoin(resource.href, owners[0]) if owners else ""
        invite = resource.props.get(qname("cs:invite"))
        shared = bool(resource.hrefs("cs:shared-url")) or (invite is not None and len(invite) > 0)
        privileges = resource.props.get(qname("d:current-user-privilege-set"))
        writable = None
        if privileges is not None:
            held = {etree.QName(p).localname for p in privileges.iter() if isinstance(p.tag, str)}
            writable = bool(held & _WRITE_PRIVILEGES)
        return Sharing(owner, shared, writable)
    return Sharing("", False, None)
