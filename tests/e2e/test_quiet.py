"""A cycle with the inputs of the last one, which wrote nothing, stops after the sync REPORTs (syncd.engine.quiet),
and anything that could change the plan makes it a full cycle again. Against both servers, counted at the
proxy."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syncd.engine.cycle import Cycle
from syncd.engine.world import Summary
from syncd.engine.writing import Writer
from syncd.store import memo as quiet
from tests.factories import numbered_card
from tests.proxy import CountingProxy, ProxyFactory
from tests.servers import DavServer
from tests.world import edit, engine

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # as in the incremental tests


def cycle(cfg: Path, now=NOW) -> Summary:  # type: ignore[no-untyped-def]
    e = engine(cfg)
    try:
        return Cycle(e, Writer(e)).run(now)
    finally:
        e.close()


def memo(cfg: Path) -> str | None:
    db = sqlite3.connect(cfg.parent / "state" / "state.sqlite3")
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (quiet.MEMO_KEY,)).fetchone()
        return None if row is None else str(row[0])
    finally:
        db.close()


@pytest.fixture
def book(dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory) -> tuple[DavServer, str, Path, CountingProxy]:
    name, ab_url = dav.make_addressbook()
    for i in range(8):
        dav.put(ab_url + f"c{i}.vcf", numbered_card(i))
    odd = numbered_card(8, "Odd Interval").replace("END:VCARD", "X-SYNCD-INTERVAL:often\r\nEND:VCARD")
    dav.put(ab_url + "odd.vcf", odd)
    proxy = counting_proxy(dav.url)
    cfg = dav.config(
        tmp_path,
        server={"url": proxy.url},
        contacts={"addressbooks": [name]},
        reminders={"task_list": f"Quiet {tmp_path.name}", "daily_limit": 2},
    )
    return dav, ab_url, cfg, proxy


def settle(cfg: Path, proxy: CountingProxy) -> Summary:
    """The first cycle writes (task list, reminders); the second reads those writes and writes nothing."""
    first = cycle(cfg)
    assert first.created == 2
    second = cycle(cfg)
    assert second.writes == 0 and second.created == 0
    assert memo(cfg) is not None, "a cycle that wrote nothing leaves a memo"
    proxy.reset()
    return second


def test_quiet_cycle_repeats_the_summary_and_warnings(
    book: tuple[DavServer, str, Path, CountingProxy], caplog: pytest.LogCaptureFixture
) -> None:
    _dav, _ab_url, cfg, proxy = book
    full = settle(cfg, proxy)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="syncd"):
        again = cycle(cfg)
    assert any("nothing changed since the last cycle" in r.getMessage() for r in caplog.records)
    assert proxy.counts() == {"REPORT": 2}, "one sync-collection per collection, nothing else"
    assert again.line() == full.line() and again.contacts == 9 and again.due == 2
    assert again.requests == 2 and again.writes == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("X-SYNCD-INTERVAL:often" in w for w in warnings), "the unreadable value is still reported"
    assert any(r.getMessage() == f"sync: {full.line()}" for r in caplog.records)


def test_a_change_on_the_server_means_a_full_cycle(book: tuple[DavServer, str, Path, CountingProxy]) -> None:
    dav, ab_url, cfg, proxy = book
    settle(cfg, proxy)
    edit(dav, ab_url + "c3.vcf", numbered_card(3, "Renamed", circle="none"))
    proxy.reset()
    summary = cycle(cfg)
    assert summary.tracked == 8, "the change was planned with"
    assert proxy.counts()["REPORT"] == 3, "the quiet check's answers are reused: sync, multiget, sync"
    proxy.reset()
    cycle(cfg)
    assert proxy.counts() == {"REPORT": 2}


def planned(cfg: Path, caplog: pytest.LogCaptureFixture, now=NOW) -> bool:  # type: ignore[no-untyped-def]
    """Whether a cycle ran in full (rather than stopping as a quiet one)."""
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="syncd"):
        cycle(cfg, now)
    return not any("nothing changed since the last cycle" in r.getMessage() for r in caplog.records)


def test_a_new_day_or_a_new_config_plans_again(
    book: tuple[DavServer, str, Path, CountingProxy], caplog: pytest.LogCaptureFixture
) -> None:
    _dav, _ab_url, cfg, proxy = book
    settle(cfg, proxy)
    assert not planned(cfg, caplog)
    assert planned(cfg, caplog, NOW + timedelta(days=1)), "a new day"
    assert not planned(cfg, caplog, NOW + timedelta(days=1, hours=3)), "later the same day"
    cfg.write_text(cfg.read_text().replace("daily_limit = 2", "daily_limit = 3"))
    proxy.reset()
    assert cycle(cfg, NOW + timedelta(days=1, hours=3)).created == 1, "another daily_limit: planned again"
    assert planned(cfg, caplog, NOW + timedelta(days=1, hours=4)), "it read its own new reminder"
    assert not planned(cfg, caplog, NOW + timedelta(days=1, hours=5))


def test_a_changed_reminders_table_means_a_full_cycle(book: tuple[DavServer, str, Path, CountingProxy]) -> None:
    """`syncd done` and the like change syncd's own state: the digest covers it."""
    _dav, _ab_url, cfg, proxy = book
    settle(cfg, proxy)
    db = sqlite3.connect(cfg.parent / "state" / "state.sqlite3")
    with db:
        db.execute("UPDATE reminders SET recorded = 1 - recorded WHERE rowid = (SELECT MIN(rowid) FROM reminders)")
    db.close()
    cycle(cfg)
    assert proxy.counts()["REPORT"] == 2 and memo(cfg) is not None
    assert "PROPFIND" not in proxy.counts()
    proxy.reset()
    cycle(cfg)
    assert proxy.counts() == {"REPORT": 2}


def test_the_events_calendar_is_one_more_collection_to_ask(
    dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory
) -> None:
    """With reminders.calendar set, a quiet cycle also asks the events calendar what changed; an event the
    user deleted there makes the next cycle a full one, which puts it back."""
    name, ab_url = dav.make_addressbook()
    for i in range(4):
        dav.put(ab_url + f"c{i}.vcf", numbered_card(i))
    proxy = counting_proxy(dav.url)
    cfg = dav.config(
        tmp_path,
        server={"url": proxy.url},
        contacts={"addressbooks": [name]},
        reminders={"task_list": f"Quiet {tmp_path.name}", "calendar": f"Agenda {tmp_path.name}", "daily_limit": 2},
    )
    assert cycle(cfg).created == 2
    assert cycle(cfg).writes == 0 and memo(cfg) is not None
    proxy.reset()
    cycle(cfg)
    assert proxy.counts() == {"REPORT": 3}, "address book, task list, events calendar"
    [agenda] = [r.path for r in proxy.snapshot() if "syncd-events" in r.path]
    digest = next(h for h in dav.list_hrefs(dav.url.rstrip("/") + agenda) if "syncd-digest-" in h)
    assert dav.http("DELETE", digest).status_code in (200, 204)
    proxy.reset()
    cycle(cfg)
    assert [r.path.rsplit("/", 1)[1] for r in proxy.writes()] == [digest.rsplit("/", 1)[1]], "put back"
    cycle(cfg)
    proxy.reset()
    cycle(cfg)
    assert proxy.counts() == {"REPORT": 3}


def test_calendars_read_every_cycle_turn_it_off(dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory) -> None:
    """Meetings (interactions.calendars) count once they ended, which depends on the hour: no memo."""
    name, ab_url = dav.make_addressbook()
    for i in range(3):
        dav.put(ab_url + f"c{i}.vcf", numbered_card(i))
    cal_name, _cal_url = dav.make_calendar(components=("VEVENT",))
    proxy = counting_proxy(dav.url)
    cfg = dav.config(
        tmp_path,
        server={"url": proxy.url},
        contacts={"addressbooks": [name]},
        reminders={"task_list": f"Quiet {tmp_path.name}", "daily_limit": 2},
        interactions={"calendars": [cal_name]},
    )
    for _ in range(3):
        cycle(cfg)
    assert memo(cfg) is None
    proxy.reset()
    cycle(cfg)
    assert proxy.counts()["REPORT"] == 3, "address book, meetings calendar, task list"


def test_sync_full_plans_anyway(book: tuple[DavServer, str, Path, CountingProxy], tmp_path: Path) -> None:
    """`syncd sync --full` reads and plans even when the memo says nothing changed (and leaves a new one)."""
    _dav, _ab_url, cfg, proxy = book
    settle(cfg, proxy)
    before = memo(cfg)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent.parent))
    base = [sys.executable, "-m", "syncd", "--config", str(cfg), "--now", NOW.isoformat(), "--verbose", "sync"]
    quiet_run = subprocess.run(base, capture_output=True, text=True, env=env, timeout=60)
    full_run = subprocess.run([*base, "--full"], capture_output=True, text=True, env=env, timeout=60)
    assert quiet_run.returncode == 0 and full_run.returncode == 0, full_run.stderr
    assert "nothing changed since the last cycle" in quiet_run.stderr
    assert "nothing changed since the last cycle" not in full_run.stderr
    assert "9 contacts read" in full_run.stderr and "0 created" in full_run.stderr
    assert memo(cfg) == before, "the full cycle came to the same outcome"
