"""The line-level vCard reader and the X-SYNCD patcher (`syncd.core.vcard`, `syncd.core.xsyncd`), without a server.

Rules under test:
- `patch_xsyncd` changes only `X-SYNCD-*` properties that it is asked to change: every other byte of the card
  (order, case, folding, line endings, unknown properties, groups, QP soft breaks) stays as it was;
- a property that exists is replaced where it stands (duplicates removed, its own line ending kept), a new one
  goes just before END:VCARD with the card's line ending; patching twice is the same as patching once;
- lines it writes are folded at 75 octets, never inside a UTF-8 sequence;
- the reader agrees with vobject on the fields syncd uses, for cards as real clients write them
  (`tests/corpus/`), and refuses broken cards with `CardSyntaxError` (`NoUID` for a card without UID).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest
import vobject
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.core.contacts import Card, Contact, NoUID, contact_from_card
from syncd.core.vcard import CardSyntaxError, logical_lines, parse_card
from syncd.core.xsyncd import FOLD_OCTETS, card_eol, fold, patch_xsyncd, xsyncd_values
from tests.factories import BROKEN_CARDS, CORPUS, GOOD_CARDS, TEXT_CHARS, cards, read_corpus
from tests.vcard_reference import chunks, group_of, without_xsyncd

MANAGED = ("X-SYNCD-CIRCLE", "X-SYNCD-INTERVAL", "X-SYNCD-LAST-CONTACT", "X-SYNCD-SNOOZE")


def full_name(key: str) -> str:
    key = key.upper()
    return key if key.startswith("X-SYNCD-") else "X-SYNCD-" + key


def check_patch(text: str, updates: Mapping[str, str | None]) -> str:
    """Patch, then assert every rule of `patch_xsyncd` against the original text. Returns the patched text."""
    patched = patch_xsyncd(text, updates)
    wanted = {full_name(k): v for k, v in updates.items()}
    before_chunks = chunks(text)
    after_chunks = chunks(patched)
    eol = card_eol(text)

    # Everything but the X-SYNCD properties being changed is byte-identical, in the same order.
    assert without_xsyncd(patched, wanted) == without_xsyncd(text, wanted)

    # Where the changed ones went: replaced at their first occurrence with that line's own line ending,
    # duplicates and removed ones gone, new ones just before END:VCARD with the card's line ending.
    Token = tuple[Any, ...]
    expected: list[Token] = []
    placed: set[str] = set()
    for chunk in before_chunks:
        if chunk.xsyncd not in wanted:
            expected.append(("keep", chunk.raw))
        elif wanted[chunk.xsyncd] is not None and chunk.xsyncd not in placed:
            placed.add(chunk.xsyncd)
            last_eol = chunk.lines[-1][len(chunk.lines[-1].rstrip("\r\n")) :] or eol
            expected.append(("set", chunk.xsyncd, frozenset({last_eol}), group_of(chunk)))
    new = sorted(n for n, v in wanted.items() if v is not None and n not in placed)
    end_at = max(i for i, t in enumerate(expected) if t[0] == "keep" and t[1].upper().startswith("END:VCARD"))
    expected[end_at:end_at] = [("new", frozenset({eol}))] * len(new)
    actual: list[Token] = []
    for chunk in after_chunks:
        if chunk.xsyncd not in wanted:
            actual.append(("keep", chunk.raw))
        elif chunk.xsyncd in placed:
            actual.append(("set", chunk.xsyncd, frozenset(chunk.eols), group_of(chunk)))
        else:
            actual.append(("new", frozenset(chunk.eols)))
    assert actual == expected

    # Lines syncd wrote: folded at 75 octets (continuations start with one space), valid UTF-8 each.
    for chunk in after_chunks:
        if chunk.xsyncd in wanted:
            for i, line in enumerate(chunk.lines):
                body = line.rstrip("\r\n")
                assert len(body.encode("utf-8")) <= FOLD_OCTETS, body
                assert i == 0 or (body.startswith(" ") and len(body) > 1), chunk.raw

    # The values read back are the ones asked for; the others did not change.
    values = xsyncd_values(patched)
    old = xsyncd_values(text)
    for name in set(old) | set(values) | set(wanted):
        if name in wanted:
            assert values.get(name) == wanted[name], name
        else:
            assert values.get(name) == old.get(name), name
    parse_card(patched)  # still a card
    assert patch_xsyncd(patched, updates) == patched  # idempotent
    return patched


# (a) Property test: generated cards (tests.factories.cards), changes to them -------------------------------

_UPDATE_CHAR = st.characters(categories=("L", "M", "N", "P", "S"), include_characters=" ")
_UPDATE_VALUE = st.text(_UPDATE_CHAR, max_size=99).map(str.strip).filter(str.isprintable)


_UPDATE_KEY = {
    "CIRCLE": ["CIRCLE", "circle", "X-SYNCD-CIRCLE"],
    "INTERVAL": ["INTERVAL", "x-syncd-interval"],
    "LAST-CONTACT": ["LAST-CONTACT", "X-SYNCD-LAST-CONTACT"],
    "SNOOZE": ["snooze", "X-SYNCD-SNOOZE"],
    "OTHER": ["OTHER"],
}


@st.composite
def updates(draw: st.DrawFn) -> dict[str, str | None]:
    names = draw(st.sets(st.sampled_from(sorted(_UPDATE_KEY)), max_size=5))
    out: dict[str, str | None] = {}
    for name in sorted(names):
        key = draw(st.sampled_from(_UPDATE_KEY[name]))
        out[key] = draw(st.one_of(st.none(), _UPDATE_VALUE, st.sampled_from(["1", "P3M", "2024-06-01"])))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=cards(), changes=updates())
def test_patch_touches_only_the_xsyncd_lines_it_changes(text: str, changes: dict[str, str | None]) -> None:
    check_patch(text, changes)


@settings(max_examples=100, deadline=None)
@given(text=cards(), first=updates(), second=updates())
def test_patches_compose(text: str, first: dict[str, str | None], second: dict[str, str | None]) -> None:
    once = check_patch(text, first)
    twice = check_patch(once, second)
    assert without_xsyncd(twice) == without_xsyncd(text)


def test_patch_example_in_place_and_appended() -> None:
    text = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\nX-SYNCD-CIRCLE:3\nFN:A\r\n"
        "X-SYNCD-CIRCLE:4\r\nX-SYNCD-SNOOZE:2024-01-01\r\nEND:VCARD"
    )
    patched = patch_xsyncd(text, {"CIRCLE": "1", "SNOOZE": None, "interval": "P2W"})
    assert patched == (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\nX-SYNCD-CIRCLE:1\nFN:A\r\nX-SYNCD-INTERVAL:P2W\r\nEND:VCARD"
    )
    assert patch_xsyncd(text, {}) == text


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "tab\there", "bell\x07"])
def test_patch_refuses_values_that_are_not_one_printable_line(value: str) -> None:
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\nEND:VCARD\r\n"
    with pytest.raises(ValueError):
        patch_xsyncd(card, {"CIRCLE": value})
    with pytest.raises(ValueError):
        patch_xsyncd(card, {"CIR CLE": "1"})


@pytest.mark.parametrize("name", GOOD_CARDS)
def test_patch_every_corpus_card(name: str) -> None:
    text = read_corpus(name)
    circle = "Família & amigos 🎉 " * 5 + "end"  # long and non-ASCII: folded
    set_all = check_patch(text, {"CIRCLE": circle, "INTERVAL": "P1M", "SNOOZE": None})
    changed = check_patch(set_all, {"CIRCLE": "2", "LAST-CONTACT": "2024-05-01T10:00:00Z"})
    removed = check_patch(changed, {k: None for k in MANAGED})
    assert without_xsyncd(removed) == without_xsyncd(text)
    assert not set(xsyncd_values(removed)) & set(MANAGED)


def test_patch_existing_folded_and_duplicated_lines() -> None:
    text = read_corpus("xsyncd-existing.vcf")
    assert xsyncd_values(text) == {
        "X-SYNCD-CIRCLE": "Close friends and family members who live far away from here",
        "X-SYNCD-INTERVAL": "P2W",
        "X-SYNCD-LAST-CONTACT": "2024-04-01T18:30:00Z",
        "X-SYNCD-SNOOZE": "2024-06-01",
    }
    patched = check_patch(text, {"CIRCLE": "1", "INTERVAL": "P1W", "SNOOZE": None})
    assert patched.count("X-SYNCD-CIRCLE") == 1 and patched.count("X-SYNCD-INTERVAL") == 1
    assert "X-SYNCD-CIRCLE:1\r\nEMAIL:xaver@sync.example\r\n" in patched  # in place of the first one
    assert "x-syncd-last-contact:2024-04-01T18:30:00Z\r\n" in patched  # not asked for: untouched
    assert "SNOOZE" not in patched.upper()


def test_patch_keeps_the_group_of_a_replaced_line() -> None:
    """An Apple-style grouped line (item1.X-SYNCD-CIRCLE with an item1.X-ABLabel) keeps its group."""
    text = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:1\r\nitem1.X-SYNCD-CIRCLE:2\r\nitem1.X-ABLabel:circle\r\nEND:VCARD\r\n"
    patched = patch_xsyncd(text, {"CIRCLE": "1", "INTERVAL": "P2W"})
    assert patched == text.replace("item1.X-SYNCD-CIRCLE:2", "item1.X-SYNCD-CIRCLE:1").replace(
        "END:VCARD", "X-SYNCD-INTERVAL:P2W\r\nEND:VCARD"
    )


def test_patch_leaves_lookalike_and_grouped_foreign_properties() -> None:
    text = read_corpus("foreign-x-props.vcf")
    patched = check_patch(text, {"CIRCLE": "1", "INTERVAL": "P3M"})
    for line in ("X-SYNC-CIRCLE:not ours (no D)", "X-SYNCDX-CIRCLE:not ours either", "X-FRM-FREQUENCY:30"):
        assert f"\r\n{line}\r\n" in patched
    assert patched.endswith("X-SYNCD-CIRCLE:1\r\nX-SYNCD-INTERVAL:P3M\r\nEND:VCARD\r\n")


@pytest.mark.parametrize(
    ("name", "eol"), [("lf-only.vcf", "\n"), ("cr-only.vcf", "\r"), ("no-trailing-newline.vcf", "\r\n")]
)
def test_new_lines_use_the_cards_line_ending(name: str, eol: str) -> None:
    text = read_corpus(name)
    patched = check_patch(text, {"CIRCLE": "1"})
    assert f"{eol}X-SYNCD-CIRCLE:1{eol}END:VCARD" in patched
    assert patched.endswith("END:VCARD" + (eol if text.endswith(eol) else ""))


# (b) Folding ---------------------------------------------------------------------------------------------


def _unfold(text: str, eol: str) -> str:
    assert text.endswith(eol)
    return text[: -len(eol)].replace(eol + " ", "")


def _check_fold(line: str, eol: str) -> list[str]:
    out = fold(line, eol)
    physical = out[: -len(eol)].split(eol)
    for i, part in enumerate(physical):
        assert len(part.encode("utf-8")) <= FOLD_OCTETS
        if i:
            assert part.startswith(" ") and len(part) > 1
        if i < len(physical) - 1:  # a line is only cut when the next character would not fit
            nxt = physical[i + 1][1]
            assert len(part.encode("utf-8")) + len(nxt.encode("utf-8")) > FOLD_OCTETS
    assert _unfold(out, eol) == line
    return physical


def test_fold_short_and_exact_lines() -> None:
    assert fold("X-SYNCD-CIRCLE:1", "\r\n") == "X-SYNCD-CIRCLE:1\r\n"
    exact = "X-SYNCD-CIRCLE:" + "a" * (75 - 15)
    assert fold(exact, "\n") == exact + "\n"
    assert _check_fold(exact + "b", "\r\n") == [exact, " b"]
    assert _check_fold("X" * 75 + "y" * 74 + "z", "\r") == ["X" * 75, " " + "y" * 74, " z"]


@pytest.mark.parametrize("char", ["é", "€", "🎉", "日"])
def test_fold_never_splits_a_multibyte_character(char: str) -> None:
    width = len(char.encode("utf-8"))
    for pad in range(60 - width, 61):  # put the character across the 75-octet boundary at every offset
        line = "X-SYNCD-CIRCLE:" + "a" * pad + char * 3
        physical = _check_fold(line, "\r\n")
        assert "".join(p[1:] if i else p for i, p in enumerate(physical)) == line
        for part in physical:
            part.encode("utf-8").decode("utf-8")  # every physical line is valid UTF-8 by itself


@settings(max_examples=200, deadline=None)
@given(
    value=st.text(TEXT_CHARS, max_size=400),
    eol=st.sampled_from(["\r\n", "\n", "\r"]),
)
def test_fold_property(value: str, eol: str) -> None:
    _check_fold("X-SYNCD-CIRCLE:" + value, eol)


# (c) Reader against vobject, over the corpus -------------------------------------------------------------


def _vobject_card(text: str) -> Any:
    return vobject.readOne(re.sub(r"\r(?!\n)", "\n", text), allowQP=True)


def _values(card: Any, name: str) -> list[Any]:
    return [child.value for child in card.contents.get(name, [])]


def _contact(name: str) -> Contact:
    return contact_from_card(Card(href=f"/ab/{name}", etag='"1"', text=read_corpus(name)))


# The one card vobject reads wrongly: it keeps UTF-8 sequences that a fold split as lone surrogates.
VOBJECT_DIFFERS = {"nonascii-split-utf8.vcf"}


@pytest.mark.parametrize("name", [n for n in GOOD_CARDS if n not in VOBJECT_DIFFERS])
def test_reader_agrees_with_vobject(name: str) -> None:
    contact = _contact(name)
    card = _vobject_card(read_corpus(name))
    assert contact.name == _values(card, "fn")[0].strip()
    assert contact.uid == _values(card, "uid")[0].strip()
    assert contact.emails == [v.strip() for v in _values(card, "email")]
    assert contact.phones == [v.strip().removeprefix("tel:") for v in _values(card, "tel")]
    orgs = _values(card, "org")
    assert contact.org == (" – ".join(p for p in orgs[0] if p.strip()) if orgs else "")
    assert contact.categories == [c.strip() for v in _values(card, "categories") for c in v if c.strip()]
    notes = _values(card, "note")
    assert contact.note == (notes[0] if notes else "")
    titles = _values(card, "title")
    assert contact.title == (titles[0].strip() if titles else "")


def test_reader_details() -> None:
    group = _contact("apple-group.vcf")
    assert group.is_group and group.name == "Book club"
    assert group.members == [
        "6B29FC40-CA47-1067-B31D-00DD010662DA",
        "0E5B4C2A-9D3F-4A1E-8B7C-6D5E4F3A2B1C",
        "c3d7a8e2-5f41-4b6a-9e0d-2a1b3c4d5e6f",
    ]
    macos = _contact("apple-macos.vcf")
    assert macos.bday is not None and (macos.bday.month, macos.bday.day) == (3, 15)
    assert macos.circle == "3" and str(macos.interval) == "P3M"
    iphone = _contact("apple-iphone.vcf")
    assert iphone.emails[0] == "maja@nordictea.example"  # item1.EMAIL (grouped) is read
    assert iphone.bday is not None and iphone.bday.isoformat() == "1988-06-21"
    outlook = _contact("outlook-21.vcf")  # QP soft breaks joined, CHARSET honoured, bare params
    assert outlook.name == "Jürgen Müller" and outlook.org == "Contoso GmbH – Vertrieb Süd"
    assert outlook.note.startswith("Kennengelernt auf der Messe – ruft lieber vormittags an.\r\nZweite")
    label = next(p for p in parse_card(read_corpus("outlook-21.vcf")) if p.name == "LABEL")
    assert label.text() == "Hauptstraße 1\r\nBerlin 10115\r\nDeutschland"
    assert "WORK" in label.types and label.param("CHARSET") == ["utf-8"]
    existing = _contact("xsyncd-existing.vcf")
    assert existing.circle == "Close friends and family members who live far away from here"
    assert existing.snooze is not None and existing.snooze.isoformat() == "2024-06-01"
    assert existing.warnings == []


def test_reader_joins_utf8_split_by_a_fold() -> None:
    raw = (CORPUS / "nonascii-split-utf8.vcf").read_bytes()
    assert re.search(rb"[\x80-\xbf]", raw.split(b"\r\n ")[1][:1])  # the file really folds inside a character
    contact = _contact("nonascii-split-utf8.vcf")
    assert contact.name == "Ярослава Владимировна Кузнецова-Оболенская (Ярослава)"
    assert contact.note == ("Живёт в Санкт-Петербурге; любит Достоевского и чай с лимоном. " * 2).strip()
    assert contact.uid == "split-utf8-0001@example.org"


def test_reader_qp_soft_break_wins_over_folding() -> None:
    # A QP line ending in '=' continues on the next line verbatim, even if that line starts with a space.
    text = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\nUID:qp\r\nFN:QP\r\n"
        "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:one=\r\n two M=C3=BCller raw Müller=\r\n"
        "\r\nEND:VCARD\r\n"
    )
    contact = contact_from_card(Card(href="x", etag="", text=text))
    assert contact.note == "one two Müller raw Müller"
    [(_, start, end)] = [line for line in logical_lines(text) if line[0].startswith("NOTE")]
    assert text[start:end].endswith("=\r\n\r\n")
    check_patch(text, {"CIRCLE": "1"})


def test_reader_undecodable_bytes_use_charset() -> None:
    fn = b"FN;CHARSET=ISO-8859-1:J\xfcrgen M\xfcller\r\n"
    raw = b"BEGIN:VCARD\r\nVERSION:2.1\r\nUID:l1\r\n" + fn + b"END:VCARD\r\n"
    contact = contact_from_card(Card(href="x", etag="", text=raw.decode("utf-8", "surrogateescape")))
    assert contact.name == "Jürgen Müller"
    raw = raw.replace(b";CHARSET=ISO-8859-1", b"")
    contact = contact_from_card(Card(href="x", etag="", text=raw.decode("utf-8", "surrogateescape")))
    assert contact.name == "J\ufffdrgen M\ufffdller"  # no lone surrogates reach the user


@pytest.mark.parametrize("name", BROKEN_CARDS)
def test_broken_cards_are_refused(name: str) -> None:
    text = (CORPUS / "broken" / name).read_bytes().decode("utf-8", "surrogateescape")
    with pytest.raises(CardSyntaxError) as err:
        contact_from_card(Card(href=name, etag="", text=text))
    assert isinstance(err.value, NoUID) == (name == "no-uid.vcf")
    if name != "no-uid.vcf":
        with pytest.raises(CardSyntaxError):
            patch_xsyncd(text, {"CIRCLE": "1"})  # never written either
