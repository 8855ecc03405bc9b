"""Quirks of the big providers that cannot run here, put in front of a real server by the proxy: iCloud's
change feed that lists cards that did not change, its 403 for a card it dislikes, Google's PUT that ignores
If-Match."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import pytest

from syncd.app.cli import main
from syncd.engine.cycle import Cycle
from syncd.engine.world import Summary
from syncd.engine.writing import Writer
from tests.proxy import Action, Fault, Forward, ProxyFactory, Request, Respond, when
from tests.servers import DavServer
from tests.world import engine, make_book, people

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def cycle(cfg: Path, now: datetime = NOW) -> Summary:
    session = engine(cfg)
    try:
        return Cycle(session, Writer(session)).run(now)
    finally:
        session.close()


def unchanged_in_feed(dav: DavServer, ab_url: str, multigets: list[bytes]) -> Fault:
    """iCloud's change feed: a sync-collection asked with a token also lists cards that did not change (with
    their current ETags). Records the addressbook-multiget REPORTs sent to the address book."""
    book_path = urlsplit(ab_url).path

    def unchanged(body: bytes) -> bytes:
        extra = b""
        for href in dav.list_hrefs(ab_url):
            etag = dav.get(urljoin(ab_url, href)).headers["ETag"]
            extra += (
                f'<D:response xmlns:D="DAV:"><D:href>{urlsplit(href).path}</D:href><D:propstat><D:prop>'
                f"<D:getetag>{etag}</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
                "</D:response>"
            ).encode()
        end = body.rindex(b"</")
        return body[:end] + extra + body[end:]

    def fault(request: Request) -> Action | None:
        if request.method != "REPORT" or urlsplit(request.path).path != book_path:
            return None
        if b"addressbook-multiget" in request.body:
            multigets.append(request.body)
        if re.search(rb"<d:sync-token>[^<]", request.body):
            return Forward(edit=unchanged)
        return None

    return fault


def test_icloud_feed_listing_unchanged_cards_is_no_change(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, caplog: pytest.LogCaptureFixture
) -> None:
    proxy = counting_proxy(radicale.url)
    book = make_book(radicale, tmp_path, people(6), url=proxy.url)
    assert cycle(book.cfg).created > 0
    assert cycle(book.cfg).writes == 0, "the second cycle reads its own writes and writes nothing"
    multigets: list[bytes] = []
    proxy.fault = unchanged_in_feed(radicale, book.ab_url, multigets)
    proxy.reset()
    with caplog.at_level(logging.DEBUG, logger="syncd"):
        again = cycle(book.cfg)
    assert any("nothing changed since the last cycle" in r.getMessage() for r in caplog.records), (
        "cards listed with the ETags syncd holds are not changes: the cycle stays quiet"
    )
    assert proxy.counts() == {"REPORT": 2} and again.writes == 0
    assert multigets == []

    # A new day plans again, still without fetching the cards the feed lists unchanged, or writing them.
    proxy.reset()
    cycle(book.cfg, NOW + timedelta(days=1))
    assert multigets == [], "unchanged cards are not fetched again"
    assert not [r for r in proxy.snapshot() if r.path.endswith(".vcf")], "no card is read one by one or written"


def test_icloud_403_for_a_card_is_a_refusal_not_an_authentication_failure(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """iCloud answers a card it dislikes (no N, vCard 4.0, If-None-Match on an existing card) with a bare 403
    and an empty body; the credentials are fine, the card is refused."""
    proxy = counting_proxy(radicale.url, when(Respond(403, b""), method="PUT", path="/p-001.vcf"))
    book = make_book(radicale, tmp_path, people(3), url=proxy.url)
    code = main(["--config", str(book.cfg), "--now", "2026-11-22T09:00", "set", "p-001", "--circle", "3"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 69, last
    assert "refused" in last and "403" in last and "authentication" not in last.lower()
    assert [r.status for r in proxy.snapshot() if r.method == "PUT"] == [403], "a refusal is not sent again"
    assert book.values("p-001")["X-SYNCD-CIRCLE"] == "2", "the card is as it was"
