"""Contacts as syncd sees them: the fields the planner and the views need, read from a card's text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from syncd.core.durations import Duration
from syncd.core.vcard import CardSyntaxError, Property, parse_card

CIRCLE = "X-SYNCD-CIRCLE"
INTERVAL = "X-SYNCD-INTERVAL"
LAST_CONTACT = "X-SYNCD-LAST-CONTACT"
SNOOZE = "X-SYNCD-SNOOZE"

NO_CIRCLE = "none"  # X-SYNCD-CIRCLE:none = explicitly not tracked (`syncd set X --circle none`)


@dataclass(slots=True)
class Card:
    """One vCard resource as read from the server."""

    href: str
    etag: str
    text: str
    addressbook: str = ""


@dataclass(slots=True)
class Contact:
    uid: str
    name: str
    href: str = ""
    etag: str = ""
    addressbook: str = ""
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    org: str = ""
    title: str = ""
    categories: list[str] = field(default_factory=list)
    note: str = ""
    bday: date | None = None
    is_group: bool = False
    members: list[str] = field(default_factory=list)  # member UIDs of a group card
    xsyncd: dict[str, str] = field(default_factory=dict)  # raw X-SYNCD-* values by name
    warnings: list[str] = field(default_factory=list)  # X-SYNCD values that could not be read

    # Typed X-SYNCD values (None when absent or unreadable).
    @property
    def circle(self) -> str | None:
        value = self.xsyncd.get(CIRCLE, "").strip()
        return value or None

    @property
    def interval(self) -> Duration | None:
        raw = self.xsyncd.get(INTERVAL)
        if not raw:
            return None
        try:
            return Duration(raw)
        except ValueError:
            return None

    @property
    def last_contact(self) -> datetime | None:
        raw = self.xsyncd.get(LAST_CONTACT)
        return parse_instant(raw) if raw else None

    @property
    def snooze(self) -> date | None:
        raw = self.xsyncd.get(SNOOZE)
        return parse_date(raw) if raw else None

    @property
    def phone(self) -> str:
        """The first phone number ("" when none)."""
        return next((p for p in self.phones if p), "")

    @property
    def email(self) -> str:
        """The first e-mail address ("" when none)."""
        return next((e for e in self.emails if e), "")

    @property
    def reach(self) -> str:
        """How to reach out: the first phone number and e-mail address."""
        return " · ".join(p for p in (self.phone, self.email) if p)


_DATE_RE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_INSTANT_RE = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})[T ](\d{2}):?(\d{2})(?::?(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_date(text: str) -> date | None:
    match = _DATE_RE.match(text.strip())
    if not match:
        instant = parse_instant(text)
        return instant.date() if instant else None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 instant (basic or extended) as an aware UTC datetime; a bare date is midnight UTC.

    A date-time without an offset is read as UTC.
    """
    text = text.strip()
    match = _DATE_RE.match(text)
    if match:
        try:
            return datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)), tzinfo=UTC)
        except ValueError:
            return None
    match = _INSTANT_RE.match(text)
    if not match:
        return None
    y, mo, d, h, mi, s, off = match.groups()
    try:
        value = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), tzinfo=UTC)
    except ValueError:
        return None
    if off and off != "Z":
        sign = 1 if off[0] == "+" else -1
        digits = off[1:].replace(":", "")
        from datetime import timedelta

        value -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return value


def format_instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bday(prop: Property) -> date | None:
    raw = prop.decoded().strip()
    if raw.startswith("--"):  # vCard 4 date without year: --MMDD
        match = re.match(r"^--(\d{2})-?(\d{2})", raw)
        if match:
            try:
                return date(1604, int(match.group(1)), int(match.group(2)))  # Apple's "no year" year
            except ValueError:
                return None
        return None
    return parse_date(raw[:10] if len(raw) >= 10 and raw[4] == "-" else raw[:8])


def _member_uid(value: str) -> str:
    value = value.strip()
    for prefix in ("urn:uuid:", "URN:UUID:"):
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


class NoUID(CardSyntaxError):
    pass


def contact_from_card(card: Card) -> Contact:
    """Read a card. Raises CardSyntaxError (or NoUID) for a card that must be skipped."""
    props = parse_card(card.text)
    uid = fn = ""
    n_parts: list[str] = []
    contact = Contact(uid="", name="", href=card.href, etag=card.etag, addressbook=card.addressbook)
    for prop in props:
        name = prop.name
        if name == "UID" and not uid:
            uid = prop.text().strip()
        elif name == "FN" and not fn:
            fn = prop.text().strip()
        elif name == "N" and not n_parts:
            n_parts = prop.components()
        elif name == "EMAIL":
            value = prop.text().strip()
            if value:
                contact.emails.append(value)
        elif name == "TEL":
            value = prop.text().strip()
            if value:
                contact.phones.append(value.removeprefix("tel:"))
        elif name == "ORG" and not contact.org:
            contact.org = " – ".join(p for p in prop.components() if p.strip())
        elif name == "TITLE" and not contact.title:
            contact.title = prop.text().strip()
        elif name == "CATEGORIES":
            contact.categories.extend(c.strip() for c in prop.components(",") if c.strip())
        elif name == "NOTE" and not contact.note:
            contact.note = prop.text()
        elif name == "BDAY" and contact.bday is None:
            contact.bday = _bday(prop)
        elif name in ("X-ADDRESSBOOKSERVER-KIND", "KIND"):
            contact.is_group = prop.decoded().strip().lower() == "group"
        elif name in ("X-ADDRESSBOOKSERVER-MEMBER", "MEMBER"):
            contact.members.append(_member_uid(prop.decoded()))
        elif name.startswith("X-SYNCD-") and name not in contact.xsyncd:
            contact.xsyncd[name] = prop.value.strip()
    if not uid:
        raise NoUID("no UID: syncd cannot track it")
    contact.uid = uid
    if not fn and n_parts:
        given = n_parts[1] if len(n_parts) > 1 else ""
        fn = " ".join(p for p in (given, n_parts[0]) if p.strip())
    contact.name = fn or (contact.emails[0] if contact.emails else uid)
    _check_xsyncd(contact)
    return contact


def _check_xsyncd(contact: Contact) -> None:
    raw = contact.xsyncd
    if INTERVAL in raw and contact.interval is None:
        contact.warnings.append(f"{INTERVAL}:{raw[INTERVAL]} is not an ISO 8601 duration; ignored")
    if LAST_CONTACT in raw and contact.last_contact is None:
        contact.warnings.append(f"{LAST_CONTACT}:{raw[LAST_CONTACT]} is not an ISO date or date-time; ignored")
    if SNOOZE in raw and contact.snooze is None:
        contact.warnings.append(f"{SNOOZE}:{raw[SNOOZE]} is not an ISO date; ignored")


def find_contact(contacts: list[Contact], query: str) -> Contact:
    """CONTACT on the command line: a UID, or a case-insensitive FN matching exactly one contact."""
    from syncd.errors import DataError

    people = [c for c in contacts if not c.is_group]
    for contact in people:
        if contact.uid == query:
            return contact
    wanted = query.strip().casefold()
    matches = [c for c in people if c.name.casefold() == wanted]
    if len(matches) == 1:
        return matches[0]
    if matches:
        listing = "; ".join(f"{c.name} (uid {c.uid})" for c in matches[:10])
        raise DataError(f"{query!r} matches {len(matches)} contacts: {listing} — give the UID instead")
    near = [c for c in people if wanted in c.name.casefold()][:10]
    hint = (" Did you mean: " + "; ".join(f"{c.name} (uid {c.uid})" for c in near)) if near else ""
    raise DataError(f"no contact named or with UID {query!r}.{hint}")
