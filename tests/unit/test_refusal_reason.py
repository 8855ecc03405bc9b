"""The reason a server gives for refusing a write, as syncd shows it: the DAV:error conditions, a page title
or the first line of a text, always one short printable line with the status."""

from __future__ import annotations

import pytest

from syncd.dav.client import explain

XML = "application/xml; charset=utf-8"


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (  # Cyrus, a card it does not take
            XML,
            b'<?xml version="1.0"?><D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
            b"<C:valid-address-data/></D:error>",
            "valid-address-data (HTTP 403)",
        ),
        (  # Cyrus, a UID already used in another calendar of the account
            "text/xml",
            b'<D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            b"<C:unique-scheduling-object-resource/></D:error>",
            "unique-scheduling-object-resource (HTTP 403)",
        ),
        (  # a condition with the conflicting resource in it (RFC 4791 no-uid-conflict)
            XML,
            b'<D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
            b"<C:no-uid-conflict><D:href>/cal/a.ics</D:href></C:no-uid-conflict></D:error>",
            "no-uid-conflict: /cal/a.ics (HTTP 403)",
        ),
        (  # SabreDAV: its message, not its version or exception class
            XML,
            b'<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns"><s:sabredav-version>4.6</s:sabredav-version>'
            b"<s:exception>Sabre\\DAV\\Exception\\Forbidden</s:exception>"
            b"<s:message>Permission denied to write this card</s:message></d:error>",
            "Permission denied to write this card (HTTP 403)",
        ),
        (  # Radicale: a text
            "text/plain",
            b"\n  Access to the requested resource forbidden.\nmore\n",
            "Access to the requested resource forbidden. (HTTP 403)",
        ),
        (
            "text/html",
            b"<html><head><title>Not allowed</title></head><body>nginx</body></html>",
            "Not allowed (HTTP 403)",
        ),
        ("", b"", "HTTP 403 Forbidden"),
        ("application/octet-stream", b"\x00\x01binary", "HTTP 403 Forbidden"),
        (XML, b"<D:error xmlns:D='DAV:'><unclosed>", "HTTP 403 Forbidden"),
        (
            XML,
            b"<D:multistatus xmlns:D='DAV:'><D:response><D:href>/a</D:href></D:response></D:multistatus>",
            "HTTP 403 Forbidden",
        ),
        (  # entity declarations are never expanded (the same safe parser as for multistatus answers)
            XML,
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "boom">]><D:error xmlns:D="DAV:">&x;</D:error>',
            "HTTP 403 Forbidden",
        ),
    ],
)
def test_the_reason_from_the_body(content_type: str, body: bytes, expected: str) -> None:
    assert explain(403, "Forbidden", content_type, body) == expected


def test_the_reason_is_one_short_printable_line() -> None:
    hostile = b"\x1b[2J\x1b]0;owned\x07Refused\tbecause\rof \x9b31m this" + b" and that" * 100
    found = explain(400, "Bad Request", "text/plain; charset=latin-1", hostile)
    assert found.endswith("(HTTP 400)") and len(found) <= 200 + len(" (HTTP 400)")
    assert found.isprintable() and "\x1b" not in found and "\x07" not in found
    assert "Refused because" in found
