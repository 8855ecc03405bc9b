"""What the read cache holds for one member of a collection, and how a member's text is read into it.

A card becomes a `Contact`, a task a `Task` (None when it is not a syncd reminder), and either one that cannot
be read a `Broken` with the reason. The read cache (`store.codec`) stores these by href and ETag; the reader
fingerprints (`store.fingerprints`) hash this module, so a change here reads every collection afresh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from syncd.core.contacts import Card, Contact, contact_from_card
from syncd.core.reminders import BrokenTask, Task, parse_task
from syncd.core.vcard import CardSyntaxError

CARD = "card"
TASK = "task"


@dataclass(frozen=True, slots=True)
class Broken:
    """A member that cannot be read (a card without UID, a task that is not iCalendar): why."""

    reason: str


Parsed = Contact | Task | Broken | None  # None: a task that is not a syncd reminder


# PHOTO/LOGO/SOUND/KEY: often tens of KB of base64 folded over hundreds of lines that no Contact field uses;
# unfolding them is most of the time a photo card takes to read. A property line at the start of a physical
# line (optionally `item1.`-grouped) and its folded continuation lines.
_BINARY = re.compile(
    r"^(?:[A-Za-z0-9-]+\.)?(?:PHOTO|LOGO|SOUND|KEY)[;:][^\r\n]*(?:\r\n|\n)(?:[ \t][^\r\n]*(?:\r\n|\n|$))*",
    re.IGNORECASE | re.MULTILINE,
)
# The same in a text without lone CRs, from the LF before the property to just before its last LF: a search
# for a leading LF is several times faster than trying `^` at every offset.
_BINARY_AFTER_LF = re.compile(
    r"\n(?:[A-Za-z0-9-]+\.)?(?:PHOTO|LOGO|SOUND|KEY)[;:][^\n]*(?=\n)(?:\n[ \t][^\n]*)*",
    re.IGNORECASE,
)
_LONE_CR = re.compile(r"\r(?!\n)")


def without_binary(text: str) -> str:
    """The card's text without binary properties, for reading only (never written back). Cards with
    quoted-printable are left whole: a soft line break lets any text start a physical line there."""
    if len(text) < 2048 or "QUOTED-PRINTABLE" in text.upper():
        return text
    if _LONE_CR.search(text) is not None or _BINARY.match(text) is not None:
        return _BINARY.sub("", text)
    # Removing "LF + property" up to its last LF leaves what removing the property with its last LF leaves;
    # a property that ends the text (no last LF) gives its leading LF back.
    length = len(text)
    return _BINARY_AFTER_LF.sub(lambda m: "\n" if m.end() == length else "", text)


def parse_card(href: str, etag: str, text: str, addressbook: str) -> Contact | Broken:
    try:
        return contact_from_card(Card(href=href, etag=etag, text=without_binary(text), addressbook=addressbook))
    except CardSyntaxError as err:
        return Broken(str(err))


def parse_reminder(href: str, etag: str, text: str, zone: ZoneInfo) -> Task | Broken | None:
    try:
        return parse_task(href, etag, text, zone)
    except BrokenTask as err:
        return Broken(str(err))
