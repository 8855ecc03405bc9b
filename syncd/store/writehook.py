"""syncd's own writes keep the read cache current.

`WriteHook` is a DavClient write listener: after a PUT the written text is parsed and stored under the ETag
the server returned, so the next sync-collection, which reports that href as changed, finds the ETag already
known and fetches nothing. After a DELETE, or when anything goes wrong, the member is forgotten and read
again next time.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from syncd.core.account import canonical, same_resource
from syncd.core.contacts import Contact
from syncd.store.codec import decode, encode
from syncd.store.members import CARD, parse_card, parse_reminder
from syncd.store.state import State

log = logging.getLogger("syncd.store.writehook")


class WriteHook:
    """A DavClient write listener: keeps the cached member of a written href current."""

    def __init__(self, state: State, zone: ZoneInfo) -> None:
        self.state = state
        self.zone = zone

    def __call__(self, url: str, body: bytes | None, etag: str) -> None:
        href = canonical(url)
        parent = href.rsplit("/", 1)[0] + "/"
        try:
            synced = next((c for c in self.state.synced_collections() if same_resource(c.url, parent)), None)
            if synced is None:
                return
            data: str | None = None
            if body is not None and etag:
                text = body.decode("utf-8", "surrogateescape")
                if synced.kind == CARD:
                    old = self.state.synced_item(synced.url, href)
                    label = ""
                    if old is not None:
                        previous = decode(CARD, href, old[0], old[1])
                        label = previous.addressbook if isinstance(previous, Contact) else ""
                    data = encode(parse_card(href, etag, text, label))
                else:
                    data = encode(parse_reminder(href, etag, text, self.zone))
            self.state.put_synced_item(synced.url, href, etag, data)
        except Exception as err:  # the cache must never break a write; forget the entry instead
            log.debug("cache: could not record the write of %s (%s); it is read again next time", href, err)
            for collection in self.state.synced_collections():
                if same_resource(collection.url, parent):
                    self.state.put_synced_item(collection.url, href, "", None)
