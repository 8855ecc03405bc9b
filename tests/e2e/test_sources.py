"""Where circles come from, through the command line against real Radicale and Xandikos: [[rules]] by
CATEGORIES, by Apple group cards and by vCard 4 KIND:group cards; NOTE tags (#circle2, #every 3w, #pause)
with their precedence and mirroring; and birthdays that move a reminder to the day."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from icalendar import Calendar

from syncd.app.cli import main
from tests.factories import vcard
from tests.servers import DavServer
from tests.world import card_values, cards_text, find_list, tasks_by_contact

RULES = """
[[rules]]
category = "Family"
circle = "1"

[[rules]]
group = "Circle 2"
circle = "2"

[[rules]]
group = "Inner"
circle = "1"
"""


def syncd(config: Path, now: str, *args: str) -> int:
    return main(["--config", str(config), "--now", now, *args])


def today_json(cfg: Path, now: str, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, str]]:
    capsys.readouterr()
    assert syncd(cfg, now, "today", "--json") == 0
    return {item["uid"]: item for item in json.loads(capsys.readouterr().out)}


def test_rules_groups_and_note_tags(dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ab_name, ab_url = dav.make_addressbook()
    cards = {
        # Apple-style group card (vCard 3) with one member; vCard 4 KIND:group card with another.
        "grp-apple": vcard(
            "grp-apple",
            "Circle 2",
            "X-ADDRESSBOOKSERVER-KIND:group",
            "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:src-apple-member",
        ),
        "grp-v4": vcard("grp-v4", "Inner", "KIND:group", "MEMBER:urn:uuid:src-v4-member", version="4.0"),
        "src-apple-member": vcard("src-apple-member", "Apple Member"),
        "src-v4-member": vcard("src-v4-member", "Four Member", version="4.0"),
        "src-family": vcard("src-family", "Fam Ily", "CATEGORIES:Friends,Family"),
        "src-default": vcard("src-default", "Plain Person"),
        # NOTE tags beat the card's own X-SYNCD-CIRCLE and the rules; they are mirrored into the card.
        "src-tag": vcard("src-tag", "Tag Ged", "CATEGORIES:Family", "NOTE:Met in Lyon. #circle2", "X-SYNCD-CIRCLE:1"),
        "src-every": vcard("src-every", "Every Three", "NOTE:#every 3w\\nlikes tea"),
        "src-pause": vcard("src-pause", "Paused Person", "NOTE:on sabbatical #pause", "X-SYNCD-CIRCLE:1"),
        # The card's own X-SYNCD-CIRCLE beats a rule.
        "src-own": vcard("src-own", "Own Circle", "CATEGORIES:Family", "X-SYNCD-CIRCLE:3"),
    }
    for uid, text in cards.items():
        dav.put(ab_url + f"{uid}.vcf", text)
    list_name = f"Keep in touch {tmp_path.name}"
    cfg = dav.config(
        tmp_path,
        contacts={"addressbooks": [ab_name], "default_circle": "3"},
        reminders={"task_list": list_name, "daily_limit": 20},
    )
    cfg.write_text(cfg.read_text() + RULES)

    assert syncd(cfg, "2027-03-01T09:00", "sync") == 0
    today = today_json(cfg, "2027-03-01T09:05", capsys)
    circles = {uid: item["circle"] for uid, item in today.items()}
    assert circles == {
        "src-apple-member": "2",
        "src-v4-member": "1",
        "src-family": "1",
        "src-default": "3",
        "src-tag": "2",
        "src-every": "3",
        "src-own": "3",
    }, "group cards are groups, #pause is not tracked"
    # Rule-derived and default circles are never written into cards; tags are mirrored.
    for uid in ("src-apple-member", "src-v4-member", "src-family", "src-default"):
        assert card_values(dav, ab_url, uid) == {}, uid
    assert card_values(dav, ab_url, "src-tag") == {"X-SYNCD-CIRCLE": "2"}
    assert card_values(dav, ab_url, "src-every") == {"X-SYNCD-INTERVAL": "P3W"}
    assert card_values(dav, ab_url, "src-pause") == {"X-SYNCD-CIRCLE": "none", "X-SYNCD-PAUSED-BY": "note"}
    assert card_values(dav, ab_url, "src-own") == {"X-SYNCD-CIRCLE": "3"}
    tagged = next(t for h, t in cards_text(dav, ab_url).items() if "src-tag" in h)
    assert "Met in Lyon. #circle2" in tagged, "the NOTE itself is left alone"
    found = tasks_by_contact(dav, find_list(dav, list_name))
    assert "src-pause" not in found and "grp-apple" not in found and "grp-v4" not in found

    # Nothing changed: a second sync writes no card.
    before = cards_text(dav, ab_url)
    assert syncd(cfg, "2027-03-01T10:00", "sync") == 0
    assert cards_text(dav, ab_url) == before

    # The tag changes on the phone (#circle2 -> #circle 1): mirrored again.
    href = next(h for h in before if "src-tag" in h)
    r = dav.get(href)
    dav.put(href, r.text.replace("#circle2", "#Circle 1"), **{"If-Match": r.headers["ETag"]})
    assert syncd(cfg, "2027-03-01T11:00", "sync") == 0
    assert card_values(dav, ab_url, "src-tag") == {"X-SYNCD-CIRCLE": "1"}

    # #pause is removed on the phone: the pause ends, the default circle applies again.
    href = next(h for h in before if "src-pause" in h)
    r = dav.get(href)
    dav.put(href, r.text.replace(" #pause", ""), **{"If-Match": r.headers["ETag"]})
    assert syncd(cfg, "2027-03-01T11:30", "sync") == 0
    assert card_values(dav, ab_url, "src-pause") == {}
    assert today_json(cfg, "2027-03-01T11:35", capsys)["src-pause"]["circle"] == "3"

    # `syncd set` against a tag: written, with a warning; the tag wins again at the next sync.
    capsys.readouterr()
    assert syncd(cfg, "2027-03-01T12:00", "set", "Tag Ged", "--circle", "3") == 0
    assert "NOTE's tags" in capsys.readouterr().err
    assert card_values(dav, ab_url, "src-tag") == {"X-SYNCD-CIRCLE": "3"}
    assert syncd(cfg, "2027-03-01T12:05", "sync") == 0
    assert card_values(dav, ab_url, "src-tag") == {"X-SYNCD-CIRCLE": "1"}


def test_birthday_moves_the_reminder(dav: DavServer, tmp_path: Path) -> None:
    ab_name, ab_url = dav.make_addressbook()
    last = "X-SYNCD-LAST-CONTACT:2027-01-01T12:00:00Z"  # circle 3 (90 days): due 2027-04-01
    dav.put(ab_url + "bd-v4.vcf", vcard("bd-v4", "Bea Four", "BDAY:--0310", "X-SYNCD-CIRCLE:3", last, version="4.0"))
    dav.put(ab_url + "bd-v3.vcf", vcard("bd-v3", "Ben Three", "BDAY:1985-03-10", "X-SYNCD-CIRCLE:3", last))
    dav.put(ab_url + "bd-off.vcf", vcard("bd-off", "Otto Off", "BDAY:1985-03-10", "X-SYNCD-CIRCLE:2", last))
    dav.put(ab_url + "bd-early.vcf", vcard("bd-early", "Erin Early", "BDAY:1985-01-20", "X-SYNCD-CIRCLE:3", last))
    list_name = f"Keep in touch {tmp_path.name}"
    cfg = dav.config(
        tmp_path,
        contacts={"addressbooks": [ab_name]},
        reminders={"task_list": list_name},
        circles={
            "1": {"interval": "P14D"},
            "2": {"interval": "P90D", "birthdays": False},
            "3": {"interval": "P90D"},
        },
    )
    assert syncd(cfg, "2027-03-09T09:00", "sync") == 0
    assert tasks_by_contact(dav, find_list(dav, list_name)) == {}, "not ahead of the birthday"
    assert syncd(cfg, "2027-03-10T09:00", "sync") == 0
    list_url = find_list(dav, list_name)
    found = tasks_by_contact(dav, list_url)
    assert sorted(found) == ["bd-v3", "bd-v4"], "circle 2 has birthdays off; Erin's birthday was too early"
    for href in dav.list_hrefs(list_url):
        todo = next(iter(Calendar.from_ical(dav.get(href).content).walk("VTODO")))
        name = {"bd-v3": "Ben Three", "bd-v4": "Bea Four"}[str(todo["X-SYNCD-CONTACT"])]
        assert str(todo["SUMMARY"]) == f"Reach out to {name} – birthday today"
        assert todo["DUE"].dt.isoformat() == "2027-03-10"
