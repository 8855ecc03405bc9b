"""Cards and tasks for tests, in one place.

- Written out: `vcard` (any card: UID, FN, N and the lines given), `contact_card` (a tracked contact as a phone
  keeps it: e-mail, mobile, a note, its X-SYNCD values), `numbered_card` (contact number i, as in the read-path
  tests) and `vtodo` (a task around the lines given). Lines end with CRLF.
- As the pure code takes them: `person` (a Contact), `task` (a Task) and `network` (a Network of them), on a
  fixed `TODAY`.
- As real clients write them: the corpus in tests/corpus/ (`CORPUS`, `GOOD_CARDS`, `BROKEN_CARDS`,
  `read_corpus`).
- Generated: the hypothesis strategy `cards` (vCard 2.1/3.0/4.0, any line endings, folding, QP soft breaks,
  groups, parameters, X-SYNCD lines, bytes that are not UTF-8).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from syncd.core.circles import Membership
from syncd.core.contacts import LAST_CONTACT, Contact
from syncd.core.durations import Duration
from syncd.core.reminders import Task
from syncd.insight.network import CircleSpec, Network, collect_touches

# Written out --------------------------------------------------------------------------------------------


def vcard(uid: str, name: str, *lines: str, version: str = "3.0", n: str | None = "{name};;;;") -> str:
    """BEGIN, VERSION, UID, FN, N, then `lines`, then END, each ending with CRLF. `n` is the N value, `{name}`
    standing for `name`; None leaves N out."""
    head = ["BEGIN:VCARD", f"VERSION:{version}", f"UID:{uid}", f"FN:{name}"]
    if n is not None:
        head.append("N:" + n.replace("{name}", name))
    return "\r\n".join([*head, *lines, "END:VCARD"]) + "\r\n"


def contact_card(
    uid: str, name: str, circle: str | None = None, last: str | None = None, org: str = "", categories: str = ""
) -> str:
    """A contact as a phone keeps it ("First Last"): N, e-mail, mobile and a note, then X-SYNCD-CIRCLE and
    X-SYNCD-LAST-CONTACT when given, then ORG and CATEGORIES when given."""
    first, last_name = name.split(" ", 1)
    lines = [
        f"EMAIL;TYPE=INTERNET:{first.lower()}@example.org",
        "TEL;TYPE=CELL:+49 151 0000000",
        "NOTE:Met at the conference\\, loves sailing.",
    ]
    if circle:
        lines.append(f"X-SYNCD-CIRCLE:{circle}")
    if last:
        lines.append(f"X-SYNCD-LAST-CONTACT:{last}")
    if org:
        lines.append(f"ORG:{org}")
    if categories:
        lines.append(f"CATEGORIES:{categories}")
    return vcard(uid, name, *lines, n=f"{last_name};{first};;;")


def numbered_card(i: int, name: str | None = None, circle: str | None = "2", *, prefix: str = "inc") -> str:
    """Contact number `i`: UID `{prefix}-{i}`, "Person {i}" unless `name` is given, in `circle` (None: none)."""
    lines = [f"X-SYNCD-CIRCLE:{circle}"] if circle else []
    return vcard(f"{prefix}-{i}", name or f"Person {i}", *lines, n=f"{i};Person;;;")


def vtodo(*lines: str) -> str:
    """A VCALENDAR with one VTODO holding just `lines` (nothing else: not even a UID unless given)."""
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//x//y//EN", "BEGIN:VTODO"]
    return "\r\n".join([*head, *lines, "END:VTODO", "END:VCALENDAR"]) + "\r\n"


# As the pure code takes them ----------------------------------------------------------------------------

BERLIN = ZoneInfo("Europe/Berlin")
TODAY = date(2026, 11, 22)  # a Sunday
SPECS = [
    CircleSpec("1", "Close", Duration("P14D")),
    CircleSpec("2", "Friends", Duration("P30D")),
    CircleSpec("3", "Keep warm", Duration("P90D")),
]
INTERVALS = {s.key: s.interval for s in SPECS}


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def d(days_ago: int) -> date:
    """The day `days_ago` days before TODAY."""
    return TODAY - timedelta(days=days_ago)


def person(
    uid: str,
    *,
    last: date | None = None,
    org: str = "",
    title: str = "",
    categories: Sequence[str] = (),
    name: str | None = None,
) -> Contact:
    contact = Contact(uid=uid, name=name or uid.title(), org=org, title=title, categories=list(categories))
    contact.emails.append(f"{uid}@example.org")
    contact.phones.append("+49 151 0000000")
    if last is not None:
        contact.xsyncd[LAST_CONTACT] = at(last).strftime("%Y-%m-%dT%H:%M:%SZ")
    return contact


def task(contact_uid: str, due: date, *, done_on: date | None = None, done: bool | None = None) -> Task:
    is_done = done if done is not None else done_on is not None
    return Task(
        href=f"/tasks/{contact_uid}-{due:%Y%m%d}.ics",
        etag='"1"',
        uid=f"syncd-{contact_uid}-{due:%Y%m%d}",
        contact_uid=contact_uid,
        summary=f"Reach out to {contact_uid}",
        due=due,
        done=is_done,
        completed=at(done_on, 15) if done_on else None,
        created=due,
        text="",
    )


def network(
    contacts: Sequence[Contact],
    circles: dict[str, str],
    tasks: Sequence[Task] = (),
    first_seen: dict[str, date] | None = None,
    remembered: Sequence[tuple[str, datetime]] = (),
) -> Network:
    by_uid = {c.uid: c for c in contacts}
    memberships = {uid: Membership(circle, INTERVALS[circle], "card") for uid, circle in circles.items()}
    return Network(
        contacts=by_uid,
        memberships=memberships,
        tasks=list(tasks),
        circles=SPECS,
        touches=collect_touches(by_uid, tasks, BERLIN, remembered),
        zone=BERLIN,
        first_seen=first_seen or {},
    )


# As real clients write them -----------------------------------------------------------------------------

CORPUS = Path(__file__).parent / "corpus"
GOOD_CARDS = sorted(p.name for p in CORPUS.glob("*.vcf"))
BROKEN_CARDS = sorted(p.name for p in (CORPUS / "broken").glob("*.vcf"))


def read_corpus(name: str) -> str:
    """A corpus card as syncd sees a server's answer: UTF-8, undecodable bytes kept (surrogateescape)."""
    return (CORPUS / name).read_bytes().decode("utf-8", "surrogateescape")


# Generated: cards with realistic line structure ---------------------------------------------------------

TEXT_CHARS = st.characters(
    exclude_characters="\r\n",
    exclude_categories=["Cs"],
)
_LONE_BYTES = st.sampled_from(["\udcc3", "\udca9", "\udcff", "\udce2\udc82"])  # bytes that are not UTF-8
_VALUE_CHAR = st.one_of(TEXT_CHARS, TEXT_CHARS, TEXT_CHARS, _LONE_BYTES)
_VALUE_TEXT = st.lists(_VALUE_CHAR, max_size=90).map("".join)
_KNOWN_NAMES = [
    "FN", "N", "EMAIL", "TEL", "ADR", "ORG", "TITLE", "NOTE", "URL", "CATEGORIES", "BDAY", "NICKNAME", "REV",
    "PHOTO", "LABEL", "X-ABLabel", "X-ABADR", "X-FRM-FREQUENCY", "X-SYNC-CIRCLE", "X-SYNCDX-CIRCLE",
    "X-SYNCD", "X-APPLE-SUBLOCALITY", "x-custom", "tel", "email", "X-SOCIALPROFILE", "X-MS-OL-DESIGN",
]  # fmt: skip
_NAME = st.one_of(
    st.sampled_from(_KNOWN_NAMES),
    st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,14}", fullmatch=True).filter(
        lambda n: not n.upper().startswith("X-SYNCD-") and n.upper() not in ("BEGIN", "END")
    ),
)
_GROUP = st.one_of(st.just(""), st.from_regex(r"item[0-9]{1,2}\.", fullmatch=True), st.just("Grp-1."))
_PARAM = st.one_of(
    st.sampled_from(["TYPE=work", "type=INTERNET", "type=pref", "TYPE=CELL,VOICE", "WORK", "PREF=1"]),
    st.sampled_from(["VALUE=uri", "CHARSET=utf-8", "LANGUAGE=de", "X-USER=majsan", 'TYPE="HOME,VOICE"']),
    st.builds(
        lambda k, v: f"{k}={v}",
        st.from_regex(r"[A-Za-z][A-Za-z-]{0,7}", fullmatch=True),
        st.from_regex(r"[A-Za-z0-9,._/+-]{0,10}", fullmatch=True),
    ),
    st.builds(  # quoted values may hold ':' ';' ',' and non-ASCII
        lambda k, v: f'{k}="{v}"',
        st.from_regex(r"X-[A-Za-z]{1,6}", fullmatch=True),
        st.text(st.characters(exclude_characters='"\r\n', exclude_categories=["Cs"]), max_size=12),
    ),
)
_XSYNCD_NAME = st.sampled_from(
    ["X-SYNCD-CIRCLE", "x-syncd-circle", "X-SYNCD-INTERVAL", "X-Syncd-Interval", "X-SYNCD-LAST-CONTACT",
     "X-SYNCD-SNOOZE", "x-syncd-snooze", "X-SYNCD-OTHER"]
)  # fmt: skip
_XSYNCD_CHAR = st.characters(exclude_characters="\r\n", exclude_categories=("Cs", "Cc"))
_XSYNCD_VALUE = st.text(_XSYNCD_CHAR, max_size=90)


def _qp_encode(value: str) -> list[str]:
    safe = b" 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return [chr(b) if b in safe else f"={b:02X}" for b in value.encode("utf-8")]


@st.composite
def folded(draw: st.DrawFn, logical: str) -> list[str]:
    """A logical line as physical lines: split anywhere, each continuation starting with a space or tab."""
    if len(logical) < 2 or not draw(st.booleans()):
        return [logical]
    cuts = sorted(draw(st.sets(st.integers(1, len(logical) - 1), min_size=1, max_size=4)))
    pieces = [logical[a:b] for a, b in zip([0, *cuts], [*cuts, len(logical)], strict=True)]
    return [pieces[0]] + [draw(st.sampled_from([" ", "\t"])) + p for p in pieces[1:]]


@st.composite
def properties(draw: st.DrawFn) -> list[str]:
    """One property as its physical lines."""
    kind = draw(st.sampled_from(["plain", "plain", "plain", "xsyncd", "qp", "blank"]))
    if kind == "blank":
        return [""]
    if kind == "qp":  # vCard 2.1 quoted-printable with soft line breaks (no leading whitespace)
        tokens = _qp_encode(draw(_VALUE_TEXT.filter(lambda v: not _has_lone(v))))
        head = draw(st.sampled_from(["NOTE", "LABEL;WORK", "ADR;HOME", "X-MS-NOTE"]))
        head += draw(st.sampled_from([";ENCODING=QUOTED-PRINTABLE", ";QUOTED-PRINTABLE"]))
        head += draw(st.sampled_from(["", ";CHARSET=utf-8", ";CHARSET=UTF-8"]))
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(tokens) - 1)), max_size=3))) if tokens else []
        segments = ["".join(tokens[a:b]) for a, b in zip([0, *cuts], [*cuts, len(tokens)], strict=True)]
        segments = [s for s in segments if s] or [""]
        soft = [s + "=" for s in segments[:-1]] + segments[-1:]  # '=' at a line's end: a soft line break
        return [f"{head}:{soft[0]}", *soft[1:]]
    if kind == "xsyncd":
        group = draw(st.sampled_from(["", "", "", "item7."]))
        params = draw(st.sampled_from(["", "", ";X-FOO=1"]))
        logical = f"{group}{draw(_XSYNCD_NAME)}{params}:{draw(_XSYNCD_VALUE)}"
    else:
        params = "".join(";" + p for p in draw(st.lists(_PARAM, max_size=3)))
        logical = f"{draw(_GROUP)}{draw(_NAME)}{params}:{draw(_VALUE_TEXT)}"
    return draw(folded(logical))


def _has_lone(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


@st.composite
def cards(draw: st.DrawFn) -> str:
    version = draw(st.sampled_from(["2.1", "3.0", "4.0"]))
    lines = [["BEGIN:VCARD"], [f"VERSION:{version}"]]
    lines += draw(st.lists(properties(), max_size=14))
    lines.append([draw(st.sampled_from(["END:VCARD", "end:vcard", "End:VCard"]))])
    physical = [line for prop in lines for line in prop]
    mode = draw(st.sampled_from(["crlf", "lf", "cr", "mixed"]))
    if mode == "mixed":
        eols = [draw(st.sampled_from(["\r\n", "\n"])) for _ in physical]
    else:
        eols = [{"crlf": "\r\n", "lf": "\n", "cr": "\r"}[mode]] * len(physical)
    if draw(st.booleans()):
        eols[-1] = ""  # no newline after END:VCARD
    return "".join(line + eol for line, eol in zip(physical, eols, strict=True))
