"""The test proxy itself (tests/proxy.py), against the real servers and a tiny stub upstream."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import requests

from tests.factories import vcard
from tests.proxy import (
    CountingProxy,
    ProxyFactory,
    Request,
    Reset,
    Respond,
    Stall,
    Truncate,
    before,
    chain,
    unique_uids,
    when,
)
from tests.servers import ICAL, VCARD, DavServer

XML = {"Content-Type": "application/xml"}
PROPFIND_ETAGS = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'


def through(dav: DavServer, proxy: CountingProxy) -> DavServer:
    """The same server, every URL pointing at the proxy."""
    return dataclasses.replace(
        dav,
        url=proxy.to_proxy(dav.url),
        addressbook_home=proxy.to_proxy(dav.addressbook_home),
        calendar_home=proxy.to_proxy(dav.calendar_home),
    )


def test_propfind_through_the_proxy(dav: DavServer, counting_proxy: ProxyFactory) -> None:
    _, ab_url = dav.make_addressbook()
    proxy = counting_proxy(dav.url)
    assert proxy.url.startswith("http://127.0.0.1:") and proxy.url != dav.url
    r = dav.http("PROPFIND", proxy.to_proxy(ab_url), PROPFIND_ETAGS, Depth="0", **XML)
    assert r.status_code == 207, r.text
    assert "getetag" in r.text
    [record] = proxy.snapshot()
    method, path, status, headers = record
    assert (method, status) == ("PROPFIND", 207)
    assert path == "/" + ab_url.split("/", 3)[3]
    assert headers["Depth"] == "0"
    assert proxy.methods() == ["PROPFIND"]
    assert proxy.writes() == []


def test_counts_and_writes(dav: DavServer, counting_proxy: ProxyFactory) -> None:
    proxy = counting_proxy(dav.url)
    proxied = through(dav, proxy)
    _, ab_url = proxied.make_addressbook()  # MKCOL with an XML body
    name = f"{uuid.uuid4().hex}.vcf"
    etag = proxied.put(ab_url + name, vcard("u1", "Ada Lovelace", n=None)).headers["ETag"]
    assert "Ada Lovelace" in proxied.get(ab_url + name).text
    assert proxied.list_hrefs(ab_url) == [ab_url + name]
    # The upstream really holds what went through the proxy (checked directly, not through the proxy).
    upstream_ab = dav.url.rstrip("/") + ab_url.removeprefix(proxy.origin)
    assert "Ada Lovelace" in dav.get(upstream_ab + name).text
    # A conditional write with a stale ETag reaches the server and its 412 comes back.
    stale = proxied.http("PUT", ab_url + name, vcard("u1", "Ada", n=None), **{"Content-Type": VCARD, "If-Match": '"x"'})
    assert stale.status_code == 412
    assert proxied.http("DELETE", ab_url + name, **{"If-Match": etag}).status_code in (200, 204)
    assert dav.list_hrefs(upstream_ab) == []

    assert proxy.methods() == ["MKCOL", "PUT", "GET", "PROPFIND", "PUT", "DELETE"]
    assert [(w.method, w.status) for w in proxy.writes()][:3] == [("MKCOL", 201), ("PUT", 201), ("PUT", 412)]
    assert [w.method for w in proxy.writes()] == ["MKCOL", "PUT", "PUT", "DELETE"]
    assert proxy.counts()["PUT"] == 2
    proxy.reset()
    assert proxy.snapshot() == [] and proxy.methods() == [] and proxy.writes() == []
    assert proxied.http("GET", ab_url + "gone.vcf").status_code == 404
    assert proxy.methods() == ["GET"]


def test_chunked_request_body_is_forwarded(dav: DavServer, counting_proxy: ProxyFactory) -> None:
    proxy = counting_proxy(dav.url)
    _, ab_url = dav.make_addressbook()
    href = proxy.to_proxy(ab_url) + "chunked.vcf"
    text = vcard("chunked-1", "Grace Hopper", n=None).encode()
    parts = iter([text[:20], text[20:]])  # a generator body is sent with Transfer-Encoding: chunked
    r = requests.put(href, data=parts, headers={"Content-Type": VCARD}, auth=dav.auth, timeout=30)
    assert r.status_code == 201
    assert proxy.snapshot()[0].headers.get("Transfer-Encoding") == "chunked"
    assert "Grace Hopper" in dav.get(ab_url + "chunked.vcf").text


def test_relative_redirects_pass_through(dav: DavServer, counting_proxy: ProxyFactory) -> None:
    proxy = counting_proxy(dav.url)
    r = dav.http("PROPFIND", proxy.origin + "/.well-known/carddav", Depth="0")
    assert r.history and r.history[0].status_code in (301, 302)
    assert r.history[0].headers["Location"] == "/"
    assert r.url.startswith(proxy.origin)
    assert proxy.snapshot()[0].status in (301, 302)


def test_status_fault(dav: DavServer, counting_proxy: ProxyFactory) -> None:
    proxy = counting_proxy(dav.url, when(Respond(503, b"down for maintenance"), method="PROPFIND", times=1))
    _, ab_url = dav.make_addressbook()
    url = proxy.to_proxy(ab_url)
    first = dav.http("PROPFIND", url, PROPFIND_ETAGS, Depth="0", **XML)
    assert (first.status_code, first.text) == (503, "down for maintenance")
    second = dav.http("PROPFIND", url, PROPFIND_ETAGS, Depth="0", **XML)
    assert second.status_code == 207
    assert [(r.method, r.status) for r in proxy.snapshot()] == [("PROPFIND", 503), ("PROPFIND", 207)]


def test_fault_matching_skip_and_path(dav: DavServer, counting_proxy: ProxyFactory) -> None:
    fault = chain(
        when(Respond(500), method=["PUT", "DELETE"], path=".vcf", skip=1, times=1),
        when(lambda request: Respond(507) if request.index == 0 else None),
    )
    proxy = counting_proxy(dav.url, fault)
    _, ab_url = dav.make_addressbook()
    base = proxy.to_proxy(ab_url)
    assert dav.http("GET", base).status_code == 507  # index 0
    statuses = [
        dav.http("PUT", base + f"{i}.vcf", vcard(f"p{i}", "P", n=None), **{"Content-Type": VCARD}).status_code
        for i in range(3)
    ]
    assert statuses == [201, 500, 201]


def test_hook_runs_before_forwarding(dav: DavServer, counting_proxy: ProxyFactory) -> None:
    """The hook can change the server between a client's read and its write: a lost race shows as 412."""
    _, ab_url = dav.make_addressbook()
    href = ab_url + "race.vcf"
    etag = dav.put(href, vcard("race", "Before", n=None)).headers["ETag"]
    seen: list[Request] = []

    def edit_elsewhere(request: Request) -> None:
        seen.append(request)
        dav.put(href, vcard("race", "Edited on the phone", n=None))  # directly on the upstream, not via the proxy

    proxy = counting_proxy(dav.url, before(edit_elsewhere, method="PUT", times=1))
    r = dav.http(
        "PUT", proxy.to_proxy(href), vcard("race", "Mine", n=None), **{"Content-Type": VCARD, "If-Match": etag}
    )
    assert r.status_code == 412
    assert [request.method for request in seen] == ["PUT"]
    assert b"Mine" in seen[0].body
    assert "Edited on the phone" in dav.get(href).text
    assert proxy.writes()[0].status == 412


def test_reset_truncate_and_stall(dav: DavServer, counting_proxy: ProxyFactory) -> None:
    proxy = counting_proxy(
        dav.url,
        chain(
            when(Reset(), path="/reset"),
            when(Truncate(5), method="PROPFIND"),
            when(Stall(30.0), path="/stall"),
            when(Stall(0.01, then=Respond(418)), path="/short-stall"),
        ),
    )
    with pytest.raises(requests.ConnectionError):
        requests.get(proxy.origin + "/reset", timeout=10)
    with pytest.raises((requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        dav.http("PROPFIND", proxy.to_proxy(dav.addressbook_home), PROPFIND_ETAGS, Depth="0", **XML)
    assert requests.get(proxy.origin + "/short-stall", timeout=10).status_code == 418
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.get(proxy.origin + "/stall", timeout=0.3)
    assert time.monotonic() - started < 5
    statuses = {record.path: record.status for record in proxy.snapshot()}
    assert statuses["/reset"] == 0 and statuses["/short-stall"] == 418
    started = time.monotonic()
    proxy.close()  # does not wait for the stall to end
    assert time.monotonic() - started < 5


# Location rewriting, checked against a stub upstream that answers with absolute URLs ------------------


class _Stub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    origin: ClassVar[str] = ""
    hosts: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_MOVE(self) -> None:
        self.hosts.append(self.headers["Host"])
        self.send_response(201)
        self.send_header("Location", self.origin + "/moved/here.vcf")
        self.send_header("Content-Location", "https://elsewhere.example/kept")
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def stub_upstream() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    _Stub.origin = f"http://127.0.0.1:{server.server_address[1]}"
    yield _Stub.origin + "/"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_location_is_rewritten_and_host_is_the_upstreams(
    stub_upstream: str,
    counting_proxy: ProxyFactory,
) -> None:
    proxy = counting_proxy(stub_upstream)
    _Stub.hosts.clear()
    r = requests.request("MOVE", proxy.origin + "/a.vcf", headers={"Destination": "/b.vcf"}, timeout=10)
    assert r.status_code == 201
    assert r.headers["Location"] == proxy.origin + "/moved/here.vcf"
    assert r.headers["Content-Location"] == "https://elsewhere.example/kept"
    assert _Stub.hosts == [stub_upstream.removeprefix("http://").rstrip("/")]
    assert proxy.snapshot()[0].headers["Host"] == proxy.origin.removeprefix("http://")
    assert [w.method for w in proxy.writes()] == ["MOVE"]


def test_upstream_down_is_a_502(counting_proxy: ProxyFactory) -> None:
    from syncd.app.localserver import free_port

    proxy = counting_proxy(f"http://127.0.0.1:{free_port()}/")
    assert requests.get(proxy.url, timeout=10).status_code == 502
    assert proxy.snapshot()[0].status == 502


def test_unique_uids_refuses_one_uid_in_two_calendars(dav: DavServer, counting_proxy: ProxyFactory) -> None:
    """The Cyrus rule as a fault: a UID stored in one calendar is refused in another (403 with the CalDAV
    precondition), allowed again in the same one, and free again once its object is deleted."""
    proxy = counting_proxy(dav.url, unique_uids())
    _, first = dav.make_calendar()
    _, second = dav.make_calendar()
    todo = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nBEGIN:VTODO\r\nUID:one-uid\r\n"
    todo += "DTSTAMP:20261122T090000Z\r\nSUMMARY:x\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    r = dav.http("PUT", proxy.to_proxy(first + "a.ics"), todo, **{"Content-Type": ICAL})
    assert r.status_code == 201
    r = dav.http("PUT", proxy.to_proxy(second + "b.ics"), todo, **{"Content-Type": ICAL})
    assert r.status_code == 403 and "unique-scheduling-object-resource" in r.text
    etag = dav.get(first + "a.ics").headers["ETag"]
    r = dav.http("PUT", proxy.to_proxy(first + "a.ics"), todo, **{"Content-Type": ICAL, "If-Match": etag})
    assert r.status_code in (200, 204)
    etag = dav.get(first + "a.ics").headers["ETag"]
    assert dav.http("DELETE", proxy.to_proxy(first + "a.ics"), **{"If-Match": etag}).status_code in (200, 204)
    r = dav.http("PUT", proxy.to_proxy(second + "b.ics"), todo, **{"Content-Type": ICAL})
    assert r.status_code == 201
