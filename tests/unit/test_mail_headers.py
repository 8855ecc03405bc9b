"""The header fields of one message, read as contact (syncd.core.mail): dates, addresses, and what is skipped."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

import pytest

from syncd.core import mail
from syncd.core.contacts import Contact

NOW = datetime(2027, 3, 2, 9, tzinfo=UTC)


def parse(*lines: str | bytes) -> mail.Message | str:
    raw = b"".join((line if isinstance(line, bytes) else line.encode()) + b"\r\n" for line in lines)
    return mail.parse(raw + b"\r\n", NOW)


def test_a_plain_message() -> None:
    found = parse("Date: Mon, 1 Mar 2027 11:00:00 +0100", "To: Alice <Alice@Example.ORG>, bob@example.org")
    assert found == mail.Message(
        datetime(2027, 3, 1, 10, tzinfo=UTC), frozenset({"alice@example.org", "bob@example.org"}), frozenset()
    )


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 1 Mar 2027 11:00:00 +0100",
        "1 Mar 2027 11:00 -0230",
        "Mon,  1 Mar 2027 11:00:00 +0000",
        "Mon, 01 Mar 2027 23:59:59 -1200",
        "Mon, 1 Mar 2027 11:00:00 GMT",
        "Mon, 1 Mar 2027 11:00:00 +0100 (CET)",
        "Mon, 1 Mar 2027 11:00:00 -0000",
        "1 Mar 27 11:00:00 EST",
    ],
)
def test_dates_as_the_standard_library_reads_them(value: str) -> None:
    expected = email.utils.parsedate_to_datetime(value)
    expected = (expected if expected.tzinfo else expected.replace(tzinfo=UTC)).astimezone(UTC)
    found = parse(f"Date: {value}", "To: a@example.org")
    assert isinstance(found, mail.Message)
    assert found.at == expected


def test_what_is_skipped() -> None:
    assert parse("To: a@example.org") == "no-date"
    assert parse("Date:", "To: a@example.org") == "no-date"
    assert parse("Date: the day after tomorrow", "To: a@example.org") == "bad-date"
    assert parse("Date: Mon, 31 Feb 2027 10:00:00 +0000", "To: a@example.org") == "bad-date"
    assert parse("Date: Mon, 1 Mar 2027 10:00:00 +0000", "To: ,,<<< @@ >", "Cc: =?bad?x?zz?=") == "no-address"
    assert parse("Date: Mon, 1 Mar 2027 10:00:00 +0000", "Subject: nobody") == "no-address"
    assert set(mail.SKIPS) == {"no-date", "bad-date", "no-address"}


def test_a_date_in_the_future_counts_at_its_arrival() -> None:
    found = parse("Date: Sat, 1 Jan 2033 10:00:00 +0000", "Bcc: dave@example.org")
    assert isinstance(found, mail.Message) and found.at > NOW  # the adapter asks for its INTERNALDATE
    arrival = mail.internaldate(" 1-Mar-2027 12:00:00 +0100")
    assert arrival == datetime(2027, 3, 1, 11, tzinfo=UTC)
    assert mail.arrived(found, arrival, NOW).at == arrival
    assert mail.arrived(found, None, NOW).at == NOW
    assert mail.arrived(found, datetime(2030, 1, 1, tzinfo=UTC), NOW).at == NOW
    assert mail.internaldate("yesterday") is None


def test_encoded_folded_and_odd_address_fields() -> None:
    found = parse(
        "Date: Mon, 1 Mar 2027 10:00:00 +0000",
        "To: =?utf-8?q?B=C3=B6b_Brown?= <BOB@example.org>,",
        '\t"Müller, Carl" <carl@example.org>',
        "Cc: undisclosed-recipients:;",
        "Bcc: (a comment) dora@example.org, not an address",
        b"From: \xe9ve <eve@example.org>",
    )
    assert isinstance(found, mail.Message)
    assert found.recipients == {"bob@example.org", "carl@example.org", "dora@example.org"}
    assert found.senders == {"eve@example.org"}


def test_last_messages_by_contact() -> None:
    alice = Contact(uid="a", href="/a.vcf", etag="", name="Alice", emails=["Alice@Example.org"])
    bob = Contact(uid="b", href="/b.vcf", etag="", name="Bob", emails=["bob@example.org", "b2@example.org"])
    early, late = datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)
    sent = {"alice@example.org": early, "b2@example.org": early}
    received = {"bob@example.org": late}
    assert mail.last_messages(sent, {}, {"a": alice, "b": bob}) == {"a": early, "b": early}
    assert mail.last_messages(sent, received, {"a": alice, "b": bob}) == {"a": early, "b": late}
