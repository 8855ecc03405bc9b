"""NOTE tags (#circle2, #every 3w, #pause): lenient parsing, precedence in circles.resolve, mirroring."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.config import RuleConfig, Settings
from syncd.core.circles import resolve
from syncd.core.contacts import CIRCLE, INTERVAL, Contact
from syncd.core.durations import Duration
from syncd.core.notetags import PAUSED_BY, mirror_updates, parse

KEYS = ["1", "2", "3"]


@pytest.mark.parametrize(
    ("note", "circle"),
    [
        ("#circle2", "2"),
        ("Met in Lyon. #Circle 2", "2"),
        ("#CIRCLE:3 loves sailing", "3"),
        ("#circle=inner", "inner"),
        ("first #circle1 then #circle3", "3"),
        ("line one\n#circle-2\nline three", "2"),
        ("no tag here", None),
        ("mail#circle2 is not a tag", None),
        ("##circle2", None),
    ],
)
def test_circle_tags(note: str, circle: str | None) -> None:
    assert parse(note).circle == circle


@pytest.mark.parametrize(
    ("note", "interval"),
    [
        ("#every 3w", "P3W"),
        ("#every3w", "P3W"),
        ("#Every 10 days", "P10D"),
        ("#every 2 months", "P2M"),
        ("#every 1y", "P1Y"),
        ("#every P6W", "P6W"),
        ("#every: 5d", "P5D"),
    ],
)
def test_every_tags(note: str, interval: str) -> None:
    assert parse(note).interval == Duration(interval)


def test_unreadable_every_is_reported_not_fatal() -> None:
    tags = parse("#every 0d #circle2")
    assert tags.interval is None and tags.circle == "2"
    assert tags.problems and "#every 0d" in tags.problems[0]


@pytest.mark.parametrize("note", ["#pause", "on leave #PAUSED for now", "#pause."])
def test_pause(note: str) -> None:
    assert parse(note).pause


def test_pause_needs_a_word_end() -> None:
    assert not parse("#pauses").pause
    assert not parse("#pause-me").pause


def test_mirror_updates() -> None:
    assert mirror_updates(parse("#circle2"), {}, KEYS) == {CIRCLE: "2"}
    assert mirror_updates(parse("#circle2"), {CIRCLE: "2"}, KEYS) == {}
    assert mirror_updates(parse("#pause"), {CIRCLE: "1"}, KEYS) == {CIRCLE: "none", PAUSED_BY: "note"}
    assert mirror_updates(parse("#pause"), {CIRCLE: "none", PAUSED_BY: "note"}, KEYS) == {}
    # Already `none` (syncd set --circle none): the tag does not claim that pause.
    assert mirror_updates(parse("#pause"), {CIRCLE: "none"}, KEYS) == {}
    assert mirror_updates(parse("#every 3w"), {INTERVAL: "P21D"}, KEYS) == {}  # same length: unchanged
    assert mirror_updates(parse("#every 3w"), {INTERVAL: "P1M"}, KEYS) == {INTERVAL: "P3W"}
    assert mirror_updates(parse("#circle9"), {}, KEYS) == {}  # not a circle: nothing written
    assert mirror_updates(parse("nothing"), {CIRCLE: "1"}, KEYS) == {}


def person(note: str = "", circle: str | None = None, categories: tuple[str, ...] = ()) -> Contact:
    c = Contact(uid="u1", name="Ada", note=note, categories=list(categories))
    if circle is not None:
        c.xsyncd[CIRCLE] = circle
    return c


def settings(**kw: object) -> Settings:
    return Settings(
        rules=[RuleConfig(category="Family", circle="1"), RuleConfig(group="Circle 2", circle="2")],
        **kw,  # type: ignore[arg-type]
    )


def test_precedence_tag_card_rule_default() -> None:
    s = settings(contacts={"default_circle": "3"})
    groups = {"circle 2": {"u1"}}
    assert resolve(person("#circle2", "1", ("Family",)), s.circle_rules, groups).circle == "2"  # type: ignore[union-attr]
    assert resolve(person("", "3", ("Family",)), s.circle_rules, groups).circle == "3"  # type: ignore[union-attr]
    assert resolve(person("", None, ("family",)), s.circle_rules, groups).circle == "1"  # type: ignore[union-attr]
    m = resolve(person(), s.circle_rules, groups)
    assert m is not None and (m.circle, m.source) == ("2", "rule")
    m = resolve(person(), s.circle_rules, {})
    assert m is not None and (m.circle, m.source) == ("3", "default")
    assert resolve(person("#pause", "1", ("Family",)), s.circle_rules, groups) is None


def test_tag_interval_beats_card_interval() -> None:
    c = person("#every 10d", "1")
    c.xsyncd[INTERVAL] = "P2M"
    m = resolve(c, settings().circle_rules, {})
    assert m is not None and m.interval == Duration("P10D") and m.source == "card"


def test_unknown_tag_circle_warns_and_falls_through() -> None:
    notes: list[str] = []
    m = resolve(person("#circle7", "2"), settings().circle_rules, {}, notes)
    assert m is not None and m.circle == "2"
    assert any("#circle7" in n for n in notes)


def test_removing_pause_ends_it() -> None:
    paused = {CIRCLE: "none", PAUSED_BY: "note"}
    assert mirror_updates(parse("back again"), paused, KEYS) == {CIRCLE: None, PAUSED_BY: None}
    assert mirror_updates(parse("#circle2"), paused, KEYS) == {CIRCLE: "2", PAUSED_BY: None}
    # Set to a circle meanwhile: only the marker goes.
    assert mirror_updates(parse(""), {CIRCLE: "1", PAUSED_BY: "note"}, KEYS) == {PAUSED_BY: None}
    # Resolution does not wait for the write: the contact is tracked again at once.
    c = person("", "none")
    c.xsyncd[PAUSED_BY] = "note"
    m = resolve(c, settings(contacts={"default_circle": "3"}).circle_rules, {})
    assert m is not None and m.circle == "3"
    assert resolve(person("", "none"), settings(contacts={"default_circle": "3"}).circle_rules, {}) is None


FRAGMENTS = ["#circle2", "#Circle 3", "#every 3w", "#every 0d", "#pause", "#circle9", "#every P1M", " ", "\n", "x"]


@given(st.lists(st.one_of(st.text(max_size=8), st.sampled_from(FRAGMENTS)), max_size=12).map("".join))
def test_any_note_parses_without_error(note: str) -> None:
    tags = parse(note)
    updates = mirror_updates(tags, {}, KEYS)
    assert set(updates) <= {CIRCLE, INTERVAL, PAUSED_BY}
    assert mirror_updates(tags, {k: v for k, v in updates.items() if v is not None}, KEYS) == {}, "idempotent"
