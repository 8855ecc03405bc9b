"""The card reader as it was before its fast paths: the reference the fast reader must equal exactly.

`syncd.core.vcard` and `syncd.core.contacts.contact_from_card` gained fast paths (str.find/split instead of character
loops, regex unfolding, early returns when there is no backslash, parameter or surrogate). This module keeps
the earlier, simpler implementation unchanged so that tests/unit/test_fastparse.py can compare both on any text.
When what a card means changes on purpose (a new Contact field, a new rule), change this reference with it.

At the end, an even simpler view of a card's bytes (`chunks`, `without_xsyncd`): what the X-SYNCD patcher must
leave alone, checked by tests/unit/test_vcard.py and, through real servers, tests/adapters/test_carddav_lossless.py.
"""

from __future__ import annotations

import quopri
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from syncd.core.contacts import Card, Contact, NoUID, _bday, _check_xsyncd, _member_uid
from syncd.core.vcard import CardSyntaxError

_EOL = re.compile(r"\r\n|\n|\r")


@dataclass(frozen=True, slots=True)
class PhysicalLine:
    start: int  # offset of the first character of the line in the text
    end: int  # offset just past the line's end-of-line sequence
    content: str  # the line without its end-of-line sequence
    eol: str  # "\r\n", "\n", "\r" or "" for a last line without one


@dataclass(slots=True)
class Property:
    name: str  # upper-cased, without group
    value: str  # raw value (still escaped, still encoded)
    params: dict[str, list[str]] = field(default_factory=dict)  # keys upper-cased
    group: str = ""
    start: int = 0  # offsets in the text covering all physical lines of the property
    end: int = 0

    def param(self, key: str) -> list[str]:
        return self.params.get(key.upper(), [])

    @property
    def types(self) -> set[str]:
        out = {t.upper() for value in self.param("TYPE") for t in value.split(",") if t}
        # vCard 2.1 writes bare parameters: TEL;CELL;VOICE:...
        out.update(k for k, v in self.params.items() if not v and k not in {"PREF"})
        return out

    def decoded(self) -> str:
        """The value with quoted-printable undone (vCard 2.1) but still backslash-escaped.

        Quoted-printable bytes are decoded with the CHARSET parameter (default UTF-8). A plain value is
        taken as the server's UTF-8 unless it holds bytes that are not UTF-8 (lone surrogates from
        surrogateescape): those are decoded with CHARSET too. Bytes that still do not decode become U+FFFD,
        so the result never holds lone surrogates.
        """
        encoding = {v.upper() for v in self.param("ENCODING")} | set(self.params)
        charset = (self.param("CHARSET") or ["utf-8"])[0]
        if "QUOTED-PRINTABLE" in encoding:
            raw = quopri.decodestring(self.value.encode("utf-8", "surrogateescape"))
        elif _SURROGATE.search(self.value) is not None:
            raw = self.value.encode("utf-8", "surrogateescape")
        else:
            return self.value
        try:
            return raw.decode(charset, "replace")
        except LookupError:
            return raw.decode("utf-8", "replace")

    def text(self) -> str:
        """A text value, unescaped."""
        return unescape(self.decoded())

    def components(self, sep: str = ";") -> list[str]:
        """A structured value (N, ORG, ADR) split at unescaped separators, each part unescaped."""
        return [unescape(p) for p in split_unescaped(self.decoded(), sep)]


def physical_lines(text: str) -> Iterator[PhysicalLine]:
    pos = 0
    length = len(text)
    while pos < length:
        match = _EOL.search(text, pos)
        if match is None:
            yield PhysicalLine(pos, length, text[pos:], "")
            return
        yield PhysicalLine(pos, match.end(), text[pos : match.start()], match.group())
        pos = match.end()


def _qp_head(logical: str) -> bool | None:
    """Whether a logical line's head says QUOTED-PRINTABLE (None while its colon has not been seen)."""
    head, colon, _ = logical.partition(":")
    if not colon:
        return None
    return "QUOTED-PRINTABLE" in head.upper()


_SURROGATE = re.compile("[\udc80-\udcff]")


def _redecode(content: str) -> str:
    """Join UTF-8 sequences that a byte-counting writer folded in the middle.

    Text from the server is decoded with surrogateescape, so the two halves of a sequence split by a fold
    arrive as lone surrogates; once the fold is gone they are adjacent and decode to the real character.
    """
    if _SURROGATE.search(content) is None:
        return content
    return content.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")


def logical_lines(text: str) -> Iterator[tuple[str, int, int]]:
    """Unfolded lines as (content, start, end) with offsets covering every physical line involved.

    A quoted-printable soft line break (a QP value's line ending in `=`) takes precedence over folding, as in
    vobject: the next physical line continues the value verbatim, including any leading whitespace.
    """
    current: list[str] = []
    start = end = 0
    qp: bool | None = None  # is the current logical line quoted-printable? (None: head not complete yet)
    for line in physical_lines(text):
        if current and current[-1].endswith("="):
            if qp is None:
                qp = _qp_head("".join(current))
            if qp:
                current[-1] = current[-1][:-1]
                current.append(line.content)
                end = line.end
                continue
        if current and line.content[:1] in (" ", "\t"):
            current.append(line.content[1:])
            end = line.end
            continue
        if current:
            yield _redecode("".join(current)), start, end
        current = [line.content]
        qp = None
        start, end = line.start, line.end
    if current:
        yield _redecode("".join(current)), start, end


def _split_params(head: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    quoted = False
    for ch in head:
        if ch == '"':
            quoted = not quoted
            buf.append(ch)
        elif ch == ";" and not quoted:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return parts


def parse_line(line: str, start: int = 0, end: int = 0) -> Property | None:
    """Split `group.NAME;PARAM=a,b:value`. Returns None for a line with no name or no colon."""
    quoted = False
    colon = -1
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            colon = i
            break
    if colon <= 0:
        return None
    head, value = line[:colon], line[colon + 1 :]
    parts = _split_params(head)
    name = parts[0]
    group = ""
    if "." in name:
        group, name = name.rsplit(".", 1)
    if not name or not re.match(r"^[A-Za-z0-9-]+$", name):
        return None
    params: dict[str, list[str]] = {}
    for raw in parts[1:]:
        if not raw:
            continue
        key, eq, val = raw.partition("=")
        values = [v.strip('"') for v in val.split(",")] if eq else []
        params.setdefault(key.strip().upper(), []).extend(values)
    return Property(name=name.upper(), value=value, params=params, group=group, start=start, end=end)


def parse_card(text: str) -> list[Property]:
    """All properties of the first vCard in `text`, including BEGIN/END and nested cards' lines.

    Raises CardSyntaxError when the text is not a vCard (no BEGIN:VCARD ... END:VCARD).
    """
    props: list[Property] = []
    depth = 0
    seen_begin = seen_end = False
    for content, start, end in logical_lines(text):
        if not content.strip():
            continue
        prop = parse_line(content, start, end)
        if prop is None:
            if depth == 0:
                continue
            raise CardSyntaxError(f"line without a property name and value: {content[:40]!r}")
        if prop.name == "BEGIN" and prop.value.strip().upper() == "VCARD":
            depth += 1
            seen_begin = True
        elif prop.name == "END" and prop.value.strip().upper() == "VCARD":
            depth -= 1
            if depth == 0:
                props.append(prop)
                seen_end = True
                break
        if depth > 0:
            props.append(prop)
    if not seen_begin:
        raise CardSyntaxError("no BEGIN:VCARD")
    if not seen_end:
        raise CardSyntaxError("no END:VCARD")
    return props


def split_unescaped(value: str, sep: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            buf.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    if escaped:
        buf.append("\\")
    parts.append("".join(buf))
    return parts


def unescape(value: str) -> str:
    def repl(match: re.Match[str]) -> str:
        ch = match.group(1)
        return "\n" if ch in "nN" else ch

    return re.sub(r"\\(.)", repl, value)


def contact_from_card(card: Card) -> Contact:
    """The reference reading of a card (see syncd.core.contacts.contact_from_card)."""
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


_BINARY = re.compile(
    r"^(?:[A-Za-z0-9-]+\.)?(?:PHOTO|LOGO|SOUND|KEY)[;:][^\r\n]*(?:\r\n|\n)(?:[ \t][^\r\n]*(?:\r\n|\n|$))*",
    re.IGNORECASE | re.MULTILINE,
)


def without_binary(text: str) -> str:
    """The reference of syncd.store.members.without_binary."""
    if len(text) < 2048 or "QUOTED-PRINTABLE" in text.upper():
        return text
    return _BINARY.sub("", text)


# An independent, deliberately simple view of a card's bytes, for the patcher's tests --------------------

_PHYSICAL = re.compile(r"[^\r\n]*(?:\r\n|\n|\r|$)")
_XSYNCD_HEAD = re.compile(r"^(?:[A-Za-z0-9-]+\.)?(X-SYNCD-[A-Za-z0-9-]+)[;:]", re.IGNORECASE)
_XSYNCD_GROUP = re.compile(r"^([A-Za-z0-9-]+)\.X-SYNCD-", re.IGNORECASE)


def group_of(chunk: Chunk) -> str:
    match = _XSYNCD_GROUP.match(re.sub(r"(?:\r\n|\n|\r)[ \t]", "", chunk.raw))
    return match.group(1) if match else ""


@dataclass(frozen=True)
class Chunk:
    """A physical line plus the folded (space/tab) continuation lines after it, exactly as in the text."""

    raw: str
    xsyncd: str  # upper-cased X-SYNCD-* name, or "" for every other line

    @property
    def lines(self) -> list[str]:
        return [m for m in _PHYSICAL.findall(self.raw) if m]

    @property
    def eols(self) -> set[str]:
        return {line[len(line.rstrip("\r\n")) :] for line in self.lines}


def chunks(text: str) -> list[Chunk]:
    """Split text into chunks. QP soft-break continuations become chunks of their own, which is fine here:
    the tests only need to tell X-SYNCD lines (never QP, never continued without a fold) from the rest."""
    raws: list[str] = []
    for line in _PHYSICAL.findall(text):
        if not line:
            continue
        if raws and line[:1] in (" ", "\t"):
            raws[-1] += line
        else:
            raws.append(line)
    out: list[Chunk] = []
    for raw in raws:
        unfolded = re.sub(r"(?:\r\n|\n|\r)[ \t]", "", raw)
        match = _XSYNCD_HEAD.match(unfolded)
        out.append(Chunk(raw, match.group(1).upper() if match else ""))
    return out


def without_xsyncd(text: str, names: Iterable[str] | None = None) -> str:
    """The text with X-SYNCD chunks removed: all of them, or only those of `names`."""
    drop = None if names is None else set(names)
    return "".join(c.raw for c in chunks(text) if not c.xsyncd or (drop is not None and c.xsyncd not in drop))
