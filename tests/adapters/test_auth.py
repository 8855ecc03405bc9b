"""Authentication against a real Digest-only server (SabreDAV, as Baïkal is by default), seen at a proxy in front of
it: `auth = "auto"` sends Basic, answers the Digest challenge the first 401 brings, and stays with Digest; `"digest"`
never sends Basic (the password never crosses the wire); every kind of request syncd sends (a conditional PUT, a
stale one that must stay a 412, a streamed multiget REPORT, a DELETE) works when it is the one that meets the
challenge, which makes the client send it, body and conditions, a second time."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from syncd.core.account import Collection
from syncd.dav.carddav import list_etags, multiget
from syncd.dav.client import DavClient
from syncd.errors import AuthError, PreconditionFailed
from tests.factories import contact_card
from tests.proxy import CountingProxy, ProxyFactory
from tests.servers import VCARD, DavServer


def schemes(proxy: CountingProxy) -> list[tuple[str, str, int]]:
    """(method, the scheme of its Authorization header or "", status) of each request the proxy saw."""
    out = []
    for record in proxy.snapshot():
        given = next((v for k, v in record.headers.items() if k.lower() == "authorization"), "")
        out.append((record.method, given.split(" ", 1)[0].lower(), record.status))
    return out


def via(proxy: CountingProxy, url: str) -> str:
    """`url` of the server, reached through `proxy`."""
    return proxy.url.rstrip("/") + urlsplit(url).path


def test_auto_answers_the_digest_challenge_and_keeps_to_digest(
    sabredav: DavServer, counting_proxy: ProxyFactory
) -> None:
    _, ab_url = sabredav.make_addressbook()
    proxy = counting_proxy(sabredav.url)
    book = Collection(url=via(proxy, ab_url), name="b", kind="addressbook")
    href = via(proxy, ab_url + "auto-1.vcf")
    card = contact_card("auto-1", "Ada Auto", "1", None)
    with DavClient(username=sabredav.username, password=sabredav.password, auth="auto", retries=0) as client:
        assert list_etags(client, book) == {}
        # Basic is refused with a Digest challenge; the same PROPFIND goes again, answered with Digest.
        assert schemes(proxy)[0] == ("PROPFIND", "basic", 401)
        assert schemes(proxy)[-1] == ("PROPFIND", "digest", 207)
        etag = client.put(href, card, "text/vcard", create=True)
        assert etag, "SabreDAV 1.8 answers a PUT it stored verbatim with the new ETag"
        client.put(href, card.replace("Ada Auto", "Ada Later"), "text/vcard", etag=etag)
        with pytest.raises(PreconditionFailed):
            client.put(href, card, "text/vcard", etag='"stale"')
        [fetched] = multiget(client, book, [href])
        assert "Ada Later" in fetched.text
        client.delete(href, fetched.etag)
    seen = schemes(proxy)
    assert [s for s in seen if s[1] == "basic"] == [("PROPFIND", "basic", 401)], "Basic is tried once only"
    first_digest = next(i for i, s in enumerate(seen) if s[1] == "digest")
    assert all(s[1] == "digest" and s[2] != 401 for s in seen[first_digest:]), seen
    assert [s[0] for s in seen[first_digest + 1 :]] == ["PUT", "PUT", "PUT", "REPORT", "DELETE"]
    assert sabredav.http("GET", ab_url + "auto-1.vcf").status_code == 404


# A first request of a client: (client, server, the card's URL on the server, the same through the proxy).
FIRST_REQUESTS: dict[str, Callable[[DavClient, DavServer, str, str], None]] = {}


def first(name: str) -> Callable[[Callable[[DavClient, DavServer, str, str], None]], Callable[..., None]]:
    def register(fn: Callable[[DavClient, DavServer, str, str], None]) -> Callable[..., None]:
        FIRST_REQUESTS[name] = fn
        return fn

    return register


@first("PUT If-None-Match")
def _create(client: DavClient, dav: DavServer, href: str, through: str) -> None:
    dav.http("DELETE", href)
    client.put(through, contact_card("first-1", "Fay Fresh", "2", None), "text/vcard", create=True)
    assert "Fay Fresh" in dav.get(href).text


@first("PUT If-Match")
def _update(client: DavClient, dav: DavServer, href: str, through: str) -> None:
    etag = dav.get(href).headers["ETag"]
    client.put(through, contact_card("first-1", "Fay Updated", "2", None), "text/vcard", etag=etag)
    assert "Fay Updated" in dav.get(href).text


@first("PUT with a stale If-Match")
def _stale(client: DavClient, dav: DavServer, href: str, through: str) -> None:
    before = dav.get(href).text
    with pytest.raises(PreconditionFailed):
        client.put(through, contact_card("first-1", "Fay Stale", "2", None), "text/vcard", etag='"stale"')
    assert dav.get(href).text == before


@first("streamed REPORT")
def _multiget(client: DavClient, dav: DavServer, href: str, through: str) -> None:
    book = Collection(url=through.rsplit("/", 1)[0] + "/", name="b", kind="addressbook")
    [card] = multiget(client, book, [through])
    assert card.text == dav.get(href).text and card.etag


@first("DELETE If-Match")
def _delete(client: DavClient, dav: DavServer, href: str, through: str) -> None:
    client.delete(through, dav.get(href).headers["ETag"])
    assert dav.http("GET", href).status_code == 404


@pytest.mark.parametrize("request_name", list(FIRST_REQUESTS))
def test_digest_answers_the_challenge_of_any_first_request(
    sabredav: DavServer, counting_proxy: ProxyFactory, request_name: str
) -> None:
    _, ab_url = sabredav.make_addressbook()
    href = ab_url + "first-1.vcf"
    sabredav.put(href, contact_card("first-1", "Fay First", "2", None), VCARD)
    proxy = counting_proxy(sabredav.url)
    with DavClient(username=sabredav.username, password=sabredav.password, auth="digest", retries=0) as client:
        FIRST_REQUESTS[request_name](client, sabredav, href, via(proxy, href))
    seen = schemes(proxy)
    method = seen[0][0]
    # No credentials at first (Digest needs the server's nonce), then the same request with Digest: no Basic ever.
    assert seen[:2] == [(method, "", 401), (method, "digest", seen[1][2])], seen
    assert seen[1][2] != 401 and len(seen) == 2


@pytest.mark.parametrize("auth", ["auto", "digest"])
def test_a_wrong_password_under_digest_is_an_auth_error(sabredav: DavServer, auth: str) -> None:
    client = DavClient(username=sabredav.username, password="wrong-Secret-123", auth=auth, retries=0)
    with client, pytest.raises(AuthError) as refused:
        client.propfind(sabredav.addressbook_home, ["d:resourcetype"])
    assert "check server.username and the password" in str(refused.value)
    assert "wrong-Secret-123" not in str(refused.value)


def test_basic_against_a_digest_only_server_names_server_auth(sabredav: DavServer) -> None:
    with DavClient(username=sabredav.username, password=sabredav.password, auth="basic", retries=0) as client:
        with pytest.raises(AuthError) as refused:
            client.propfind(sabredav.addressbook_home, ["d:resourcetype"])
        assert client.counts["PROPFIND"] == 1
    assert "asks for Digest" in str(refused.value) and 'server.auth = "auto"' in str(refused.value)


def test_digest_against_a_basic_only_server_names_server_auth(radicale: DavServer) -> None:
    client = DavClient(username=radicale.username, password=radicale.password, auth="digest", retries=0)
    with client, pytest.raises(AuthError) as refused:
        client.propfind(radicale.addressbook_home, ["d:resourcetype"])
    assert "asks for Basic" in str(refused.value) and 'server.auth = "auto"' in str(refused.value)


def test_auto_against_a_basic_server_sends_basic_only(radicale: DavServer, counting_proxy: ProxyFactory) -> None:
    proxy = counting_proxy(radicale.url)
    home = via(proxy, radicale.addressbook_home)
    with DavClient(username=radicale.username, password=radicale.password, retries=0) as client:
        client.propfind(home, ["d:resourcetype"])
    client = DavClient(username=radicale.username, password="wrong-Secret-123", retries=0)
    with client, pytest.raises(AuthError):  # no Digest challenge: a refused Basic stays refused, sent once
        client.propfind(home, ["d:resourcetype"])
    assert [s[1:] for s in schemes(proxy)] == [("basic", 207), ("basic", 401)]


@pytest.mark.parametrize("auth", ["auto", "digest"])
def test_digest_is_never_answered_to_another_site(sabredav: DavServer, counting_proxy: ProxyFactory, auth: str) -> None:
    """The account's server is one origin; the same Digest server seen as another origin (another port of
    127.0.0.1: another site) challenges too, and gets no Authorization at all, not even a Digest answer."""
    _, ab_url = sabredav.make_addressbook()
    own, other = counting_proxy(sabredav.url), counting_proxy(sabredav.url)
    book = Collection(url=via(own, ab_url), name="b", kind="addressbook")
    with DavClient(
        username=sabredav.username, password=sabredav.password, auth=auth, retries=0, servers=(own.url,)
    ) as client:
        assert list_etags(client, book) == {}  # Digest answered at the account's own server
        assert schemes(own)[-1] == ("PROPFIND", "digest", 207)
        with pytest.raises(AuthError, match="another site than the configured server") as caught:
            client.propfind(via(other, ab_url), ["d:displayname"], depth=0)
    assert f"{other.origin} asks for credentials (HTTP 401)" in str(caught.value)
    assert schemes(other) == [("PROPFIND", "", 401)]
