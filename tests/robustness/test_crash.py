"""kill -9 of `syncd sync` at random points of many cycles, against real Radicale and Xandikos.

The proxy in front of the server SIGKILLs the syncd process when a chosen request arrives: most often a write
(before it is forwarded, or after the server applied it and before the answer), otherwise any request. Between
runs the user ticks reminders off, deletes one now and then, and the state file is sometimes corrupted or
deleted. After every run: the state database passes `PRAGMA integrity_check`, no contact has two open
reminders, no card's LAST-CONTACT went backwards. At the end, after clean cycles: every completed reminder is
recorded in its card, every non-X-SYNCD line of every card is as the server first served it, and a further
cycle writes nothing.

SYNCD_CRASH_KILLS sets the number of kills per server (default 25: 50 over both servers).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import time
from datetime import date, timedelta
from pathlib import Path

from syncd.core.contacts import parse_instant
from syncd.store.journal import Journal
from tests.forker import Forker
from tests.proxy import CountingProxy, Forward, Request, Reset, Stall
from tests.servers import DavServer
from tests.world import complete, completions_recorded, delete, duplicates, make_book, non_xsyncd, people

KILLS = int(os.environ.get("SYNCD_CRASH_KILLS", "25"))
WRITES = {"PUT", "DELETE", "MKCALENDAR"}


def integrity(state: Path) -> str:
    path = state / "state.sqlite3"
    if not path.exists():
        return "ok"
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    except sqlite3.DatabaseError as err:
        return str(err)
    finally:
        db.close()


class Killer:
    """The proxy's fault: SIGKILL the running syncd at the chosen request (before or after forwarding)."""

    def __init__(self, forker: Forker) -> None:
        self.forker = forker
        self.target: tuple[str, int, bool] | None = None  # ("write" | "any", n-th such request, after?)
        self.seen = {"write": 0, "any": 0}
        self.killed: str = ""

    def arm(self, target: tuple[str, int, bool] | None) -> None:
        self.target, self.seen, self.killed = target, {"write": 0, "any": 0}, ""

    def _kill(self, request: Request, when: str) -> None:
        deadline = time.monotonic() + 5
        while not self.forker.pid and time.monotonic() < deadline:
            time.sleep(0.001)
        self.killed = f"{when} {request.method} {request.path.rsplit('/', 1)[-1] or request.path}"
        self.target = None
        os.kill(self.forker.pid, signal.SIGKILL)

    def __call__(self, request: Request) -> Reset | Forward | Stall | None:
        if self.target is None:
            return None
        kind, n, after = self.target
        self.seen["any"] += 1
        if request.method in WRITES:
            self.seen["write"] += 1
        if self.seen[kind] != n or (kind == "write" and request.method not in WRITES):
            return None
        if after:
            return Forward(after=lambda r, _status: self._kill(r, "after"), drop=True)
        self._kill(request, "before")
        return Reset()


def test_kill_9_at_random_points(dav: DavServer, tmp_path: Path) -> None:
    rng = random.Random(f"crash-{dav.kind}")
    forker = Forker()
    killer = Killer(forker)
    proxy = CountingProxy(dav.url, fault=killer).start()
    book = make_book(dav, tmp_path, people(12, "k"), url=proxy.url, server={"timeout": 5.0})
    served = {uid: dav.get(href).text for uid, href in book.hrefs.items()}
    state = tmp_path / "state"
    highest: dict[str, str] = {}
    kills = runs = rebuilt = 0
    damaged = False  # the state file was damaged on purpose and no run has opened it since
    places: dict[str, int] = {}
    day = date(2026, 11, 22)
    started = time.monotonic()
    try:
        while kills < KILLS:
            runs += 1
            now = (day + timedelta(days=runs // 3)).isoformat() + f"T{9 + runs % 3 * 4:02d}:00"
            if runs % 2 == 0:  # the user, twice a "day"
                for task in book.tasks():
                    if not task.done and rng.random() < 0.5:
                        complete(dav, task, now.replace("-", "").replace(":", "") + "00Z")
                    elif not task.done and rng.random() < 0.1:
                        delete(dav, task)
            if rng.random() < 0.12:  # a damaged or lost state file
                rebuilt += 1
                damaged = True
                db = state / "state.sqlite3"
                if rng.random() < 0.5:
                    for suffix in ("", "-wal", "-shm"):
                        Path(str(db) + suffix).unlink(missing_ok=True)
                elif db.exists():
                    db.write_bytes(b"this is not a database" * 64)
                    Path(str(db) + "-wal").unlink(missing_ok=True)
            kind = "write" if rng.random() < 0.7 else "any"
            target = (kind, rng.randint(1, 2 if kind == "write" else 6), rng.random() < 0.5)
            killer.arm(target)
            code = forker.run(["--config", str(book.cfg), "--now", now, "sync"], str(tmp_path / "syncd.log"))
            if killer.killed:
                assert code == -signal.SIGKILL, (code, killer.killed)
                kills += 1
                place = killer.killed.split(" ", 2)
                places[f"{place[0]} {place[1]}"] = places.get(f"{place[0]} {place[1]}", 0) + 1
            else:
                assert code == 0, (tmp_path / "syncd.log").read_text()[-2000:]
                damaged = False  # a complete run must have rebuilt it
            if not damaged:
                assert integrity(state) == "ok", f"run {runs}: state damaged after {killer.killed or 'a clean run'}"
            Journal.in_dir(state).entries()  # readable, whatever the kill tore
            tasks = book.tasks()
            assert duplicates(tasks) == [], f"run {runs} ({killer.killed}): {duplicates(tasks)}"
            for uid, values in book.all_values().items():
                last = values.get("X-SYNCD-LAST-CONTACT", "")
                before = parse_instant(highest.get(uid, ""))
                assert before is None or (parse_instant(last) or before) >= before, f"{uid} went backwards"
                if last:
                    highest[uid] = last
        killer.arm(None)
        end = (day + timedelta(days=runs // 3 + 1)).isoformat() + "T09:00"
        for _ in range(3):
            proxy.reset()
            assert forker.run(["--config", str(book.cfg), "--now", end, "sync"], str(tmp_path / "syncd.log")) == 0
            if not proxy.writes():
                break
        assert proxy.writes() == [], "converged: a clean cycle writes nothing"
        assert duplicates(book.tasks()) == []
        assert completions_recorded(book) == []
        for uid, text in served.items():
            assert non_xsyncd(book.card_text(uid)) == non_xsyncd(text), uid
        done = sum(1 for t in book.tasks() if t.done)
        journal = Journal.in_dir(state).entries()
        interrupted = sum(1 for e in journal if e.outcome == "interrupted")
    finally:
        proxy.close()
        forker.close()
    print(
        f"\n{dav.kind}: {kills} kills in {runs} runs ({places}), state damaged/lost {rebuilt} times, "
        f"{len(book.tasks())} reminders ({done} completed), journal: {len(journal)} card writes "
        f"({interrupted} interrupted by a kill), 0 duplicates, 0 lost completions, "
        f"{time.monotonic() - started:.0f} s"
    )
