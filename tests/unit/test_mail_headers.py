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


HEADERS = [
    b"Date: Mon, 1 Mar 2027 11:00:00 +0100\r\nTo: Alice <Alice@Example.ORG>, bob@example.org\r\n\r\n",
    b"To: carl@example.org\r\nDate: 1 Mar 2027 11:00:00 -0230\r\nCC: Dora <dora@example.org>\r\n\r\n",
    b"From: Eve <eve@example.org>\r\nDate: Mon, 01 Mar 2027 23:59:59 -1200\r\nBcc: fred@example.org\r\n\r\n",
    b"date:Mon,1 Mar 2027 10:00:60 +0000  \r\nto: gus@example.org\r\ncc: hal@example.org\r\n\r\n",
    b"Date: Mon, 1 Mar 2027 24:00:00 +0000\r\nTo: a@example.org\r\n\r\n",
    b"Date: Mon, 1 Mar 2027 10:60:00 +0000\r\nTo: a@example.org\r\n\r\n",
    b"Date: Mon, 31 Feb 2027 10:00:00 +0000\r\nTo: a@example.org\r\n\r\n",
    b"Date: Mon, 1 Foo 2027 10:00:00 +0000\r\nTo: a@example.org\r\n\r\n",
    b"Date: Mon, 1 Mar 2027 10:00:00 +0000\r\nDate: Tue, 2 Mar 2027 10:00:00 +0000\r\nTo: a@example.org\r\n\r\n",
    b"Date: Mon, 1 Mar 2027 10:00:00 +0000\r\n\r\n",
    b"Date: Mon, 1 Mar 2027 10:00:00 +0000\r\nTo: ,,<<< @@ >\r\nCc: =?bad?x?zz?=\r\n\r\n",
    b"Date: Mon, 1 Mar 2027 10:00:00 +0000\r\nTo: =?utf-8?q?B=C3=B6b?= <BOB@example.org>,\r\n\tc@example.org\r\n\r\n",
    b'Date: Mon, 1 Mar 2027 10:00:00 +0000\r\nTo: "M\xc3\xbcller, Carl" <carl@example.org>\r\n\r\n',
    b"Date: Mon, 1 Mar 2027 10:00:00 +0000\r\nTo: undisclosed-recipients:;\r\nBcc: (x) dora@example.org\r\n\r\n",
    b"Date: Mon, 1 Mar 2027 10:00:00 GMT\r\nTo: a@example.org\r\n\r\n",
    b"Date: Mon, 1 Mar 2027 10:00 +0000\r\nTo: a@example.org\r\n\r\n",
    b"Date: Mon, 1 Mar 2027 10:00:00 +0000\nTo: a@example.org\n\n",
    b"Date: Sat, 1 Jan 2033 10:00:00 +0000\r\nTo: later@example.org\r\n\r\n",
    b"To: a@example.org\r\n\r\n",
    b"\r\n",
]


def _tally_by_parse(headers: list[bytes]) -> mail.Tally:
    """What the headers say, each read by `parse` (the full reader), into a tally."""
    tally = mail.Tally(NOW)
    for key, header in enumerate(headers):
        found = mail.parse(header, NOW)
        if isinstance(found, str):
            tally.skipped[found] += 1
        elif found.at > NOW:
            tally.ahead[key] = found
        else:
            tally.counted += 1
            for seen, addresses in ((tally.sent, found.recipients), (tally.received, found.senders)):
                for address in addresses:
                    seen[address] = max(seen.get(address, 0), int(found.at.timestamp()))
    return tally


@pytest.mark.parametrize("header", HEADERS)
def test_a_tally_reads_each_message_as_parse_does(header: bytes) -> None:
    tally = mail.Tally(NOW)
    tally.add_all([(0, header)])
    expected = _tally_by_parse([header])
    assert (tally.sent, tally.received, tally.skipped, tally.counted) == (
        expected.sent,
        expected.received,
        expected.skipped,
        expected.counted,
    )
    assert tally.ahead == expected.ahead


def test_a_folder_of_common_messages_is_read_by_one_match_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """The full reader reads each distinct address field once, not each message (the first scan of a Sent
    folder of tens of thousands of messages)."""
    read = mail._read
    calls: list[bytes] = []

    def counted(header: bytes) -> tuple[int | str, frozenset[str], frozenset[str]]:
        calls.append(header)
        return read(header)

    monkeypatch.setattr(mail, "_read", counted)
    mail._field.cache_clear()
    cc = ["Cc: q@example.org\r\n", "", ""]
    headers = [
        (
            f"Date: Mon, {1 + i % 28} Feb 2027 {i % 24:02d}:{i % 60:02d}:07 +0100\r\n"
            f"To: P{i % 10} <p{i % 10}@example.org>\r\n{cc[i % 3]}\r\n"
        ).encode()
        for i in range(1000)
    ]
    tally = mail.Tally(NOW)
    tally.add_all(enumerate(headers))
    assert len(calls) <= 11
    expected = _tally_by_parse(headers)
    assert (tally.sent, tally.counted, tally.skipped) == (expected.sent, expected.counted, expected.skipped)
    assert tally.counted == 1000 and len(tally.sent) == 11
