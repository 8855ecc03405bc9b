"""A card's `X-SYNCD-*` lines: their values, and a patcher that touches those lines and no other byte.

The patcher never re-serializes a card. It finds the physical lines that make up each `X-SYNCD-*` property
(with the reader of `core.vcard`), replaces or removes exactly those, and inserts new ones just before
`END:VCARD`, folded at 75 octets with the card's own line ending. Every other byte stays as the server served it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from syncd.core.vcard import parse_card

XSYNCD_PREFIX = "X-SYNCD-"
FOLD_OCTETS = 75

_EOL = re.compile(r"\r\n|\n|\r")


def fold(line: str, eol: str) -> str:
    """Fold a content line at 75 octets (continuations start with a space), never inside a UTF-8 sequence."""
    out: list[str] = []
    buf: list[str] = []
    size = 0
    limit = FOLD_OCTETS
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            out.append("".join(buf))
            buf, size, limit = [" "], 1, FOLD_OCTETS
        buf.append(ch)
        size += n
    out.append("".join(buf))
    return eol.join(out) + eol


def _check_value(name: str, value: str) -> None:
    if not re.match(r"^[A-Z0-9-]+$", name):
        raise ValueError(f"bad property name {name!r}")
    if any(ch in value for ch in "\r\n") or not value.isprintable():
        raise ValueError(f"{name}: value must be one printable line")


def card_eol(text: str) -> str:
    """The end-of-line sequence the card itself uses (that of its first line)."""
    match = _EOL.search(text)
    return match.group() if match else "\r\n"


def xsyncd_values(text: str) -> dict[str, str]:
    """The card's `X-SYNCD-*` values by upper-cased name (the first occurrence wins)."""
    out: dict[str, str] = {}
    for prop in parse_card(text):
        if prop.name.startswith(XSYNCD_PREFIX) and prop.name not in out:
            out[prop.name] = prop.value.strip()
    return out


def patch_xsyncd(text: str, updates: Mapping[str, str | None]) -> str:
    """Set (str) or remove (None) `X-SYNCD-*` properties, touching no other byte of the card.

    A property that exists is replaced where it stands (further duplicates are removed); a new one is inserted
    just before the card's END:VCARD. Names are given without or with the `X-SYNCD-` prefix.
    """
    wanted: dict[str, str | None] = {}
    for key, value in updates.items():
        name = key.upper()
        if not name.startswith(XSYNCD_PREFIX):
            name = XSYNCD_PREFIX + name
        if value is not None:
            _check_value(name, value)
        wanted[name] = value
    if not wanted:
        return text
    props = parse_card(text)
    eol = card_eol(text)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) on the original text
    done: set[str] = set()
    for prop in props:
        if prop.name not in wanted:
            continue
        # A property's span ends after its last line's EOL; keep that EOL style when replacing.
        value = wanted[prop.name]
        if value is None or prop.name in done:
            edits.append((prop.start, prop.end, ""))
            continue
        original_eol = _span_eol(text, prop.start, prop.end) or eol
        group = f"{prop.group}." if prop.group else ""  # item1.X-SYNCD-…: keep the group Apple tied a label to
        edits.append((prop.start, prop.end, fold(f"{group}{prop.name}:{value}", original_eol)))
        done.add(prop.name)
    additions = "".join(
        fold(f"{name}:{value}", eol) for name, value in wanted.items() if value is not None and name not in done
    )
    if additions:
        end_prop = props[-1]  # parse_card ends with the top-level END:VCARD
        edits.append((end_prop.start, end_prop.start, additions))
    out: list[str] = []
    pos = 0
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1])):
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _span_eol(text: str, start: int, end: int) -> str:
    segment = text[start:end]
    for candidate in ("\r\n", "\n", "\r"):
        if segment.endswith(candidate):
            return candidate
    return ""


def apply_to_card(text: str, compute: Callable[[dict[str, str]], Mapping[str, str | None]]) -> str:
    """Re-derive the updates from the card's current X-SYNCD values, then patch (used after a 412)."""
    return patch_xsyncd(text, compute(xsyncd_values(text)))
