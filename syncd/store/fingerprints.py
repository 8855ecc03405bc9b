"""Which code parsed a cached collection: a digest of the reader's source files (and the time zone, for tasks).

Each cached collection carries the fingerprint of the code that parsed it; when syncd is upgraded or the zone
changes, the fingerprint no longer matches and the collection is read afresh. The digest covers the parsers
(`core.contacts` and `core.vcard` for cards, `core.reminders` for tasks), the reading of a member's text
(`store.members`), the row encoding (`store.codec`) and CACHE_VERSION.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from zoneinfo import ZoneInfo

from syncd.core import contacts, reminders, vcard
from syncd.store import codec, members


def _source_digest(*paths: str | None) -> str:
    digest = hashlib.sha256(codec.CACHE_VERSION.encode())
    for path in paths:
        if path:
            digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:32]


_CARD_FINGERPRINT: str | None = None


def card_fingerprint() -> str:
    global _CARD_FINGERPRINT
    if _CARD_FINGERPRINT is None:
        _CARD_FINGERPRINT = _source_digest(contacts.__file__, vcard.__file__, members.__file__, codec.__file__)
    return _CARD_FINGERPRINT


def task_fingerprint(zone: ZoneInfo) -> str:
    return f"{_source_digest(reminders.__file__, members.__file__, codec.__file__)}-{zone.key}"
