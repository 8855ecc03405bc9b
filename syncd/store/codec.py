"""A parsed member of the read cache as the text of its row, and back.

A row keeps href and ETag in columns of its own; the data is the member's other fields as a JSON array in
the order of the class's fields. A change to that layout must bump CACHE_VERSION (it is part of every
reader fingerprint, so every cached collection is then read afresh). A row that does not fit the current
classes raises on decoding, and the member is fetched again.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date, datetime
from typing import Any

from syncd.core.contacts import Contact
from syncd.core.reminders import Task
from syncd.store.members import CARD, Broken, Parsed

CACHE_VERSION = "2"  # 2: a parsed member is a JSON array of its fields in order, not an object

_ROW_FIELDS = {"href", "etag"}  # kept in the row itself, not in the data


def _enc(value: Any) -> Any:
    """What json cannot encode itself: dates and times as {"$d": ...} / {"$t": ...}, sets as lists."""
    if isinstance(value, datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    if isinstance(value, set):
        return list(value)
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _dec(value: dict[str, Any]) -> Any:
    """Each JSON object read: {"$t": ...} / {"$d": ...} back to a datetime / date."""
    if len(value) == 1:
        if "$t" in value:
            return datetime.fromisoformat(value["$t"])
        if "$d" in value:
            return date.fromisoformat(value["$d"])
    return value


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_enc)
_UNJSON = json.JSONDecoder(object_hook=_dec)
_LAYOUTS: dict[type, tuple[tuple[str, ...], int, int]] = {}


def _layout(cls: type) -> tuple[tuple[str, ...], int, int]:
    """The fields a row stores, in order, and where href and etag go among the class's fields."""
    layout = _LAYOUTS.get(cls)
    if layout is None:
        every = [f.name for f in fields(cls)]
        at_href, at_etag = every.index("href"), every.index("etag")
        if at_href > at_etag:
            raise TypeError(f"{cls.__name__}: href must come before etag")
        layout = _LAYOUTS[cls] = (tuple(n for n in every if n not in _ROW_FIELDS), at_href, at_etag)
    return layout


def encode(value: Parsed) -> str:
    """A parsed member as JSON: its fields but href and etag (kept in the row itself) as an array, in order."""
    if value is None:
        return '{"$none":1}'
    if isinstance(value, Broken):
        return json.dumps({"$broken": value.reason})
    return _JSON.encode([getattr(value, name) for name in _layout(type(value))[0]])


def decode(kind: str, href: str, etag: str, text: str) -> Parsed:
    """Raises ValueError (or TypeError/KeyError) when the row does not fit the current classes."""
    data = _UNJSON.decode(text)
    if isinstance(data, list):
        cls = Contact if kind == CARD else Task
        names, at_href, at_etag = _layout(cls)
        if len(data) != len(names):
            raise ValueError(f"{len(data)} fields, not {len(names)}")
        data.insert(at_href, href)
        data.insert(at_etag, etag)
        return cls(*data)
    if not isinstance(data, dict):
        raise ValueError("neither an array nor an object")
    if "$none" in data:
        return None
    if "$broken" in data:
        return Broken(str(data["$broken"]))
    raise ValueError("an object that is not a parsed member")
