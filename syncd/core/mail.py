"""Mail headers as contact: what one message's header fields say (pure; `syncd.imap` fetches them).

A message counts at its Date; a Date in the future counts as the message's arrival (the server's INTERNALDATE).
A message with no Date, or one that cannot be read as a date, is skipped (and counted); so is one whose address
fields hold no readable address. Encoded words (RFC 2047) are decoded before the addresses are read; an address
is compared lower-cased.
"""

from __future__ import annotations

import email.header
import email.parser
import email.policy
import email.utils
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from syncd.core.contacts import Contact

FIELDS = ("DATE", "FROM", "TO", "CC", "BCC")  # the header fields fetched, nothing else
RECIPIENT_FIELDS = ("To", "Cc", "Bcc")

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


def addresses(values: Iterable[str]) -> frozenset[str]:
    """The addresses in some address header fields (display names dropped); what is not an address is ignored."""
    found: set[str] = set()
    for value in values:
        for _name, address in email.utils.getaddresses([_decoded(value)]):
            address = address.strip().strip("<>").lower()
            local, at, domain = address.rpartition("@")
            if at and local and domain and " " not in address:
                found.add(address)
    return frozenset(found)


def _date(value: str) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # RFC 5322 "-0000": the zone is unknown; read as UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse(header: bytes, arrival: datetime | None, now: datetime) -> Message | str:
    """One message's header fields -> the message, or why it is skipped (a key of `SKIPS`)."""
    fields = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(header)
    dates = [str(v) for v in fields.get_all("Date") or []]
    if not dates or not dates[0].strip():
        return "no-date"
    at = _date(dates[0])
    if at is None:
        return "bad-date"
    if at > now:  # a clock ahead, or a message written to be sent later: it counts when it arrived
        at = min(arrival, now) if arrival is not None else now
    recipients = addresses(str(v) for name in RECIPIENT_FIELDS for v in fields.get_all(name) or [])
    senders = addresses(str(v) for v in fields.get_all("From") or [])
    if not recipients and not senders:
        return "no-address"
    return Message(at, recipients, senders)


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
