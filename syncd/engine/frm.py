"""`syncd import frm`: take over what frm (a Go keep-in-touch CLI that also keeps its data in CardDAV cards)
knew, where syncd has nothing yet.

frm's formats, as its source writes them:
- `X-FRM-FREQUENCY`: `<n>d`, `<n>w` or `<n>m` (frm counts a month as 30 days; syncd imports `<n>m` as n
  calendar months, `PnM`; `<n>y` is read as years);
- `X-FRM-IGNORE:true`: hidden from frm's lists;
- `X-FRM-SNOOZE-UNTIL`: `YYYY-MM-DD`;
- `X-FRM-GROUP`: free text; not imported (map it with a `[[rules]] category`/`group` rule if wanted);
- history: `~/.frm/log.jsonl` (or `$FRM_CONFIG_DIR/log.jsonl`), one JSON object per line:
  `{"contact": "<FN>", "time": "<RFC 3339>", "note": "..."}`. Newer frm versions also record the card's
  CardDAV path; syncd reads it from a `"path"` key (that key name is an assumption) and otherwise matches FN.
  The latest time per contact is its last contact. Lines that cannot be read are skipped, as frm does.

Each X-SYNCD value is written only when the card has none of its own:
- IGNORE → `X-SYNCD-CIRCLE:none`;
- FREQUENCY → `X-SYNCD-CIRCLE` = the circle whose interval is nearest, and `X-SYNCD-INTERVAL` = the
  frequency when it differs from that circle's interval;
- SNOOZE-UNTIL (today or later) → `X-SYNCD-SNOOZE`; the history's latest entry → `X-SYNCD-LAST-CONTACT`.
The decision (`updates_for`) is pure; `import_frm` reads the cards and writes through the engine's writer
(`syncd.engine.writing`).
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from syncd.core.contacts import (
    CIRCLE,
    INTERVAL,
    LAST_CONTACT,
    NO_CIRCLE,
    SNOOZE,
    format_instant,
    parse_instant,
)
from syncd.core.durations import Duration
from syncd.core.vcard import parse_card
from syncd.dav import carddav
from syncd.engine.actions import PatchCard
from syncd.engine.reading import Reader
from syncd.engine.session import Session
from syncd.engine.writing import Writer

FREQUENCY = "X-FRM-FREQUENCY"
IGNORE = "X-FRM-IGNORE"
SNOOZE_UNTIL = "X-FRM-SNOOZE-UNTIL"
FRM_PROPS = (FREQUENCY, IGNORE, SNOOZE_UNTIL)

_FREQUENCY = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$", re.IGNORECASE)


def frm_values(text: str) -> dict[str, str]:
    """The card's X-FRM-* values (the first of each)."""
    out: dict[str, str] = {}
    for prop in parse_card(text):
        if prop.name in FRM_PROPS and prop.name not in out:
            out[prop.name] = prop.text().strip()
    return out


def frequency(value: str) -> Duration | None:
    match = _FREQUENCY.match(value)
    if not match or int(match.group(1)) <= 0:
        return None
    return Duration(f"P{int(match.group(1))}{match.group(2).upper()}")


def nearest_circle(interval: Duration, circles: Mapping[str, Duration]) -> str:
    """The circle whose interval is nearest (inner circles win ties)."""
    return min(circles, key=lambda key: abs(circles[key].approx_days - interval.approx_days))


def default_log_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = Path(env["FRM_CONFIG_DIR"]) if env.get("FRM_CONFIG_DIR") else Path.home() / ".frm"
    return base / "log.jsonl"


@dataclass(frozen=True, slots=True)
class History:
    by_name: dict[str, datetime]  # casefolded contact name -> latest time
    by_path: dict[str, datetime]  # card path (unquoted) -> latest time
    skipped: int = 0


def read_history(lines: Iterable[str]) -> History:
    by_name: dict[str, datetime] = {}
    by_path: dict[str, datetime] = {}
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            when = parse_instant(str(entry["time"]))
            name = str(entry.get("contact", "")).strip().casefold()
        except (ValueError, KeyError, TypeError, AttributeError):
            skipped += 1
            continue
        if when is None:
            skipped += 1
            continue
        path = unquote(str(entry.get("path") or "")).strip()
        for key, table in ((name, by_name), (path, by_path)):
            if key and (key not in table or when > table[key]):
                table[key] = when
    return History(by_name, by_path, skipped)


def _path(href: str) -> str:
    return unquote(urlsplit(href).path)


def last_from_history(history: History, name: str, href: str) -> datetime | None:
    path = _path(href)
    for known, when in history.by_path.items():
        if path == known or path.endswith("/" + known.lstrip("/")) or known.endswith(path):
            return when
    return history.by_name.get(name.strip().casefold())


def updates_for(
    frm: Mapping[str, str],
    xsyncd: Mapping[str, str],
    circles: Mapping[str, Duration],
    last_contact: datetime | None,
    today: date,
) -> dict[str, str | None]:
    """The X-SYNCD values to write for one card (only those the card does not have yet)."""
    updates: dict[str, str | None] = {}
    has = {key for key, value in xsyncd.items() if value.strip()}
    circle = xsyncd.get(CIRCLE, "").strip() or None
    ignored = frm.get(IGNORE, "").strip().lower() == "true"
    interval = frequency(frm.get(FREQUENCY, ""))
    if CIRCLE not in has:
        if ignored:
            updates[CIRCLE] = circle = NO_CIRCLE
        elif interval is not None:
            updates[CIRCLE] = circle = nearest_circle(interval, circles)
    if (
        interval is not None
        and not ignored
        and INTERVAL not in has
        and circle is not None
        and circle in circles
        and circles[circle].approx_days != interval.approx_days
    ):
        updates[INTERVAL] = interval.text
    snooze = frm.get(SNOOZE_UNTIL, "").strip()
    if snooze and SNOOZE not in has:
        try:
            until = date.fromisoformat(snooze)
        except ValueError:
            until = None
        if until is not None and until >= today:
            updates[SNOOZE] = until.isoformat()
    if last_contact is not None and LAST_CONTACT not in has:
        updates[LAST_CONTACT] = format_instant(last_contact.astimezone(UTC))
    return updates


@dataclass(slots=True)
class Imported:
    uid: str
    name: str
    values: dict[str, str | None]
    written: bool
    refused: str = ""  # the server's reason when it refused the write

    def as_json(self) -> dict[str, object]:
        return {
            "uid": self.uid,
            "name": self.name,
            "values": self.values,
            "written": self.written,
            "refused": self.refused or None,
        }


def import_frm(session: Session, history: History, now: datetime, *, dry_run: bool = False) -> list[Imported]:
    """Every contact of the configured address books, read as the sync reads them (broken cards and a second
    card with a UID already read are skipped); write the X-SYNCD equivalents of frm's data."""
    settings = session.settings
    circles = {key: circle.duration for key, circle in settings.circles.items()}
    today = now.astimezone(settings.schedule.zone).date()
    world = Reader(session).read(create_task_list=False)
    kept = {_path(c.href): c for c in world.contacts.values()}
    writer = Writer(session)
    out: list[Imported] = []
    for addressbook in world.addressbooks:
        # X-FRM-* lines are frm's, not syncd's: the one place their text is read.
        for card in carddav.read_addressbook(session.clients.contacts, addressbook):
            contact = kept.get(_path(card.href))
            if contact is None:
                continue  # a group card, a broken card, or a duplicate UID: the sync warns about it
            frm = frm_values(card.text)
            last = last_from_history(history, contact.name, card.href)
            if not frm and last is None:
                continue
            wanted = updates_for(frm, contact.xsyncd, circles, last, today)
            if not wanted:
                continue
            written = False
            if not dry_run:
                compute = functools.partial(updates_for, frm, circles=circles, last_contact=last, today=today)
                written = writer.card(PatchCard(contact, compute, "syncd import frm"))
            refused = next((r.reason for r in writer.refused if r.href == contact.href), "")
            out.append(Imported(contact.uid, contact.name, wanted, written, refused))
    return out
