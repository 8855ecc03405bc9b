"""The whole loop through the command line, against real Radicale and Xandikos, with a frozen clock:

contacts with circles -> at most daily_limit reminders -> two completed iPhone-style -> their cards get
X-SYNCD-LAST-CONTACT and no new reminder -> one deleted -> snoozed -> one DUE moved -> kept -> an unchanged
sync writes nothing (counted at a proxy in front of the server) -> state lost -> rebuilt without duplicates.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from syncd.app.cli import main
from tests.factories import contact_card
from tests.proxy import CountingProxy
from tests.servers import EVERY_SERVER, ICAL, DavServer
from tests.world import card_values, find_list, tasks_by_contact

# (uid, name, circle or None, last contact or None)
PEOPLE = [
    ("e2e-alice", "Alice Archer", "1", "2026-10-01T12:00:00Z"),  # 38 days over a 14-day interval: ratio 2.7
    ("e2e-bob", "Bob Brown", "2", None),  # never contacted: due now, ratio 0
    ("e2e-carol", "Carol Chen", "1", "2026-11-01T12:00:00Z"),  # ratio 0.5
    ("e2e-dan", "Dan Díaz", "3", "2026-06-01T12:00:00Z"),  # ratio 0.93
    ("e2e-eve", "Eve Evans", "2", "2026-11-20T12:00:00Z"),  # not due
    ("e2e-frank", "Frank Fox", None, None),  # not tracked
    ("e2e-grace", "Grace Green", "3", None),  # never contacted, outer circle
    ("e2e-heidi", "Heidi Hall", "2", "2026-09-01T12:00:00Z"),  # ratio 1.73
]


def syncd(config: Path, now: str, *args: str) -> int:
    return main(["--config", str(config), "--now", now, *args])


def complete_like_iphone(dav: DavServer, href: str, completed: str) -> None:
    r = dav.get(href)
    text = r.text.replace("STATUS:NEEDS-ACTION", "STATUS:COMPLETED")
    extra = f"COMPLETED:{completed}\r\nPERCENT-COMPLETE:100\r\nX-APPLE-SORT-ORDER:712345678\r\n"
    text = re.sub(r"END:VTODO", extra.replace("\\", "\\\\") + "END:VTODO", text, count=1)
    dav.put(href, text, ICAL, **{"If-Match": r.headers["ETag"]})


def move_due(dav: DavServer, href: str, new_due: str) -> None:
    r = dav.get(href)
    text = re.sub(r"DUE;VALUE=DATE:\d{8}", f"DUE;VALUE=DATE:{new_due}", r.text)
    assert text != r.text
    dav.put(href, text, ICAL, **{"If-Match": r.headers["ETag"]})


@pytest.mark.parametrize("dav", EVERY_SERVER, indirect=True)
def test_full_loop(dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ab_name, ab_url = dav.make_addressbook()
    for person in PEOPLE:
        dav.put(ab_url + f"{person[0]}.vcf", contact_card(*person))
    list_name = f"Keep in touch {tmp_path.name}"
    proxy = CountingProxy(dav.url).start()
    try:
        cfg = dav.config(
            tmp_path,
            server={"url": proxy.url},
            contacts={"addressbooks": [ab_name]},
            reminders={"task_list": list_name, "daily_limit": 3},
        )

        # 1. First sync: the task list is created, the three most overdue get a reminder due today.
        assert syncd(cfg, "2026-11-22T09:00", "sync") == 0
        list_url = find_list(dav, list_name)
        found = tasks_by_contact(dav, list_url)
        assert sorted(found) == ["e2e-alice", "e2e-dan", "e2e-heidi"]
        for contact_uid, [(_href, _text, cal)] in found.items():
            todo = next(iter(cal.walk("VTODO")))
            assert str(todo["STATUS"]) == "NEEDS-ACTION"
            assert todo["DUE"].dt.isoformat() == "2026-11-22"
            assert str(todo["SUMMARY"]).startswith("Reach out to ")
            assert "Circle" in str(todo["DESCRIPTION"]) and "@example.org" in str(todo["DESCRIPTION"])
            expected_priority = {"e2e-alice": 1, "e2e-heidi": 5, "e2e-dan": 9}[contact_uid]
            assert int(todo["PRIORITY"]) == expected_priority
        assert all(m != "PUT" or "/ab-" not in p for m, p, *_ in proxy.snapshot()), "no card is written"

        # `today --json` shows them.
        capsys.readouterr()
        assert syncd(cfg, "2026-11-22T09:05", "today", "--json") == 0
        today = json.loads(capsys.readouterr().out)
        assert {item["uid"] for item in today} == {"e2e-alice", "e2e-dan", "e2e-heidi"}
        assert all(item["due"] == "2026-11-22" for item in today)

        # 2. Alice and Heidi are ticked off on the phone.
        complete_like_iphone(dav, found["e2e-alice"][0][0], "20261122T101500Z")
        complete_like_iphone(dav, found["e2e-heidi"][0][0], "20261122T111500Z")
        assert syncd(cfg, "2026-11-22T18:00", "sync") == 0
        assert card_values(dav, ab_url, "e2e-alice")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T10:15:00Z"
        assert card_values(dav, ab_url, "e2e-heidi")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T11:15:00Z"
        found = tasks_by_contact(dav, list_url)
        assert len(found["e2e-alice"]) == 1 and len(found["e2e-heidi"]) == 1, "no new reminder until due"
        # Two slots freed: the next two by rank (Carol 0.5, then Bob: never contacted, inner circle first).
        assert sorted(found) == ["e2e-alice", "e2e-bob", "e2e-carol", "e2e-dan", "e2e-heidi"]
        completed_text = found["e2e-alice"][0][1]
        assert "X-APPLE-SORT-ORDER:712345678" in completed_text, "the phone's properties are kept"

        # 3. Carol's reminder is deleted on the phone; Bob's is moved to next week.
        carol_href = found["e2e-carol"][0][0]
        r = dav.http("DELETE", carol_href)
        assert r.status_code in (200, 204)
        move_due(dav, found["e2e-bob"][0][0], "20261129")
        assert syncd(cfg, "2026-11-22T19:00", "sync") == 0
        assert card_values(dav, ab_url, "e2e-carol")["X-SYNCD-SNOOZE"] == "2026-12-06"  # today + 14 days
        found = tasks_by_contact(dav, list_url)
        assert "e2e-carol" not in found
        bob = next(iter(found["e2e-bob"][0][2].walk("VTODO")))
        assert bob["DUE"].dt.isoformat() == "2026-11-29", "a DUE the user moved is kept"
        # Slots: only Dan is open and due today, Bob moved away: Grace (never contacted) comes in.
        assert "e2e-grace" in found and len(found["e2e-grace"]) == 1

        # `done` from the command line records the contact and closes the open reminder.
        assert syncd(cfg, "2026-11-22T19:10", "done", "Dan Díaz") == 0
        assert card_values(dav, ab_url, "e2e-dan")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T18:10:00Z"
        dan = next(iter(tasks_by_contact(dav, list_url)["e2e-dan"][0][2].walk("VTODO")))
        assert str(dan["STATUS"]) == "COMPLETED" and int(dan["PERCENT-COMPLETE"]) == 100
        assert dan["COMPLETED"].dt.isoformat() == "2026-11-22T18:10:00+00:00"

        # 4. Nothing changed: the next sync writes nothing at all.
        proxy.reset()
        assert syncd(cfg, "2026-11-22T19:30", "sync") == 0
        assert proxy.writes() == []
        assert proxy.snapshot(), "the sync did talk to the server"

        # 5. The local state is lost: the next sync rebuilds it, with no duplicate and no write.
        for path in (tmp_path / "state").iterdir():
            path.unlink()
        proxy.reset()
        assert syncd(cfg, "2026-11-22T20:00", "sync") == 0
        assert proxy.writes() == []
        found = tasks_by_contact(dav, list_url)
        assert all(len(v) == 1 for v in found.values()), found.keys()
    finally:
        proxy.close()


def test_timed_reminders_and_old_style_completion(dav: DavServer, tmp_path: Path) -> None:
    ab_name, ab_url = dav.make_addressbook()
    dav.put(ab_url + "t1.vcf", contact_card("timed-1", "Ivy Ito", "1", None))
    list_name = f"Timed {tmp_path.name}"
    cfg = dav.config(
        tmp_path,
        contacts={"addressbooks": [ab_name]},
        reminders={"task_list": list_name, "daily_limit": 5, "due_time": "09:30"},
    )
    assert syncd(cfg, "2026-03-29T08:00", "sync") == 0  # the day Berlin moves to summer time
    list_url = find_list(dav, list_name)
    [(href, text, cal)] = tasks_by_contact(dav, list_url)["timed-1"]
    todo = next(iter(cal.walk("VTODO")))
    assert todo["DUE"].dt.isoformat() == "2026-03-29T09:30:00+02:00"
    assert todo["DTSTART"].dt == todo["DUE"].dt
    assert "TZID=Europe/Berlin" in text
    alarms = list(todo.walk("VALARM"))
    assert len(alarms) == 1 and str(alarms[0]["ACTION"]) == "DISPLAY"
    assert alarms[0]["TRIGGER"].dt.isoformat() == "2026-03-29T07:30:00+00:00"

    # An old client marks it done with PERCENT-COMPLETE:100 only.
    r = dav.get(href)
    done = r.text.replace("END:VTODO", "PERCENT-COMPLETE:100\r\nEND:VTODO", 1)
    dav.put(href, done, ICAL, **{"If-Match": r.headers["ETag"]})
    assert syncd(cfg, "2026-03-29T20:00", "sync") == 0
    recorded = card_values(dav, ab_url, "timed-1")["X-SYNCD-LAST-CONTACT"]
    assert recorded == "2026-03-29T18:00:00Z"  # no COMPLETED time: the moment it was noticed
    assert len(tasks_by_contact(dav, list_url)["timed-1"]) == 1


def test_switching_task_lists_snoozes_nobody(dav: DavServer, tmp_path: Path) -> None:
    """Reminders left in the previous task list are not mistaken for reminders the user deleted."""
    ab_name, ab_url = dav.make_addressbook()
    for person in PEOPLE[:4]:
        dav.put(ab_url + f"{person[0]}.vcf", contact_card(*person))
    proxy = CountingProxy(dav.url).start()
    try:
        first = dav.config(
            tmp_path,
            server={"url": proxy.url},
            contacts={"addressbooks": [ab_name]},
            reminders={"task_list": f"Old {tmp_path.name}", "daily_limit": 2},
        )
        assert syncd(first, "2026-11-22T09:00", "sync") == 0
        second = dav.config(
            tmp_path,
            server={"url": proxy.url},
            contacts={"addressbooks": [ab_name]},
            reminders={"task_list": f"New {tmp_path.name}", "daily_limit": 2},
        )
        proxy.reset()
        assert syncd(second, "2026-11-22T10:00", "sync") == 0
        card_writes = [r for r in proxy.writes() if "/ab-" in r.path]
        assert card_writes == [], card_writes
        assert len(tasks_by_contact(dav, find_list(dav, f"New {tmp_path.name}"))) == 2
    finally:
        proxy.close()
