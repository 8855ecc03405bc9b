"""Putting back the X-SYNCD values another client dropped. Pure: `store.copies` keeps the copies;
the writer (`engine.writing.keep_lines`) guards each card write with them.

Some clients (seen with iPhone, DAVx5 and Nextcloud apps) rewrite a card without the properties they do not
know, so an edit on the phone can silently remove every `X-SYNCD-*` line. syncd keeps the values it last saw
per contact UID, with the card's ETag, in a table of the state database. When a card comes back with a new
ETag and no X-SYNCD line at all, while the copy holds some, the values are restored (a conditional write,
journaled and logged). Only a complete loss is taken for a foreign client's doing: a card that still has
some X-SYNCD lines is left as it is. (`syncd set CONTACT --circle none` is the way to stop tracking.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from syncd.core.contacts import Contact


@dataclass(frozen=True, slots=True)
class Copy:
    """syncd's copy of one contact's X-SYNCD values, and where and in which version of the card it saw them."""

    uid: str
    href: str
    etag: str
    values: dict[str, str]


def vanished(contacts: Mapping[str, Contact], copies: Mapping[str, Copy]) -> dict[str, dict[str, str]]:
    """Contacts whose card lost every X-SYNCD line since syncd last saw it: uid -> the values to restore."""
    out: dict[str, dict[str, str]] = {}
    for uid, contact in contacts.items():
        copy = copies.get(uid)
        if copy is None or not copy.values or contact.xsyncd or contact.is_group:
            continue
        if contact.etag and contact.etag == copy.etag:
            continue  # the same card version syncd saw with values: not a foreign edit
        out[uid] = dict(copy.values)
    return out
