"""The fast card reader gives exactly what the reference reader (tests/vcard_reference.py) gives.

Rules under test:
- `logical_lines`, `parse_line`, `parse_card` and the `Property` accessors return the same values (every
  Property field, start/end offsets included) or raise the same exception, for any text: soups of vCard-ish
  pieces (CR, LF, CR LF, folds, quotes, colons, separators, backslashes, `=` at line ends, QUOTED-PRINTABLE
  heads, non-ASCII, undecodable bytes, groups, nested cards, missing END) and realistic generated cards;
- `contact_from_card` gives equal Contacts (or the same exception) on those texts, on every corpus card in
  every line-ending style, and on the benchmark's generated cards with photos;
- `unescape` and `split_unescaped` equal the reference on any string.

More examples: SYNCD_FASTPARSE_EXAMPLES=5000 (default 300).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from syncd.app.demo import generate_cards
from syncd.core import vcard
from syncd.core.contacts import Card, contact_from_card
from syncd.store import members
from tests import vcard_reference as ref
from tests.factories import CORPUS, cards

EXAMPLES = int(os.environ.get("SYNCD_FASTPARSE_EXAMPLES", "300"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(fn: Callable[[], Any]) -> Any:
    """What calling fn gives: its value, or the exception's type and arguments."""
    try:
        return ("value", fn())
    except Exception as err:  # the exception itself is what is compared
        return ("raised", type(err), err.args)


def fields(prop: Any) -> tuple[Any, ...]:
    return (prop.name, prop.value, prop.params, prop.group, prop.start, prop.end)


def accessors(prop: Any) -> list[Any]:
    return [
        outcome(lambda: prop.decoded()),
        outcome(lambda: prop.text()),
        outcome(lambda: prop.components()),
        outcome(lambda: prop.components(",")),
        outcome(lambda: prop.types),
        outcome(lambda: prop.param("charset")),
    ]


def assert_same_reading(text: str) -> None:
    assert outcome(lambda: list(vcard.logical_lines(text))) == outcome(lambda: list(ref.logical_lines(text)))
    fast = outcome(lambda: vcard.parse_card(text))
    slow = outcome(lambda: ref.parse_card(text))
    if fast[0] == "raised" or slow[0] == "raised":
        assert fast == slow
    else:
        assert [fields(p) for p in fast[1]] == [fields(p) for p in slow[1]]
        assert [accessors(p) for p in fast[1]] == [accessors(p) for p in slow[1]]
    card = Card("/ab/x.vcf", '"1"', text, "Contacts")
    assert outcome(lambda: contact_from_card(card)) == outcome(lambda: ref.contact_from_card(card))


# Soups of vCard-ish pieces ------------------------------------------------------------------------------

_PIECES = [
    "BEGIN:VCARD", "END:VCARD", "begin:vcard", "End:VCard ", "BEGIN:VCARD\r\n", "END:VCARD\r\n", "VERSION:3.0",
    "\r\n", "\r\n", "\n", "\n", "\r", "\r\n ", "\r\n\t", "\n ", "\r ", " ", "\t", '"', ":", ";", ",", "\\", "\\n",
    "\\,", "\\;", "\\\\", "=", "=\r\n", "=\n", "=\r", "=\r\n ", ";ENCODING=QUOTED-PRINTABLE", ";QUOTED-PRINTABLE",
    ";encoding=quoted-printable", "QUOTED-PRI\r\n NTABLE", "quoted-prıntable", ";CHARSET=ISO-8859-1",
    ";CHARSET=nonsense", "=C3=BC", "=0D=0A", "=E2=82", "é", "ü", "山", "🎉", "\udcc3", "\udcbc", "\udce2\udc82",
    "\udcac", "\ud800", "item1.", "Grp-1.", ".", "UID:", "FN:", "N:", "EMAIL;TYPE=INTERNET:", "TEL;CELL:",
    "ORG:", "TITLE:", "CATEGORIES:", "NOTE:", "BDAY:", "BDAY:--0315", "BDAY:1988-06-21", "KIND:group",
    "X-ADDRESSBOOKSERVER-KIND:group", "MEMBER:urn:uuid:", "X-ADDRESSBOOKSERVER-MEMBER:", "X-SYNCD-CIRCLE:",
    "X-SYNCD-INTERVAL:P3M", "X-SYNCD-INTERVAL:", "X-SYNCD-LAST-CONTACT:2024-01-02T03:04:05Z", "X-SYNCD-SNOOZE:",
    "PHOTO;ENCODING=b:QUJD", 'TYPE="HOME;VOICE:x"', 'X-Q="a:b"', "TYPE=WORK,VOICE", "PREF", "a", "b", "x y",
    "0", "1", "-", "tel:", "\x0b", "\x0c", "\x85", "\u2028",
]  # fmt: skip


@st.composite
def soups(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=6)), max_size=60))
    if draw(st.booleans()):  # most soups then read as a card
        pieces = ["BEGIN:VCARD", draw(st.sampled_from(["\r\n", "\n", "\r"])), *pieces]
    return "".join(pieces)


@SETTINGS
@given(text=soups())
@example(text="\nBEGIN:VCARD\r\nUID:1\r\nEND:VCARD\r")
@example(text="BEGIN:VCARD\r\r\nUID:1\r \r\nEND:VCARD\n \r")
@example(text="BEGIN:VCARD\nNOTE;QUOTED-PRINTABLE:a=\n b=\r\n\r\nUID:=\r\nEND:VCARD")
@example(text="BEGIN:VCARD\nNOTE;QUOTED-PRI\r\n NTABLE:a=\n\tb\nUID:1\nEND:VCARD")
def test_soups_read_as_the_reference_reads_them(text: str) -> None:
    assert_same_reading(text)


@SETTINGS
@given(text=cards())
def test_generated_cards_read_as_the_reference_reads_them(text: str) -> None:
    assert_same_reading(text)


@SETTINGS
@given(line=soups(), start=st.integers(0, 9), end=st.integers(0, 9))
def test_parse_line_is_the_reference(line: str, start: int, end: int) -> None:
    fast = outcome(lambda: vcard.parse_line(line, start, end))
    slow = outcome(lambda: ref.parse_line(line, start, end))
    assert fast[0] == slow[0] == "value"
    assert (fast[1] is None) == (slow[1] is None)
    if fast[1] is not None:
        assert fields(fast[1]) == fields(slow[1])


@SETTINGS
@given(value=st.lists(st.sampled_from(["\\", ";", ",", "n", "N", "a", "é", "\n", "\udcc3", " "])).map("".join))
def test_escapes_are_the_reference(value: str) -> None:
    assert vcard.unescape(value) == ref.unescape(value)
    for sep in (";", ",", "ab", ""):
        assert vcard.split_unescaped(value, sep) == ref.split_unescaped(value, sep)


_BINARY_PIECES = [
    "PHOTO;ENCODING=b;TYPE=JPEG:", "item2.photo:", "LOGO;VALUE=uri:https://example.org/l.png", "KEY:", "SOUND;",
    "Photo", "XPHOTO:", "PHOTO", "KEY", "\r\n", "\n", "\r", "\r\n ", "\n\t", " ", "QUJD" * 30, "=", "\r\n=",
    "NOTE:x", "ıtem.KEY:", "END:VCARD", "QUOTED-PRINTABLE", "é",
]  # fmt: skip


@st.composite
def binary_soups(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.sampled_from(_BINARY_PIECES), max_size=40))
    return "".join(pieces) + draw(st.sampled_from(["", "\r\n", "\n"])) * draw(st.integers(0, 2))


@SETTINGS
@given(text=binary_soups(), padding=st.sampled_from(["", "NOTE:" + "x" * 2100 + "\r\n"]))
def test_without_binary_is_the_reference(text: str, padding: str) -> None:
    for whole in (text + padding, padding + text):
        assert members.without_binary(whole) == ref.without_binary(whole)


# Real cards in every line-ending style ----------------------------------------------------------------------


def _eol_variants(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    mixed = "".join(line + ("\r\n", "\n", "\r")[i % 3] for i, line in enumerate(lines))
    return [text, *("".join(line + eol for line in lines) for eol in ("\r\n", "\n", "\r")), mixed]


@pytest.mark.parametrize("path", sorted(CORPUS.rglob("*.vcf")), ids=lambda p: p.name)
def test_corpus_reads_as_the_reference_reads_it(path: Path) -> None:
    for text in _eol_variants(path.read_bytes().decode("utf-8", "surrogateescape")):
        assert_same_reading(text)
        stripped = members.without_binary(text)
        assert stripped == ref.without_binary(text)
        assert_same_reading(stripped)


def test_benchmark_cards_read_as_the_reference_reads_them() -> None:
    import base64
    import random

    rng = random.Random(6)
    for i, text in enumerate(generate_cards(400, date(2026, 11, 22), seed=6)):
        if i % 10 == 0:  # a ~20 KB photo, folded at 75 octets, as in bench/bench.py
            photo = "PHOTO;ENCODING=b;TYPE=JPEG:" + base64.b64encode(rng.randbytes(15_000)).decode()
            folded = "\r\n ".join([photo[:75]] + [photo[j : j + 74] for j in range(75, len(photo), 74)])
            text = text.replace("END:VCARD", folded + "\r\nEND:VCARD")
        assert_same_reading(text)
        assert members.without_binary(text) == ref.without_binary(text)
        assert_same_reading(members.without_binary(text))
