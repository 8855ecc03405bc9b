"""A server that does not enforce If-Match (Google's CardDAV; carddavclient QUIRKS: BUG_ETAGPRECOND_NOTCHECKED),
put in front of a real server by the proxy, which forwards every PUT without its If-Match. A phone edit that
lands between syncd's read and its write would be overwritten: syncd checks the ETag again just before the
PUT and reads the card back after it, for the providers the table marks so."""

from __future__ import annotations

import logging

import pytest

from syncd.dav.carddav import write_xsyncd
from syncd.dav.client import DavClient
from tests.factories import contact_card
from tests.proxy import Forward, ProxyFactory, Request, chain, ignores_if_match, when
from tests.servers import DavServer


def phone_edit(dav: DavServer, upstream_href: str, text: str) -> None:
    """The phone's own write, straight to the server (as the phone's client would, with its If-Match)."""
    etag = dav.get(upstream_href).headers["ETag"]
    r = dav.put(upstream_href, text, **{"If-Match": etag})
    assert r.status_code in (200, 201, 204), r.status_code


@pytest.mark.parametrize("verify", [True, False])
def test_an_edit_between_read_and_write_is_kept(dav: DavServer, counting_proxy: ProxyFactory, verify: bool) -> None:
    _, ab_url = dav.make_addressbook()
    href = ab_url + "g-1.vcf"
    dav.put(href, contact_card("g-1", "Grace Hopper", "2", None))
    edited = contact_card("g-1", "Grace Hopper", "2", None).replace("END:VCARD", "TEL:+1-555-0100\r\nEND:VCARD")

    def after_first_read(request: Request, status: int) -> None:
        phone_edit(dav, href, edited)

    fault = chain(ignores_if_match(), when(Forward(after=after_first_read), method="GET", path="/g-1.vcf", times=1))
    proxy = counting_proxy(dav.url, fault)
    with DavClient(username=dav.username, password=dav.password, deadline=5) as client:
        write_xsyncd(client, proxy.to_proxy(href), lambda _values: {"X-SYNCD-CIRCLE": "3"}, verify=verify)
    text = dav.get(href).text
    assert "X-SYNCD-CIRCLE:3" in text
    if verify:
        assert "TEL:+1-555-0100" in text, "the phone's edit is kept"
    else:  # what the quirk does to a write that trusts If-Match: the phone's edit is gone
        assert "TEL:+1-555-0100" not in text


def test_an_edit_landing_with_the_write_is_reported(
    dav: DavServer, counting_proxy: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """A phone that rewrites the card without syncd's lines right after syncd's PUT: the read-back sees it."""
    _, ab_url = dav.make_addressbook()
    href = ab_url + "g-2.vcf"
    dav.put(href, contact_card("g-2", "Alan Turing", "2", None))

    def after_put(request: Request, status: int) -> None:
        phone_edit(dav, href, contact_card("g-2", "Alan M. Turing", None, None))

    proxy = counting_proxy(dav.url, chain(when(Forward(after=after_put), method="PUT", times=1), ignores_if_match()))
    with (
        caplog.at_level(logging.WARNING, logger="syncd"),
        DavClient(username=dav.username, password=dav.password, deadline=5) as client,
    ):
        result = write_xsyncd(client, proxy.to_proxy(href), lambda _v: {"X-SYNCD-CIRCLE": "3"}, verify=True)
    assert result is not None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("X-SYNCD-CIRCLE: 3 → —" in w and "another edit" in w for w in warnings), warnings
    assert proxy.counts() == {"GET": 3, "PUT": 1}, "read, check, write, read back"
