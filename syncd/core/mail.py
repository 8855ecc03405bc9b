"""Mail headers as contact: what one message's header fields say (pure; `syncd.imap` fetches them).

A message counts at its Date; a Date in the future counts as the message's arrival (the server's INTERNALDATE).
A message with no Date, or one that cannot be read as a date, is skipped (and counted); so is one whose address
fields hold no readable address. Encoded words (RFC 2047) are decoded before the addresses are read; an address
is compared lower-cased.
"""

from __future__ import annotations

import email.errors
import email.header
import email.utils
import functools
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from syncd.core.contacts import Contact

RECIPIENTS = ("DATE", "TO", "CC", "BCC")  # the header fields fetched, nothing else
WITH_SENDERS = ("DATE", "FROM", "TO", "CC", "BCC")  # with `count_received`

# why a message was skipped -> how the count of them reads
SKIPS = {
    "no-date": "without a Date",
    "bad-date": "with a Date that is not a date",
    "no-address": "without a readable address",
}


@dataclass(frozen=True, slots=True)
class Message:
    at: datetime  # aware UTC
    recipients: frozenset[str]  # lower-cased addresses in To, Cc and Bcc
    senders: frozenset[str]  # lower-cased addresses in From


def _decoded(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeError, email.errors.HeaderParseError):
        return value


_PLAIN = re.compile(r'^[^"()\\=?;:]*$')  # no quoted name, comment, encoded word or group: split on commas
_ANGLED = re.compile(r"<([^<>\s]*)>\s*$")


def _address(text: str) -> str | None:
    address = text.strip().strip("<>").lower()
    local, at, domain = address.rpartition("@")
    if at and local and domain and " " not in address and "<" not in address and ">" not in address:
        return address
    return None


def _addresses(value: str) -> frozenset[str]:
    found: set[str] = set()
    if value.isascii() and _PLAIN.match(value):  # the common case, without the full RFC 5322 parser
        for part in value.split(","):
            angled = _ANGLED.search(part)
            address = _address(angled.group(1) if angled else part)
            if address is not None:
                found.add(address)
        return frozenset(found)
    for _name, raw in email.utils.getaddresses([_decoded(value)]):
        address = _address(raw)
        if address is not None:
            found.add(address)
    return frozenset(found)


_MONTH = {
    m: i
    for i, m in enumerate(
        (b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"), 1
    )
}
# What mail clients write (RFC 5322 3.3): "Mon, 1 Mar 2027 10:00:00 +0100"; anything else takes the full parser.
_COMMON_DATE = re.compile(
    rb"^\s*(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d\d):(\d\d)(?::(\d\d))?\s+([+-])(\d\d)(\d\d)\s*$"
)


@functools.lru_cache(maxsize=4096)
def _day(year: int, month: bytes, day: int) -> int | None:
    """The start of a day (UTC) in seconds since the epoch; None for no such day."""
    number = _MONTH.get(month.lower())
    if number is None:
        return None
    try:
        return int(datetime(year, number, day, tzinfo=UTC).timestamp())
    except ValueError:
        return None


def _epoch(value: bytes) -> int | None:
    """A Date in seconds since the epoch: the common form by arithmetic, any other by the standard library."""
    common = _COMMON_DATE.match(value)
    if common is None:
        at = _date(_text(value))
        return None if at is None else int(at.timestamp())
    day, month, year, hour, minute, second, sign, zh, zm = common.groups()
    start = _day(int(year), month, int(day))
    h, m, sec = int(hour), int(minute), int(second or 0)
    if start is None or h > 23 or m > 59 or sec > 60:
        return None
    offset = int(zh) * 3600 + int(zm) * 60
    return start + h * 3600 + m * 60 + sec - (offset if sign == b"+" else -offset)


def _date(value: str) -> datetime | None:
    """Any Date the standard library reads (the common form is read by `_epoch` before)."""
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # RFC 5322 "-0000": the zone is unknown; read as UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def internaldate(text: str) -> datetime | None:
    """An IMAP INTERNALDATE ("01-Mar-2027 10:00:00 +0000", the day maybe space-padded)."""
    try:
        return datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None


_FOLD = re.compile(rb"\r?\n[ \t]+")
_WANTED = re.compile(
    rb"^(date|to|cc|bcc|from)[ \t]*:[ \t]*([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.IGNORECASE | re.MULTILINE
)
_NAMES = {b"date": 0, b"to": 1, b"cc": 1, b"bcc": 1, b"from": 2}  # 0 Date, 1 a recipient field, 2 From


def _text(value: bytes) -> str:
    """A header value as text: UTF-8, or Latin-1 where it is not (8-bit headers from old clients)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


@functools.lru_cache(maxsize=16384)  # a Sent folder writes to the same people again and again
def _addresses_of(value: bytes) -> frozenset[str]:
    return _addresses(_text(value).strip())


def _read(header: bytes) -> tuple[int | str, frozenset[str], frozenset[str]]:
    """(the Date in seconds since the epoch, or why the message is skipped; recipients; senders)."""
    date_value: bytes | None = None
    recipients: frozenset[str] = frozenset()
    senders: frozenset[str] = frozenset()
    for name, value in _WANTED.findall(header):
        if b"\n" in value:
            value = _FOLD.sub(b" ", value)
        kind = _NAMES.get(name) if name in _NAMES else _NAMES[name.lower()]
        if kind == 0:
            if date_value is None:
                date_value = value
        elif kind == 1:
            found = _addresses_of(value)
            recipients = recipients | found if recipients else found
        else:
            found = _addresses_of(value)
            senders = senders | found if senders else found
    if date_value is None or not date_value.strip():
        return "no-date", recipients, senders
    at = _epoch(date_value)
    if at is None:
        return "bad-date", recipients, senders
    if not recipients and not senders:
        return "no-address", recipients, senders
    return at, recipients, senders


def parse(header: bytes, now: datetime) -> Message | str:
    """One message's header fields -> the message, or why it is skipped (a key of `SKIPS`). A message whose
    Date is after `now` is returned with that Date: the caller puts its arrival in its place (`arrived`)."""
    at, recipients, senders = _read(header)
    if isinstance(at, str):
        return at
    return Message(datetime.fromtimestamp(at, UTC), recipients, senders)


_NONE: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
_NEVER = -1 << 62

# The fast path for what nearly every message is: one Date of the common form (day, month, year, hh:mm:ss, a
# numeric zone, single spaces) among address fields that each fit on one line, lines ending CRLF as IMAP sends
# them. One match reads a message; any other message is read by `_read`, which reads these the same way.
_FIELD = rb"(?:(?i:to|cc|bcc|from)[ \t]*:[^\r\n]*\r\n)*"
_FAST = re.compile(
    rb"(" + _FIELD + rb")(?i:date)[ \t]*:[ \t]*(?:[A-Za-z]{3},[ \t]*)?(\d{1,2} [A-Za-z]{3} \d{4}) "
    rb"([01]\d|2[0-3]):([0-5]\d):([0-5]\d|60) ([+-]\d{4})[ \t]*\r\n(" + _FIELD + rb")\r\n"
)
_DAY = re.compile(rb"(\d{1,2}) ([A-Za-z]{3}) (\d{4})")


@functools.lru_cache(maxsize=4096)
def _base(day: bytes, zone: bytes) -> int | None:
    """The start of a day ("1 Mar 2027") in a zone ("+0100"), in seconds since the epoch; None for no such day."""
    parts = _DAY.fullmatch(day)
    if parts is None:
        return None
    start = _day(int(parts.group(3)), parts.group(2), int(parts.group(1)))
    if start is None:
        return None
    offset = int(zone[1:3]) * 3600 + int(zone[3:5]) * 60
    return start - offset if zone[:1] == b"+" else start + offset


@functools.lru_cache(maxsize=16384)  # the same people again and again
def _field(line: bytes) -> tuple[frozenset[str], frozenset[str]]:
    """(recipients, senders) of one whole address field line (CRLF ended), as `_read` reads it."""
    _at, recipients, senders = _read(line + b"\r\n")
    return recipients, senders


def _fields(lines: bytes) -> tuple[frozenset[str], frozenset[str]]:
    """(recipients, senders) of address field lines, each one line (CRLF ended)."""
    recipients: frozenset[str] = frozenset()
    senders: frozenset[str] = frozenset()
    for line in lines.split(b"\r\n")[:-1]:
        to, by = _field(line + b"\r\n")
        recipients, senders = recipients | to, senders | by
    return recipients, senders


@dataclass
class Tally:
    """What a run of messages says: per address the latest Date of a message to it (`sent`) and from it
    (`received`), in seconds since the epoch; the messages skipped, by why; those dated after `now` (`ahead`,
    by the caller's key), which count at their arrival (`arrive`)."""

    now: datetime
    sent: dict[str, int] = field(default_factory=dict)
    received: dict[str, int] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    counted: int = 0
    ahead: dict[int, Message] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._now = int(self.now.timestamp())

    def add(self, key: int, header: bytes) -> None:
        self.add_all([(key, header)])

    def add_all(self, messages: Iterable[tuple[int, bytes]]) -> None:
        """Each message's header fields, by the caller's key (`add` for each; this is the loop of a whole folder,
        so the common message takes one match and a few lookups)."""
        fast, base_of, field_of = _FAST.fullmatch, _base, _field
        sent, received, now = self.sent, self.received, self._now
        for key, header in messages:
            found = fast(header)
            base = None if found is None else base_of(found[2], found[6])
            if found is None or base is None:
                at, recipients, senders = _read(header)
                if isinstance(at, str):
                    self.skipped[at] += 1
                    continue
            else:
                lines = found[1] + found[7]
                if lines.count(b"\n") == 1:  # one address field (To), the common case
                    recipients, senders = field_of(lines)
                else:
                    recipients, senders = _fields(lines) if lines else _NONE
                if not recipients and not senders:
                    self.skipped["no-address"] += 1
                    continue
                at = base + int(found[3]) * 3600 + int(found[4]) * 60 + int(found[5])
            if at > now:
                self.ahead[key] = Message(datetime.fromtimestamp(at, UTC), recipients, senders)
                continue
            self.counted += 1
            for address in recipients:
                if sent.get(address, _NEVER) < at:
                    sent[address] = at
            for address in senders:
                if received.get(address, _NEVER) < at:
                    received[address] = at

    def arrive(self, arrivals: Mapping[int, datetime]) -> None:
        """The messages dated in the future, at their arrival (`now` where it is unknown or later)."""
        for key, message in self.ahead.items():
            moved = arrived(message, arrivals.get(key), self.now)
            self._count(int(moved.at.timestamp()), moved.recipients, moved.senders)
        self.ahead = {}

    def _count(self, at: int, recipients: frozenset[str], senders: frozenset[str]) -> None:
        self.counted += 1
        for seen, found in ((self.sent, recipients), (self.received, senders)):
            for address in found:
                if seen.get(address, _NEVER) < at:
                    seen[address] = at


def arrived(message: Message, arrival: datetime | None, now: datetime) -> Message:
    """A message dated after `now` (a clock ahead, or one written to be sent later) counts when it arrived."""
    at = min(arrival, now) if arrival is not None else now
    return Message(at, message.recipients, message.senders)


def last_messages(
    sent: Mapping[str, datetime], received: Mapping[str, datetime], contacts: Mapping[str, Contact]
) -> dict[str, datetime]:
    """Contact UID -> the latest message to (`sent`: address -> latest Date) or from (`received`) one of the
    contact's EMAIL values."""
    out: dict[str, datetime] = {}
    for uid, contact in contacts.items():
        for email_value in contact.emails:
            address = email_value.strip().lower()
            for seen in (sent, received):
                when = seen.get(address)
                if when is not None and (uid not in out or when > out[uid]):
                    out[uid] = when
    return out
