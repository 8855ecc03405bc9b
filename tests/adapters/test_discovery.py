from __future__ import annotations

import pytest

from syncd.config import ServerConfig
from syncd.dav.client import DavClient
from syncd.dav.discovery import discover, select_addressbooks
from tests.proxy import ProxyFactory, Respond, chain, when
from tests.servers import EVERY_SERVER, DavServer


def client_for(dav: DavServer) -> DavClient:
    return DavClient(username=dav.username, password=dav.password)


@pytest.mark.parametrize("dav", EVERY_SERVER, indirect=True)
def test_discovery_finds_homes_and_collections(dav: DavServer) -> None:
    ab_name, ab_url = dav.make_addressbook()
    cal_name, cal_url = dav.make_calendar()
    assert cal_url.startswith(dav.calendar_home)
    with client_for(dav) as client:
        account = discover(client, ServerConfig(url=dav.url, username=dav.username))
    assert account.addressbook_home == dav.addressbook_home
    assert account.calendar_home == dav.calendar_home
    names = {ab.name: ab for ab in account.addressbooks}
    assert ab_name in names and names[ab_name].url == ab_url
    # SabreDAV 1.8 has no sync-collection (SabreDAV 2 and later, under Nextcloud and Baïkal, do): syncd lists
    # ETags with PROPFIND there instead.
    assert names[ab_name].supports_sync == (dav.kind != "sabredav")
    tasks = {c.name: c for c in account.calendars}
    assert tasks[cal_name].components == {"VTODO"}
    chosen = select_addressbooks(account, [ab_name])
    assert [ab.url for ab in chosen] == [ab_url]


def _is_member_or_slashed(path: str) -> bool:
    bare = path.split("?", 1)[0]
    return bare.endswith(("/", ".vcf", ".ics"))


def test_a_dav_root_given_without_its_trailing_slash_is_found(dav: DavServer, counting_proxy: ProxyFactory) -> None:
    """Cyrus (Fastmail) serves the DAV root only with its trailing slash: the same path without it is 404.
    The proxy answers so in front of the real server (and has no well-known URIs, as a bare root has none),
    so discovery has to start from the root as given."""
    ab_name, _ = dav.make_addressbook()
    fault = chain(
        when(Respond(404), path="/.well-known/"),
        when(Respond(404), path=lambda path: not _is_member_or_slashed(path)),
    )
    proxy = counting_proxy(dav.url, fault)
    principal = dav.addressbook_home if dav.kind == "radicale" else dav.url + "user/"
    root = proxy.to_proxy(principal).rstrip("/")
    with client_for(dav) as client:
        account = discover(client, ServerConfig(url=root, username=dav.username))
    assert ab_name in {ab.name for ab in account.addressbooks}
    assert all(r.path.split("?")[0].endswith("/") for r in proxy.snapshot() if r.status == 207)
