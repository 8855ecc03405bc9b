"""`syncd import frm`: frm's X-FRM fields and history become X-SYNCD values where the card has none —
through the command line against real Radicale and Xandikos, plus the pure decisions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from syncd.app.cli import main
from syncd.core.durations import Duration
from syncd.engine.frm import History, frequency, last_from_history, nearest_circle, read_history, updates_for
from tests.factories import vcard
from tests.proxy import ProxyFactory, Respond, when
from tests.servers import DavServer
from tests.world import card_values, cards_text

CIRCLES = {"1": Duration("P14D"), "2": Duration("P30D"), "3": Duration("P90D")}
TODAY = date(2027, 3, 1)


def test_frequency_forms() -> None:
    assert frequency("2w") == Duration("P2W")
    assert frequency(" 3d ") == Duration("P3D")
    assert frequency("1m") == Duration("P1M")
    assert frequency("1y") == Duration("P1Y")
    assert frequency("0d") is None and frequency("weekly") is None and frequency("") is None


def test_nearest_circle() -> None:
    assert nearest_circle(Duration("P2W"), CIRCLES) == "1"
    assert nearest_circle(Duration("P1M"), CIRCLES) == "2"
    assert nearest_circle(Duration("P3M"), CIRCLES) == "3"
    assert nearest_circle(Duration("P22D"), CIRCLES) == "1"  # 8 days from 14, 8 from 30: inner wins the tie


def test_updates_only_where_syncd_has_nothing() -> None:
    last = datetime(2027, 2, 1, 18, 30, tzinfo=UTC)
    frm = {"X-FRM-FREQUENCY": "3w", "X-FRM-SNOOZE-UNTIL": "2027-04-01"}
    assert updates_for(frm, {}, CIRCLES, last, TODAY) == {
        "X-SYNCD-CIRCLE": "1",
        "X-SYNCD-INTERVAL": "P3W",
        "X-SYNCD-SNOOZE": "2027-04-01",
        "X-SYNCD-LAST-CONTACT": "2027-02-01T18:30:00Z",
    }
    # Same as the circle's interval: no own interval.
    assert updates_for({"X-FRM-FREQUENCY": "2w"}, {}, CIRCLES, None, TODAY) == {"X-SYNCD-CIRCLE": "1"}
    # Existing X-SYNCD values win, field by field.
    have = {"X-SYNCD-CIRCLE": "3", "X-SYNCD-LAST-CONTACT": "2027-02-20"}
    assert updates_for(frm, have, CIRCLES, last, TODAY) == {"X-SYNCD-INTERVAL": "P3W", "X-SYNCD-SNOOZE": "2027-04-01"}
    # Ignored: not tracked; a past snooze is not imported.
    assert updates_for({"X-FRM-IGNORE": "true", "X-FRM-FREQUENCY": "1m"}, {}, CIRCLES, None, TODAY) == {
        "X-SYNCD-CIRCLE": "none"
    }
    assert updates_for({"X-FRM-SNOOZE-UNTIL": "2027-01-01"}, {}, CIRCLES, None, TODAY) == {}
    assert updates_for({"X-FRM-SNOOZE-UNTIL": "soon"}, {}, CIRCLES, None, TODAY) == {}


def test_history() -> None:
    history = read_history(
        [
            '{"contact":"Ada Lovelace","time":"2027-01-02T10:00:00Z"}',
            '{"contact":"ada lovelace","time":"2027-02-03T10:00:00+01:00","note":"coffee"}',
            '{"contact":"Ada Lovelace","time":"2026-12-01T10:00:00Z"}',
            '{"contact":"Bo","time":"2027-01-05T10:00:00Z","path":"/dav/alice/contacts/bo.vcf"}',
            "not json",
            '{"contact":"X","time":"yesterday"}',
            "",
        ]
    )
    assert history.skipped == 2
    assert last_from_history(history, "ADA LOVELACE", "http://h/ab/ada.vcf") == datetime(2027, 2, 3, 9, tzinfo=UTC)
    assert last_from_history(history, "Renamed Bo", "http://h/dav/alice/contacts/bo.vcf") == datetime(
        2027, 1, 5, 10, tzinfo=UTC
    )
    assert last_from_history(History({}, {}), "Ada", "/x.vcf") is None


def test_import_frm_through_the_cli(dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ab_name, ab_url = dav.make_addressbook()
    cards = {
        "frm-weekly": vcard("frm-weekly", "Wendy Weekly", "X-FRM-FREQUENCY:1w", "X-FRM-GROUP:friends"),
        "frm-monthly": vcard("frm-monthly", "Mona Month", "X-FRM-FREQUENCY:1m", "X-FRM-SNOOZE-UNTIL:2027-05-01"),
        "frm-ignored": vcard("frm-ignored", "Iggy Nored", "X-FRM-IGNORE:true"),
        "frm-kept": vcard("frm-kept", "Kim Kept", "X-FRM-FREQUENCY:3m", "X-SYNCD-CIRCLE:1"),
        "frm-history": vcard("frm-history", "Hal History"),
        "frm-none": vcard("frm-none", "Nora None"),
    }
    for uid, text in cards.items():
        dav.put(ab_url + f"{uid}.vcf", text)
    log = tmp_path / "log.jsonl"
    log.write_text(
        '{"contact":"Hal History","time":"2027-02-10T18:00:00Z","note":"dinner"}\n'
        '{"contact":"Wendy Weekly","time":"2027-02-20T09:15:00+01:00"}\n'
        '{"contact":"Kim Kept","time":"2027-01-01T09:00:00Z"}\n'
        "garbage\n",
        encoding="utf-8",
    )
    cfg = dav.config(tmp_path, contacts={"addressbooks": [ab_name]})
    argv = ["--config", str(cfg), "--now", "2027-03-01T09:00", "import", "frm", "--log", str(log)]

    # A dry run writes nothing but says what it would do.
    before = cards_text(dav, ab_url)
    capsys.readouterr()
    assert main([*argv, "--dry-run", "--json"]) == 0
    planned = {row["uid"]: row for row in json.loads(capsys.readouterr().out)}
    assert cards_text(dav, ab_url) == before
    assert sorted(planned) == ["frm-history", "frm-ignored", "frm-kept", "frm-monthly", "frm-weekly"]
    assert not any(row["written"] for row in planned.values())

    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "5 cards with frm data to take over, 5 written" in out
    assert card_values(dav, ab_url, "frm-weekly") == {
        "X-SYNCD-CIRCLE": "1",
        "X-SYNCD-INTERVAL": "P1W",
        "X-SYNCD-LAST-CONTACT": "2027-02-20T08:15:00Z",
    }
    assert card_values(dav, ab_url, "frm-monthly") == {
        "X-SYNCD-CIRCLE": "2",
        "X-SYNCD-INTERVAL": "P1M",
        "X-SYNCD-SNOOZE": "2027-05-01",
    }
    assert card_values(dav, ab_url, "frm-ignored") == {"X-SYNCD-CIRCLE": "none"}
    # The card's own circle is kept; only what was missing is added.
    assert card_values(dav, ab_url, "frm-kept") == {
        "X-SYNCD-CIRCLE": "1",
        "X-SYNCD-INTERVAL": "P3M",
        "X-SYNCD-LAST-CONTACT": "2027-01-01T09:00:00Z",
    }
    assert card_values(dav, ab_url, "frm-history") == {"X-SYNCD-LAST-CONTACT": "2027-02-10T18:00:00Z"}
    assert card_values(dav, ab_url, "frm-none") == {}
    after = cards_text(dav, ab_url)
    weekly = next(text for href, text in after.items() if "frm-weekly" in href)
    assert "X-FRM-FREQUENCY:1w" in weekly and "X-FRM-GROUP:friends" in weekly, "frm's own fields stay"

    # Run again: nothing left to take over, nothing written.
    assert main(argv) == 0
    assert "0 cards with frm data to take over" in capsys.readouterr().out
    assert cards_text(dav, ab_url) == after

    # A --log that does not exist is bad input (65).
    assert main([*argv[:-1], str(tmp_path / "missing.jsonl")]) == 65


def test_import_frm_with_a_refused_card_names_it_and_exits_69(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server refuses one card (Cyrus: 403 valid-address-data): the other is written, the table says
    "refused", the JSON carries the reason, and the command exits 69 naming the contact and the reason."""
    dav = radicale
    ab_name, ab_url = dav.make_addressbook()
    dav.put(ab_url + "frm-a.vcf", vcard("frm-a", "Ann Accepted", "X-FRM-FREQUENCY:1w"))
    dav.put(ab_url + "frm-r.vcf", vcard("frm-r", "Rex Refused", "X-FRM-FREQUENCY:1m"))
    body = (
        b'<?xml version="1.0"?><D:error xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
        b"<C:valid-address-data/></D:error>"
    )
    refuse = Respond(403, body, (("Content-Type", "application/xml"),))
    proxy = counting_proxy(dav.url, when(refuse, method="PUT", path="/frm-r.vcf"))
    cfg = dav.config(tmp_path, server={"url": proxy.url}, contacts={"addressbooks": [ab_name]})
    log = tmp_path / "log.jsonl"
    log.write_text("", encoding="utf-8")
    argv = ["--config", str(cfg), "--now", "2027-03-01T09:00", "import", "frm", "--log", str(log)]
    capsys.readouterr()

    assert main(argv) == 69
    captured = capsys.readouterr()
    rows = {line.split()[0]: line for line in captured.out.splitlines() if line.startswith(("Ann", "Rex"))}
    assert rows["Ann"].rstrip().endswith("yes") and rows["Rex"].rstrip().endswith("refused")
    last = captured.err.strip().splitlines()[-1]
    assert "Rex Refused" in last and "valid-address-data" in last
    assert card_values(dav, ab_url, "frm-a")["X-SYNCD-INTERVAL"] == "P1W"
    assert card_values(dav, ab_url, "frm-r") == {}

    assert main([*argv, "--json"]) == 69
    refused = {row["uid"]: row["refused"] for row in json.loads(capsys.readouterr().out)}
    assert refused == {"frm-r": "valid-address-data (HTTP 403)"}, "frm-a is written by now: nothing left to do"
