"""Reminders as VTODOs: building new ones, reading the ones on the server, and the few edits syncd makes.

Pure: text in, text out. Edits go through icalendar's model of the served object and keep every property and
subcomponent syncd did not set (VALARMs, X-APPLE-*, X-MOZ-*, RELATED-TO, ...).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from syncd import __version__
from syncd.core.contacts import Contact
from syncd.core.durations import Duration

CONTACT_PROP = "X-SYNCD-CONTACT"
WRITTEN_PROP = "X-SYNCD-DESCRIPTION"  # the DESCRIPTION as syncd wrote it: what is not in it is the user's note
VIA_PROP = "X-SYNCD-VIA"  # "manual": done with `syncd done` (its note came from the command line)
MANUAL = "manual"
PRODID = f"-//syncd//syncd {__version__}//EN"
NOTE_CHARS = 240

if TYPE_CHECKING:  # icalendar is imported where a task is read or built: a cycle with nothing new needs neither
    from icalendar import Calendar, Component, Todo


class BrokenTask(ValueError):
    pass


@dataclass(slots=True)
class Task:
    """A syncd reminder as found on the server."""

    href: str
    etag: str
    uid: str
    contact_uid: str
    summary: str
    due: date | None  # DUE as a date in the user's zone
    done: bool
    completed: datetime | None  # COMPLETED, aware UTC
    created: date | None  # CREATED (else DTSTAMP) as a date in the user's zone
    text: str
    note: str = ""  # what the user wrote into the DESCRIPTION beyond syncd's own lines
    via: str = ""  # MANUAL when `syncd done` closed or made it

    @property
    def open(self) -> bool:
        return not self.done


def reminder_uid(contact_uid: str, day: date, task_list: str) -> str:
    """Stable: the same contact on the same day in the same task list always gets the same UID, so a retry never
    duplicates. Unique per list: servers such as Cyrus keep a UID unique across every calendar of an account
    and refuse it in a second one. `task_list`: the list's URL (its path counts, not the host it was reached
    at). Reminders are recognised by X-SYNCD-CONTACT, never by their UID: older UIDs (without the list's part)
    are read like any other."""
    digest = hashlib.sha256(contact_uid.encode("utf-8")).hexdigest()[:20]
    where = hashlib.sha256(unquote(urlsplit(task_list).path).rstrip("/").encode("utf-8")).hexdigest()[:8]
    return f"syncd-{digest}-{where}-{day:%Y%m%d}"


def _as_date(value: object, zone: ZoneInfo) -> date | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.date()
        return value.astimezone(zone).date()
    if isinstance(value, date):
        return value
    return None


def _as_utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def is_done(todo: Todo) -> bool:
    """Done = STATUS:COMPLETED, or a COMPLETED time, or PERCENT-COMPLETE:100 (iOS 5 writes only the last)."""
    status = str(todo.get("STATUS", "")).strip().upper()
    if status == "COMPLETED" or todo.get("COMPLETED") is not None:
        return True
    try:
        return int(str(todo.get("PERCENT-COMPLETE", "0")).strip() or 0) >= 100
    except ValueError:
        return False


def _todo(text: str) -> tuple[Calendar, Todo]:
    from icalendar import Calendar, Todo

    try:
        cal = Calendar.from_ical(text)
    except ValueError as err:
        raise BrokenTask(f"not valid iCalendar ({err})") from err
    todos = [c for c in cal.walk("VTODO") if isinstance(c, Todo)]
    if not todos:
        raise BrokenTask("no VTODO in it")
    return cal, todos[0]


def parse_task(href: str, etag: str, text: str, zone: ZoneInfo) -> Task | None:
    """A syncd reminder, or None for a task that is not syncd's (no X-SYNCD-CONTACT)."""
    _, todo = _todo(text)
    contact = todo.get(CONTACT_PROP)
    if contact is None:
        return None
    uid = str(todo.get("UID", "")).strip()
    if not uid:
        raise BrokenTask("no UID")
    due_prop = todo.get("DUE")
    due = _as_date(due_prop.dt, zone) if due_prop is not None else None
    completed_prop = todo.get("COMPLETED")
    completed = _as_utc(completed_prop.dt) if completed_prop is not None else None
    created_prop = todo.get("CREATED") or todo.get("DTSTAMP")
    created = _as_date(created_prop.dt, zone) if created_prop is not None else None
    return Task(
        href=href,
        etag=etag,
        uid=uid,
        contact_uid=str(contact).strip(),
        summary=str(todo.get("SUMMARY", "")),
        due=due,
        done=is_done(todo),
        completed=completed,
        created=created,
        text=text,
        note=user_note(str(todo.get("DESCRIPTION", "")), _text_or_none(todo.get(WRITTEN_PROP))),
        via=str(todo.get(VIA_PROP, "")).strip().lower(),
    )


_ESCAPED = re.compile(r"\\([\\;,nN])")


def _text_or_none(value: object) -> str | None:
    """An X- property's TEXT value unescaped (RFC 5545 3.3.11; icalendar keeps an unknown property's value as
    it was served)."""
    if value is None:
        return None
    return _ESCAPED.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), str(value))


_LINE_BREAK = re.compile(r"\r\n|[\r\n\u2028\u2029\x0b\x0c\x85]")
# syncd's own lines, for a reminder that does not say which lines syncd wrote (made before it did, or a client
# dropped X-SYNCD-DESCRIPTION): the forms `describe` writes.
_SYNCD_LINE = re.compile(
    r"^(?:Circle \S+ · .*|Last contact: (?:never recorded|\d{4}-\d{2}-\d{2} \(.*\))|Phone: .*|Email: .*|Note: .*"
    r"|Last time, [^:]+: .*)$"
)


def _plain(line: str) -> str:
    """A line compared without regard to white space (a phone may change spaces, tabs, line ends)."""
    return " ".join(line.split())


def user_note(description: str, written: str | None) -> str:
    """The user's own text in a reminder's DESCRIPTION: every line that is not one syncd wrote (`written`: the
    DESCRIPTION as syncd wrote it; None: unknown, then syncd's lines are recognised by their form), compared
    line by line without regard to white space; empty lines at either end dropped, line ends as LF."""
    mine = {_plain(line) for line in _LINE_BREAK.split(written)} if written is not None else None
    kept = []
    for line in _LINE_BREAK.split(description):
        plain = _plain(line)
        if plain and (plain in mine if mine is not None else _SYNCD_LINE.match(plain) is not None):
            continue
        kept.append(line.rstrip())
    while kept and not kept[0].strip():
        kept.pop(0)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept)


def last_time(when: date, text: str, today: date) -> str:
    """The line a reminder carries about the latest note: "Last time, 12 Nov: ..." (the year when not this
    year's), the note on one line, shortened to NOTE_CHARS."""
    day = f"{when.day} {when:%b}" + ("" if when.year == today.year else f" {when.year}")
    flat = re.sub(r"\s+", " ", text).strip()
    return f"Last time, {day}: " + (flat if len(flat) <= NOTE_CHARS else flat[: NOTE_CHARS - 1] + "…")


def _ago(days: int) -> str:
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 60:
        return f"{days} days ago"
    if days < 730:
        return f"{days // 30} months ago"
    return f"{days // 365} years ago"


def describe(
    contact: Contact,
    circle: str,
    interval: Duration,
    today: date,
    zone: ZoneInfo,
    last_note: tuple[date, str] | None = None,
) -> str:
    """What helps to reach out: circle, when you last spoke, organisation/title, phone, e-mail, the card's
    note, and the latest note about a conversation (`last_note`: its day in the user's zone and its text)."""
    lines = [f"Circle {circle} · {interval.human()}"]
    last = contact.last_contact
    if last is None:
        lines.append("Last contact: never recorded")
    else:
        day = last.astimezone(zone).date()
        lines.append(f"Last contact: {day.isoformat()} ({_ago((today - day).days)})")
    work = ", ".join(p for p in (contact.title, contact.org) if p)
    if work:
        lines.append(work)
    lines.extend(f"Phone: {p}" for p in contact.phones[:2])
    lines.extend(f"Email: {e}" for e in contact.emails[:2])
    note = re.sub(r"\s+", " ", contact.note).strip()
    if note:
        lines.append("Note: " + (note if len(note) <= NOTE_CHARS else note[: NOTE_CHARS - 1] + "…"))
    if last_note is not None and last_note[1].strip():
        lines.append(last_time(last_note[0], last_note[1], today))
    return "\n".join(lines)


def build_task(
    *,
    contact: Contact,
    circle: str,
    interval: Duration,
    priority: int,
    due: date,
    due_time: time | None,
    zone: ZoneInfo,
    now: datetime,
    task_list: str,
    summary: str | None = None,
    last_note: tuple[date, str] | None = None,
    uid: str | None = None,
) -> tuple[str, str]:
    """A new reminder for the task list at URL `task_list`: (UID, iCalendar text). `summary` defaults to
    "Reach out to NAME"; `uid` to `reminder_uid` of the due day. The DESCRIPTION is also kept as
    X-SYNCD-DESCRIPTION, so that what the user adds to it is told from what syncd wrote (`user_note`)."""
    from icalendar import Alarm, Calendar, Timezone, Todo, vText

    summary = summary or f"Reach out to {contact.name}"
    uid = uid or reminder_uid(contact.uid, due, task_list)
    description = describe(contact, circle, interval, due, zone, last_note)
    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    todo = Todo()
    stamp = now.astimezone(UTC).replace(microsecond=0)
    todo.add("UID", uid)
    todo.add("DTSTAMP", stamp)
    todo.add("CREATED", stamp)
    todo.add("LAST-MODIFIED", stamp)
    todo.add("SUMMARY", summary)
    todo.add("DESCRIPTION", description)
    if due_time is None:
        todo.add("DUE", due)
    else:
        at = datetime.combine(due, due_time, tzinfo=zone)
        todo.add("DTSTART", at)
        todo.add("DUE", at)
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", summary)
        alarm.add("TRIGGER", at.astimezone(UTC), parameters={"VALUE": "DATE-TIME"})
        todo.add_component(alarm)
    todo.add("STATUS", "NEEDS-ACTION")
    todo.add("PRIORITY", priority)
    todo.add(CONTACT_PROP, contact.uid)
    todo.add(WRITTEN_PROP, vText(description))  # an X- property is not escaped unless it is vText
    if due_time is not None:
        cal.add_component(
            Timezone.from_tzinfo(zone, first_date=due - timedelta(days=370), last_date=due + timedelta(days=740))
        )
    cal.add_component(todo)
    return uid, cal.to_ical(sorted=False).decode("utf-8")


def _edit(text: str, change: dict[str, object], now: datetime) -> str:
    cal, todo = _todo(text)
    for key, value in change.items():
        if key in todo:
            del todo[key]
        if value is not None:
            todo.add(key, value)
    if "LAST-MODIFIED" in todo:
        del todo["LAST-MODIFIED"]
    todo.add("LAST-MODIFIED", now.astimezone(UTC).replace(microsecond=0))
    if "DTSTAMP" in todo:
        del todo["DTSTAMP"]
    todo.add("DTSTAMP", now.astimezone(UTC).replace(microsecond=0))
    return str(cal.to_ical(sorted=False).decode("utf-8"))


def complete_text(text: str, when: datetime, now: datetime, note: str | None = None, *, manual: bool = False) -> str:
    """Mark done the way iOS does (all three: STATUS, COMPLETED, PERCENT-COMPLETE), keeping all else.
    `manual`: done with `syncd done`, which X-SYNCD-VIA says; its `note` is added to the DESCRIPTION."""
    change: dict[str, object] = {
        "STATUS": "COMPLETED",
        "COMPLETED": when.astimezone(UTC).replace(microsecond=0),
        "PERCENT-COMPLETE": 100,
    }
    if manual:
        change[VIA_PROP] = MANUAL
    if note is not None:
        _, todo = _todo(text)
        before = str(todo.get("DESCRIPTION", "")).rstrip()
        change["DESCRIPTION"] = f"{before}\n\n{note.strip()}" if before else note.strip()
    return _edit(text, change, now)


def undated_text(text: str, now: datetime) -> str:
    """The reminder without DUE and DTSTART: a record (`syncd done --note` with no reminder open), not a day's
    list item that the reviews would count."""
    return _edit(text, {"DUE": None, "DTSTART": None}, now)


def reopen_text(text: str, before: str, now: datetime) -> str:
    """Open a reminder again as it was before it was marked done: STATUS, COMPLETED, PERCENT-COMPLETE and
    X-SYNCD-VIA as `before` (its text while open) had them, and its DESCRIPTION without the note `syncd done
    --note` added (when the DESCRIPTION still begins as it did); all else of `text` kept (a DUE moved since
    stays moved)."""
    _, old = _todo(before)
    _, current = _todo(text)
    change = {key: old.get(key) for key in ("STATUS", "COMPLETED", "PERCENT-COMPLETE", VIA_PROP)}
    was = str(old.get("DESCRIPTION", ""))
    if current.get(VIA_PROP) is not None and str(current.get("DESCRIPTION", "")).startswith(was.rstrip()):
        change["DESCRIPTION"] = old.get("DESCRIPTION")
    return _edit(text, change, now)


def reschedule_text(text: str, due: date, zone: ZoneInfo, now: datetime) -> str:
    """Move an open reminder to the day `due`, keeping its time of day and all else: DUE, DTSTART and every
    alarm with an absolute trigger shift by the same amount (what a phone does when its due date is moved)."""
    from icalendar import vDDDTypes

    cal, todo = _todo(text)
    old = todo.decoded("DUE")
    if isinstance(old, datetime):
        local = old.astimezone(zone) if old.tzinfo is not None else old.replace(tzinfo=zone)
        shift = datetime.combine(due, local.time(), tzinfo=zone) - local
    else:
        shift = due - old

    def moved(key: str, component: Component) -> None:
        prop = component.get(key)
        if not isinstance(prop, vDDDTypes) or not isinstance(prop.dt, date):
            return  # absent, or a relative alarm trigger (a timedelta): nothing to move
        params = dict(prop.params)
        component.pop(key)
        component.add(key, prop.dt + shift, parameters=params)

    for key in ("DUE", "DTSTART"):
        moved(key, todo)
    for alarm in todo.walk("VALARM"):
        moved("TRIGGER", alarm)  # a relative trigger (a timedelta) stays as it is
    return _edit(cal.to_ical(sorted=False).decode("utf-8"), {}, now)
