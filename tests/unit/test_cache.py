"""The pure parts of the read path: cached contacts and tasks decode to exactly what a fresh parse gives,
the streamed multistatus parser gives what the whole-body parser gives however the bytes are cut, and the
progress display shows only in a terminal."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncd.app.demo import generate_cards
from syncd.app.progress import Progress
from syncd.core.account import canonical
from syncd.core.contacts import Card, Contact, contact_from_card
from syncd.core.durations import Duration
from syncd.core.reminders import build_task
from syncd.core.vcard import CardSyntaxError
from syncd.dav.multistatus import iter_multistatus, parse_multistatus
from syncd.store import account_cache, codec, fingerprints, members
from tests.factories import CORPUS

ZONE = ZoneInfo("Europe/Berlin")


def corpus_cards() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*.vcf"))


@pytest.mark.parametrize("path", corpus_cards(), ids=lambda p: p.name)
def test_cached_card_is_the_parsed_card(path: Path) -> None:
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    parsed = members.parse_card("http://h/ab/x.vcf", '"e1"', text, "Contacts")
    again = codec.decode(members.CARD, "http://h/ab/x.vcf", '"e1"', codec.encode(parsed))
    assert again == parsed
    try:  # reading without the binary properties gives what reading the whole card gives
        whole: object = contact_from_card(Card("http://h/ab/x.vcf", '"e1"', text, "Contacts"))
    except CardSyntaxError as err:
        whole = members.Broken(str(err))
    assert parsed == whole


PHOTO = "PHOTO;ENCODING=b;TYPE=JPEG:" + "QUJD" * 2000


def _folded(line: str, eol: str) -> str:
    return eol.join([line[:75]] + [" " + line[i : i + 74] for i in range(75, len(line), 74)])


@pytest.mark.parametrize("eol", ["\r\n", "\n"])
@pytest.mark.parametrize(
    "binary",
    [
        PHOTO,
        "item1." + PHOTO,
        "photo;encoding=b:" + "QUJD" * 800,
        "PHOTO:data:image/jpeg;base64," + "QUJD" * 900,
        "LOGO;VALUE=uri:https://example.org/logo.png",
        "KEY;ENCODING=b:" + "QUJD" * 700,
    ],
)
def test_binary_properties_are_skipped_when_reading(binary: str, eol: str) -> None:
    note = "NOTE:a note that mentions" + " x" * 60 + " PHOTO: and KEY: in its text"
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        "UID:u-1",
        "FN:Ada",
        _folded(note, eol),
        _folded(binary, eol),
        "EMAIL:ada@example.org",
        "X-SYNCD-CIRCLE:1",
        "END:VCARD",
    ]
    text = eol.join(lines) + eol
    assert "QUJDQUJD" not in members.without_binary(text) or len(text) < 2048
    parsed = members.parse_card("h", "e", text, "x")
    assert parsed == contact_from_card(Card("h", "e", text, "x"))
    assert isinstance(parsed, Contact) and parsed.emails == ["ada@example.org"] and "KEY:" in parsed.note


def test_generated_cards_round_trip() -> None:
    for i, text in enumerate(generate_cards(200, date(2026, 11, 22))):
        parsed = members.parse_card(f"http://h/ab/{i}.vcf", f'"{i}"', text, "Contacts")
        assert isinstance(parsed, Contact)
        assert codec.decode(members.CARD, parsed.href, parsed.etag, codec.encode(parsed)) == parsed


def test_cached_contact_format_is_stable() -> None:
    """The stored JSON of a contact; a change here must bump codec.CACHE_VERSION."""
    contact = Contact(
        uid="u1",
        name="Jürgen",
        href="/ab/u1.vcf",
        etag='"e"',
        addressbook="C",
        emails=["j@example.org"],
        categories=["A", "B"],
        bday=date(1604, 3, 15),
        xsyncd={"X-SYNCD-CIRCLE": "1"},
    )
    text = codec.encode(contact)
    assert codec.CACHE_VERSION == "2"
    assert text == (
        '["u1","Jürgen","C",["j@example.org"],[],"","",["A","B"],"",{"$d":"1604-03-15"},false,[],'
        '{"X-SYNCD-CIRCLE":"1"},[]]'
    )
    assert codec.decode(members.CARD, contact.href, contact.etag, text) == contact


@pytest.mark.parametrize(
    "row",
    [
        '{"uid":"u1","name":"A"}',  # the object rows of CACHE_VERSION 1
        '["u1","A"]',  # fewer fields than a Contact has
        '{"$d":"2024-01-01"}',
        "[]",
        "1",
        '"text"',
        "not json",
    ],
)
def test_rows_of_another_layout_do_not_decode(row: str) -> None:
    with pytest.raises((ValueError, TypeError, KeyError)):
        codec.decode(members.CARD, "/ab/u1.vcf", '"e"', row)


def test_cached_task_is_the_parsed_task() -> None:
    contact = Contact(uid="u1", name="Ada Lovelace", emails=["ada@example.org"])
    now = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    _, text = build_task(
        contact=contact,
        circle="1",
        interval=Duration("P14D"),
        priority=1,
        due=date(2026, 11, 22),
        due_time=None,
        zone=ZONE,
        now=now,
        task_list="https://dav.example.org/cal/tasks/",
    )
    task = members.parse_reminder("http://h/cal/t.ics", '"t"', text, ZONE)
    assert task is not None and not isinstance(task, members.Broken)
    assert codec.decode(members.TASK, task.href, task.etag, codec.encode(task)) == task
    assert codec.decode(members.TASK, "h", "e", codec.encode(None)) is None
    broken = members.parse_reminder("http://h/cal/b.ics", '"b"', "not ical", ZONE)
    assert isinstance(broken, members.Broken)
    assert codec.decode(members.TASK, "h", "e", codec.encode(broken)) == broken


def test_fingerprints_follow_the_zone() -> None:
    assert fingerprints.task_fingerprint(ZONE) != fingerprints.task_fingerprint(ZoneInfo("UTC"))
    assert fingerprints.card_fingerprint() == fingerprints.card_fingerprint()


def test_canonical_href() -> None:
    assert canonical("http://h:1/a%40b/c.vcf") == canonical("http://h:1/a@b/c.vcf")
    assert canonical("http://h/x%20y.vcf") == "http://h/x%20y.vcf"


MULTISTATUS = (
    b'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">'
    + b"".join(
        f'<d:response><d:href>/ab/{i}.vcf</d:href><d:propstat><d:prop><d:getetag>"{i}"</d:getetag>'
        f"<c:address-data>BEGIN:VCARD&#13;\nUID:{i}&#13;\nNOTE:&lt;{'x' * i}&gt;&#13;\nEND:VCARD&#13;\n"
        "</c:address-data></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>".encode()
        for i in range(20)
    )
    + b"<d:response><d:href>/ab/gone.vcf</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>"
    + b"<d:sync-token>tok</d:sync-token></d:multistatus>"
)


def _summary(resources: object) -> list[tuple[str, int, str | None, str | None]]:
    return [
        (r.href, r.status, r.text("d:getetag"), r.text("card:address-data"))  # type: ignore[attr-defined]
        for r in resources  # type: ignore[attr-defined]
    ]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(MULTISTATUS)), max_size=8))
def test_streamed_parse_equals_whole_parse(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [MULTISTATUS[a:b] for a, b in zip([0, *points], [*points, len(MULTISTATUS)], strict=True)]
    whole = parse_multistatus(MULTISTATUS, "http://h/ab/")
    streamed = _summary(iter_multistatus(chunks, "http://h/ab/"))
    assert streamed == _summary(whole.resources)
    assert streamed[0][3] is not None and "\r\n" in streamed[0][3]


def test_streamed_parse_of_broken_xml_is_a_server_error() -> None:
    from syncd.errors import ServerError

    with pytest.raises(ServerError):
        list(iter_multistatus([MULTISTATUS[:300], b"<<<"], "http://h/ab/"))


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_in_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    tty = Tty()
    with Progress(1000, "Reading contacts", tty) as progress:
        for _ in range(1000):
            progress.advance()
    assert "Reading contacts: 0/1000" in tty.getvalue()
    assert tty.getvalue().endswith("\r\x1b[K")
    pipe = io.StringIO()
    with Progress(1000, "Reading contacts", pipe) as progress:
        progress.advance(1000)
    assert pipe.getvalue() == ""
    small = Tty()
    with Progress(10, "Reading contacts", small) as progress:
        progress.advance(10)
    assert small.getvalue() == "", "a short read shows nothing"


def test_progress_of_a_streamed_read_shows_a_count_after_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first read streams in without a known total: a count, and only once the read has taken a second."""
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)
    clock = [100.0]
    monkeypatch.setattr("syncd.app.progress.time.monotonic", lambda: clock[0])
    quick = Tty()
    with Progress(None, "Reading contacts", quick) as progress:
        progress.advance(3000)
    assert quick.getvalue() == "", "a read done within a second shows nothing"
    slow = Tty()
    with Progress(None, "Reading contacts", slow) as progress:
        progress.advance(10)
        clock[0] += 1.5
        progress.advance(2990)
    assert "Reading contacts: 3000, 2000/s" in slow.getvalue() and slow.getvalue().endswith("\r\x1b[K")


def test_batches_are_fetched_ahead_in_order_and_errors_surface() -> None:
    from syncd.dav.multiget import Item, _ahead

    def fetch(part: list[str]) -> list[Item]:
        if part == ["boom"]:
            raise RuntimeError("server fell over")
        return [Item(h, "e", h) for h in part]

    batches = [[f"{i}-{j}" for j in range(3)] for i in range(5)]
    assert [i.href for i in _ahead(fetch, batches)] == [h for b in batches for h in b]
    with pytest.raises(RuntimeError, match="fell over"):
        list(_ahead(fetch, [["a"], ["boom"], ["c"]]))
    stream = _ahead(fetch, batches)
    assert next(stream).href == "0-0"
    stream.close()  # the fetching thread stops; nothing hangs


def test_discovered_account_is_reused_for_an_hour_for_the_same_server(tmp_path: Path) -> None:
    from syncd.config import Settings
    from syncd.core.account import Account, Collection
    from syncd.store.state import State

    settings = Settings.model_validate({"state_dir": tmp_path, "server": {"url": "https://dav.example.org/"}})
    other = Settings.model_validate({"state_dir": tmp_path, "server": {"url": "https://other.example.org/"}})
    account = Account(
        "https://dav.example.org/p/",
        "https://dav.example.org/p/",
        "https://dav.example.org/p/",
        [Collection("https://dav.example.org/p/ab/", "Contacts", "addressbook", set(), True)],
        [Collection("https://dav.example.org/p/t/", "Keep in touch", "calendar", {"VTODO"}, True)],
    )
    state = State.in_dir(tmp_path)
    try:
        account_cache.save_account(state, settings, account, now=1000.0)
        assert account_cache.load_account(state, settings, now=1000.0 + account_cache.DISCOVERY_TTL - 1) == account
        assert account_cache.load_account(state, settings, now=1000.0 + account_cache.DISCOVERY_TTL + 1) is None
        assert account_cache.load_account(state, other, now=1001.0) is None
        state.set_meta(account_cache.DISCOVERY_KEY, "{broken")
        assert account_cache.load_account(state, settings, now=1001.0) is None
    finally:
        state.close()
