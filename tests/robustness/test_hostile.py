"""Hostile and broken input from the server, against real Radicale and Xandikos: malformed cards and tasks
(no UID, no END, bad dates, duplicate UIDs, not a vCard at all), an XML bomb and an external entity, answers
larger than the size limit, non-UTF-8 bytes, a huge card. Each gets one clear log line naming the resource;
nothing of it is rewritten; the cycle goes on with everything else.

Malformed items that the servers refuse to store are injected by the proxy into the server's own REPORT
answers, next to the real items.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import pytest

import syncd.dav.client
from syncd.app.cli import main
from tests.factories import vcard, vtodo
from tests.proxy import CountingProxy, Forward, Respond, when
from tests.servers import DavServer
from tests.world import (
    complete,
    make_book,
    non_xsyncd,
)

PEOPLE = [
    ("h-ada", "Ada Lovelace", "1", "2026-10-01T12:00:00Z"),
    ("h-bob", "Bob Brown", "2", None),
    ("h-cyd", "Cyd Charisse", "3", "2026-11-20T12:00:00Z"),
]

HOSTILE_CARDS = {
    "no-uid.vcf": "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Nobody Knows\r\nX-SYNCD-CIRCLE:1\r\nEND:VCARD\r\n",
    "no-end.vcf": "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:h-no-end\r\nFN:Truncated Upload\r\nX-SYNCD-CIRCLE:1\r\n",
    "bad-dates.vcf": (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:h-dates\r\nFN:Bad Dates\r\nBDAY:notadate\r\nX-SYNCD-CIRCLE:2\r\n"
        "X-SYNCD-LAST-CONTACT:yesterday\r\nX-SYNCD-SNOOZE:2026-13-45\r\nX-SYNCD-INTERVAL:fortnightly\r\nEND:VCARD\r\n"
    ),
    "garbage.vcf": "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:h-garbage\r\nFN:G\r\nthis line has no colon\r\nEND:VCARD\r\n",
    "event.vcf": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
}
CARD_REASONS = {
    "no-uid.vcf": "no UID",
    "no-end.vcf": "no END:VCARD",
    "bad-dates.vcf": "is not an ISO",
    "garbage.vcf": "line without a property name",
    "event.vcf": "no BEGIN:VCARD",
}


HOSTILE_TASKS = {
    "not-ical.ics": "this is not iCalendar at all\r\n",
    "no-uid.ics": vtodo("X-SYNCD-CONTACT:h-bob", "SUMMARY:Reach out to Bob"),
    "bad-due.ics": vtodo("UID:h-bad-due", "X-SYNCD-CONTACT:h-ada", "DUE;VALUE=DATE:notadate"),
    "bad-completed.ics": vtodo("UID:h-bad-done", "X-SYNCD-CONTACT:h-cyd", "STATUS:COMPLETED", "COMPLETED:soon"),
    "no-vtodo.ics": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
}
TASK_REASONS = {
    "not-ical.ics": "not valid iCalendar",
    "no-uid.ics": "no UID",
    "bad-due.ics": "not valid iCalendar",
    "bad-completed.ics": "not valid iCalendar",
    "no-vtodo.ics": "no VTODO",
}


def placeholder(name: str, kind: str) -> str:
    """A valid item the server stores; the proxy swaps it for the hostile text in every answer."""
    if kind == "card":
        return vcard(f"placeholder-{name}", "Placeholder", n=None)
    return vtodo(f"UID:placeholder-{name}", "SUMMARY:Placeholder")


def swapper(items: dict[str, str]) -> Callable[[bytes], bytes]:
    """A response-body edit replacing each stored placeholder (found by its UID, whatever the server did to
    its other lines) by the hostile text — XML-escaped inside a multistatus, as is in a GET."""

    def edit(body: bytes) -> bytes:
        xml = body.lstrip().startswith(b"<")
        for name, text in items.items():
            for begin, end in ((b"BEGIN:VCARD", b"END:VCARD"), (b"BEGIN:VCALENDAR", b"END:VCALENDAR")):
                pattern = re.compile(
                    re.escape(begin)
                    + rb"(?:(?!"
                    + re.escape(begin)
                    + rb").)*?UID:placeholder-"
                    + re.escape(name.encode())
                    + rb"\b.*?"
                    + re.escape(end)
                    + rb"(?:&#13;|\r)?\n?",
                    re.S,
                )
                data = (escape(text) if xml else text).encode()
                body = pattern.sub(lambda _m, data=data: data, body)  # type: ignore[misc]
        return body

    return edit


def test_malformed_cards_and_tasks_are_named_skipped_and_never_written(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = CountingProxy(dav.url).start()
    try:
        book = make_book(dav, tmp_path, PEOPLE, url=proxy.url)
        for name in HOSTILE_CARDS:
            dav.put(book.ab_url + name, placeholder(name, "card"))
        served = {uid: dav.get(href).text for uid, href in book.hrefs.items()}
        swap = swapper({**HOSTILE_CARDS, **HOSTILE_TASKS})
        proxy.fault = when(Forward(edit=swap), method=["REPORT", "GET"])
        capsys.readouterr()
        assert book.sync() == 0  # reads the cards, creates the task list
        err = capsys.readouterr().err
        for name in HOSTILE_TASKS:
            dav.put(book.list_url() + name, placeholder(name, "task"), "text/calendar; charset=utf-8")
        [ada] = [t for t in book.tasks() if t.contact == "h-ada"]
        assert complete(dav, ada, "20261122T101500Z")
        proxy.reset()
        assert book.sync("2026-11-22T12:00") == 0
        err += capsys.readouterr().err
        for name, reason in {**CARD_REASONS, **TASK_REASONS}.items():
            lines = [line for line in err.splitlines() if name in line]
            assert lines and any(reason in line for line in lines), (name, reason, err)
        hostile = set(HOSTILE_CARDS) | set(HOSTILE_TASKS)
        writes = [r for r in proxy.writes() if r.path.rsplit("/", 1)[-1] in hostile]
        assert writes == [], "nothing hostile is rewritten"
        # ... and the rest of the cycle happened: Ada's completion is recorded, nothing else in the cards moved.
        assert book.values("h-ada")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T10:15:00Z"
        for uid, text in served.items():
            assert non_xsyncd(book.card_text(uid)) == non_xsyncd(text)
    finally:
        proxy.close()


def test_duplicate_uids_one_card_is_skipped_and_never_written(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same UID in two address books (the servers refuse it within one)."""
    proxy = CountingProxy(dav.url).start()
    try:
        book = make_book(dav, tmp_path, PEOPLE, url=proxy.url)
        other_name, other_url = dav.make_addressbook()
        impostor = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:h-ada\r\nFN:Ada Impostor\r\nX-SYNCD-CIRCLE:1\r\nEND:VCARD\r\n"
        dav.put(other_url + "impostor.vcf", impostor)
        cfg = dav.config(
            tmp_path,
            server={"url": proxy.url},
            contacts={"addressbooks": [book.ab_name, other_name]},
            reminders={"task_list": book.list_name, "daily_limit": 3},
        )
        capsys.readouterr()
        assert main(["--config", str(cfg), "--now", "2026-11-22T09:00", "sync"]) == 0
        err = capsys.readouterr().err
        [line] = [line for line in err.splitlines() if "UID h-ada is also used by" in line]
        skipped = line.split("WARNING", 1)[-1].split()[0].rstrip(":")
        assert skipped.endswith(("impostor.vcf", "h-ada.vcf"))
        assert len([t for t in book.tasks() if t.contact == "h-ada"]) == 1
        assert not any(urlsplit(skipped).path == r.path for r in proxy.writes())
    finally:
        proxy.close()


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>/x/&lol9;.vcf</d:href><d:propstat><d:prop>
<d:getetag>&lol9;</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<d:multistatus xmlns:d="DAV:"><d:response><d:href>/x/&xxe;.vcf</d:href><d:propstat><d:prop>
<d:getetag>"1"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>
</d:multistatus>"""


@pytest.mark.parametrize("payload", [BOMB, XXE], ids=["billion-laughs", "external-entity"])
def test_xml_bombs_are_refused(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: bytes
) -> None:
    proxy = CountingProxy(dav.url).start()
    try:
        book = make_book(dav, tmp_path, PEOPLE, url=proxy.url)
        ab_path = urlsplit(book.ab_url).path
        proxy.fault = when(
            Respond(207, payload, (("Content-Type", "application/xml"),)),
            method=["PROPFIND", "REPORT"],
            path=lambda p: p == ab_path,
        )
        capsys.readouterr()
        assert book.sync() == 69
        err = capsys.readouterr().err
        [line] = [line for line in err.splitlines() if line.startswith("syncd:")]
        assert ab_path in line and "DOCTYPE" in line and "refused" in line
        assert "root:" not in err and "Traceback" not in err
        assert proxy.writes() == []
    finally:
        proxy.close()


def test_oversized_answers_are_bounded(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = CountingProxy(dav.url).start()
    try:
        book = make_book(dav, tmp_path, PEOPLE, url=proxy.url)
        photo = base64.b64encode(bytes(range(256)) * 1600).decode()  # ~550 KB
        folded = "\r\n ".join(photo[i : i + 74] for i in range(0, len(photo), 74))
        huge = (
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:h-huge\r\nFN:Huge Photo\r\nX-SYNCD-CIRCLE:1\r\n"
            f"PHOTO;ENCODING=b;TYPE=JPEG:{folded}\r\nEND:VCARD\r\n"
        )
        huge_href = book.ab_url + "huge.vcf"
        dav.put(huge_href, huge)
        before = dav.get(huge_href).text
        monkeypatch.setattr(syncd.dav.client, "MAX_RESPONSE_BYTES", 300_000)
        capsys.readouterr()
        assert book.sync() == 0
        err = capsys.readouterr().err
        assert any(
            proxy.to_proxy(huge_href) in line and "larger than the response size limit" in line
            for line in err.splitlines()
        ), err
        assert {t.contact for t in book.tasks()} == {"h-ada", "h-bob"}, "the others are synced"
        assert dav.get(huge_href).text == before and not any("huge" in r.path for r in proxy.writes())

        # A multi-gigabyte answer: only the limit is read, then the cycle stops with one line naming it.
        ab_path = urlsplit(book.ab_url).path
        endless = b"<d:multistatus>" + b" " * 5_000_000
        proxy.fault = when(Respond(207, endless), method=["PROPFIND", "REPORT"], path=lambda p: p == ab_path)
        assert book.sync("2026-11-22T10:00") == 69
        err = capsys.readouterr().err
        [line] = err.splitlines()
        assert "answer is too large (5000015 bytes)" in line and ab_path in line  # told by Content-Length
    finally:
        proxy.close()


def test_huge_card_survives_a_write(dav: DavServer, tmp_path: Path) -> None:
    book = make_book(dav, tmp_path, PEOPLE)
    photo = base64.b64encode(bytes(range(256)) * 4000).decode()  # ~1.4 MB
    folded = "\r\n ".join(photo[i : i + 74] for i in range(0, len(photo), 74))
    huge = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:h-huge\r\nFN:Huge Photo\r\nX-SYNCD-CIRCLE:1\r\n"
        f"PHOTO;ENCODING=b;TYPE=JPEG:{folded}\r\nEND:VCARD\r\n"
    )
    book.hrefs["h-huge"] = book.ab_url + "huge.vcf"
    dav.put(book.hrefs["h-huge"], huge)
    served = {uid: dav.http("GET", href).content for uid, href in book.hrefs.items()}
    assert book.sync() == 0
    found = {t.contact: t for t in book.tasks()}
    assert complete(dav, found["h-huge"], "20261122T101500Z")
    assert book.sync("2026-11-22T12:00") == 0
    strip = re.compile(rb"X-SYNCD-[^\r\n]*\r\n")
    for uid, original in served.items():
        now = dav.http("GET", book.hrefs[uid]).content
        assert strip.sub(b"", now) == strip.sub(b"", original), f"{uid}: bytes changed beyond X-SYNCD lines"
    assert book.values("h-huge")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T10:15:00Z"


def test_non_utf8_bytes_are_read_alone_and_never_written(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both servers refuse to store bytes that are not UTF-8, so the proxy turns one stored card's "é" into a
    Latin-1 byte in every answer: the multiget becomes unreadable XML, syncd narrows it down to that card,
    reads it with GET and goes on."""
    proxy = CountingProxy(dav.url).start()
    try:
        latin = [("h-latin", "René Müller", "1", None)]
        book = make_book(dav, tmp_path, PEOPLE + latin, url=proxy.url)
        utf8, latin1 = "René".encode(), "René".encode("latin-1")
        proxy.fault = when(Forward(edit=lambda body: body.replace(utf8, latin1)), method=["REPORT", "GET"])
        capsys.readouterr()
        assert book.sync() == 0
        err = capsys.readouterr().err
        href = proxy.to_proxy(book.hrefs["h-latin"])
        assert any(
            f"{href}: the server cannot multiget this" in line and "using GET" in line for line in err.splitlines()
        )
        assert "h-latin" in {t.contact for t in book.tasks()}, "the card was read"
        assert not any(r.path.endswith("h-latin.vcf") for r in proxy.writes())
    finally:
        proxy.close()


@pytest.fixture(autouse=True)
def _quick(fast_retries: None) -> None:
    """Every test here retries quickly."""
