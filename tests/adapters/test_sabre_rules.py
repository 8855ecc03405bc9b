"""What SabreDAV (Nextcloud, Baïkal) holds cards to, put in front of a real server by the proxy where the
server here behaves otherwise: a GET answers in the vCard version the Accept header asks for, 3.0 when it
names none (sabre-io/dav#834), with the ETag of the stored bytes (their MD5); a card needs FN exactly once."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import urlsplit

import pytest

from syncd.dav.carddav import write_xsyncd
from syncd.dav.client import DavClient
from tests.factories import contact_card
from tests.proxy import Action, Fault, Forward, ProxyFactory, Request, Respond
from tests.servers import DavServer
from tests.world import non_xsyncd

CARD4 = (
    "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:v4-1\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nKIND:individual\r\n"
    "GENDER:F\r\nEMAIL;TYPE=home;PREF=1:ada@example.org\r\nX-SYNCD-CIRCLE:2\r\nEND:VCARD\r\n"
)


def md5_etag(body: bytes) -> str:
    return f'"{hashlib.md5(body).hexdigest()}"'


def as_sabre(dav: DavServer) -> Fault:
    """GET of a card: SabreDAV's version negotiation over the stored bytes, ETag = MD5 of those bytes (as its
    PDO backend and Nextcloud compute it); PUT: If-Match checked against that ETag."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(dav.url))

    def fault(request: Request) -> Action | None:
        if not urlsplit(request.path).path.endswith(".vcf"):
            return None
        stored = dav.get(origin + request.path)
        if request.method == "GET":
            body = stored.content
            wants_four = "version=4.0" in request.headers.get("Accept", "")
            if re.search(rb"^VERSION:4\.0\r?$", body, re.MULTILINE) and not wants_four:
                body = body.replace(b"VERSION:4.0", b"VERSION:3.0").replace(b"KIND:", b"X-ADDRESSBOOKSERVER-KIND:")
                body = re.sub(rb"GENDER:[^\r\n]*\r\n", b"", body)
            headers = (("Content-Type", "text/vcard; charset=utf-8"), ("ETag", md5_etag(stored.content)))
            return Respond(200, body, headers)
        if request.method == "PUT":
            if request.headers.get("If-Match") != md5_etag(stored.content):
                return Respond(412)
            return Forward(strip=("If-Match",))
        return None

    return fault


def test_a_vcard4_card_is_patched_as_stored_not_as_converted(dav: DavServer, counting_proxy: ProxyFactory) -> None:
    _, ab_url = dav.make_addressbook()
    href = ab_url + "v4-1.vcf"
    dav.put(href, CARD4)
    served = dav.get(href).text
    proxy = counting_proxy(dav.url, as_sabre(dav))
    with DavClient(username=dav.username, password=dav.password, deadline=5) as client:
        result = write_xsyncd(client, proxy.to_proxy(href), lambda _v: {"X-SYNCD-CIRCLE": "3"})
    assert result is not None
    after = dav.get(href).text
    assert "VERSION:4.0" in after and "GENDER:F" in after and "\nKIND:individual" in after
    assert non_xsyncd(after) == non_xsyncd(served), "every other line as stored"
    assert "X-SYNCD-CIRCLE:3" in after


def test_a_vcard3_card_is_read_once(dav: DavServer, counting_proxy: ProxyFactory) -> None:
    _, ab_url = dav.make_addressbook()
    href = ab_url + "v3-1.vcf"
    dav.put(href, contact_card("v3-1", "Charles Babbage", "2", None))
    proxy = counting_proxy(dav.url, as_sabre(dav))
    with DavClient(username=dav.username, password=dav.password, deadline=5) as client:
        write_xsyncd(client, proxy.to_proxy(href), lambda _v: {"X-SYNCD-CIRCLE": "1"})
    assert proxy.counts() == {"GET": 1, "PUT": 1}
    assert "X-SYNCD-CIRCLE:1" in dav.get(href).text


@pytest.mark.parametrize("fn_lines", [1, 2])
def test_a_patched_card_keeps_exactly_its_fn_lines(dav: DavServer, fn_lines: int) -> None:
    """SabreDAV refuses a card without FN or with two (415): syncd neither adds nor drops one."""
    _, ab_url = dav.make_addressbook()
    href = ab_url + "fn-1.vcf"
    card = contact_card("fn-1", "Grace Hopper", None, None)
    if fn_lines == 2:
        card = card.replace("END:VCARD", "FN:Amazing Grace\r\nEND:VCARD")
    dav.put(href, card)
    before = dav.get(href).text
    with DavClient(username=dav.username, password=dav.password, deadline=5) as client:
        write_xsyncd(client, href, lambda _v: {"X-SYNCD-CIRCLE": "2", "X-SYNCD-LAST-CONTACT": "2026-11-21"})
        write_xsyncd(client, href, lambda _v: {"X-SYNCD-CIRCLE": None})
    after = dav.get(href).text
    fn = re.compile(r"^FN[:;]", re.MULTILINE | re.IGNORECASE)
    assert len(fn.findall(after)) == len(fn.findall(before)) == fn_lines
