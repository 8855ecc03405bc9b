"""Randomized interleavings of phone edits with sync cycles, against real Radicale and Xandikos.

"The phone" acts like a real client (GET, change, PUT with If-Match; on 412 it reads again) at random points:
between cycles, and in the middle of a cycle — the proxy runs the edit just before the k-th request of that
cycle reaches the server, so it lands between syncd's read and its write. Edits: a card's NOTE changed, a
card saved by a client that drops every X-SYNCD line, a reminder completed, deleted, or its DUE moved.

No lost update on either side, after the cycles converge:
- the phone's: every card holds the NOTE the phone wrote last; every completed reminder is still completed;
  every moved DUE is still where the phone put it; a deleted reminder stays deleted;
- syncd's: every completion is recorded in its card (LAST-CONTACT never behind it), every card keeps its
  X-SYNCD-CIRCLE, every deletion left a SNOOZE; no contact has two open reminders.

SYNCD_RACE_CYCLES sets the number of cycles per server (default 10).
"""

from __future__ import annotations

import os
import random
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from syncd.core.contacts import parse_date
from tests.proxy import CountingProxy, Request
from tests.servers import ICAL, VCARD, DavServer
from tests.world import (
    Book,
    TaskView,
    completions_recorded,
    duplicates,
    make_book,
    people,
)

CYCLES = int(os.environ.get("SYNCD_RACE_CYCLES", "10"))


class Phone:
    def __init__(self, book: Book, rng: random.Random) -> None:
        self.book = book
        self.dav = book.dav
        self.rng = rng
        self.now = ""
        self.notes: dict[str, str] = {}  # uid -> the NOTE the phone wrote last
        self.completed: set[str] = set()  # reminder hrefs
        self.due: dict[str, str] = {}  # reminder href -> DUE (yyyymmdd) the phone set last
        self.deleted: dict[str, str] = {}  # reminder href -> contact uid
        self.edits = 0

    def _edit_card(self, uid: str, change: object) -> None:
        href = self.book.hrefs[uid]
        for _ in range(5):
            r = self.dav.get(href)
            text = change(r.text)  # type: ignore[operator]
            put = self.dav.http("PUT", href, text, **{"Content-Type": VCARD, "If-Match": r.headers["ETag"]})
            if put.status_code in (200, 201, 204):
                return
            assert put.status_code == 412, put.status_code
        raise AssertionError("the phone lost five races in a row")

    def note(self) -> None:
        uid = self.rng.choice(sorted(self.book.hrefs))
        value = f"phone edit {self.edits}"
        self._edit_card(uid, lambda t: re.sub(r"NOTE:[^\r\n]*", f"NOTE:{value}", t, count=1))
        self.notes[uid] = value

    def drop_xsyncd(self) -> None:
        uid = self.rng.choice(sorted(self.book.hrefs))
        value = f"saved by a forgetful client {self.edits}"

        def change(text: str) -> str:
            lines = [line for line in text.split("\r\n") if not line.upper().startswith("X-SYNCD-")]
            return re.sub(r"NOTE:[^\r\n]*", f"NOTE:{value}", "\r\n".join(lines), count=1)

        self._edit_card(uid, change)
        self.notes[uid] = value

    def _task(self) -> TaskView | None:
        open_ = [t for t in self.book.tasks() if not t.done]
        return self.rng.choice(open_) if open_ else None

    def _put_task(self, task: TaskView, text: str) -> bool:
        r = self.dav.http("PUT", task.href, text, **{"Content-Type": ICAL, "If-Match": task.etag})
        return r.status_code in (200, 201, 204)

    def complete(self) -> None:
        task = self._task()
        if task is None:
            return
        stamp = self.now.replace("-", "").replace(":", "") + "00Z"
        text = task.text.replace("STATUS:NEEDS-ACTION", "STATUS:COMPLETED")
        text = re.sub(r"END:VTODO", f"COMPLETED:{stamp}\r\nPERCENT-COMPLETE:100\r\nEND:VTODO", text, count=1)
        if self._put_task(task, text):
            self.completed.add(task.href)

    def move_due(self) -> None:
        task = self._task()
        if task is None:
            return
        new = (date.fromisoformat(self.now[:10]) + timedelta(days=self.rng.randint(1, 5))).strftime("%Y%m%d")
        text = re.sub(r"DUE;VALUE=DATE:\d{8}", f"DUE;VALUE=DATE:{new}", task.text)
        if self._put_task(task, text):
            self.due[task.href] = new

    def delete(self) -> None:
        task = self._task()
        if task is None:
            return
        r = self.dav.http("DELETE", task.href, **{"If-Match": task.etag})
        if r.status_code in (200, 204):
            self.deleted[task.href] = task.contact
            self.due.pop(task.href, None)

    def act(self) -> str:
        self.edits += 1
        name = self.rng.choices(
            ["note", "drop_xsyncd", "complete", "move_due", "delete"], weights=[3, 1, 4, 2, 1], k=1
        )[0]
        getattr(self, name)()
        return name


def test_random_interleavings_lose_no_update(dav: DavServer, tmp_path: Path) -> None:
    rng = random.Random(f"races-{dav.kind}")
    proxy = CountingProxy(dav.url).start()
    book = make_book(dav, tmp_path, people(10, "r"), url=proxy.url)
    phone = Phone(book, rng)
    day = date(2026, 11, 22)
    mid_cycle = 0
    kinds: dict[str, int] = {}
    try:
        for cycle in range(CYCLES):
            phone.now = (day + timedelta(days=cycle // 2)).isoformat() + ("T09:00" if cycle % 2 == 0 else "T18:00")
            for _ in range(rng.randint(0, 2)):  # between cycles
                kind = phone.act()
                kinds[kind] = kinds.get(kind, 0) + 1
            points = set(rng.sample(range(16), rng.randint(1, 3)))  # inside the cycle: before these requests

            def hook(request: Request, points: set[int] = points) -> None:
                nonlocal mid_cycle
                if request.index in points:
                    mid_cycle += 1
                    kind = phone.act()
                    kinds[kind] = kinds.get(kind, 0) + 1

            proxy.fault = lambda r, hook=hook: hook(r)  # type: ignore[misc]
            proxy.reset()
            assert book.sync(phone.now) == 0, f"cycle {cycle}"
            assert duplicates(book.tasks()) == [], f"cycle {cycle}"
        proxy.fault = None
        end = (day + timedelta(days=CYCLES // 2 + 1)).isoformat() + "T09:00"
        for _ in range(4):
            proxy.reset()
            assert book.sync(end) == 0
            if not proxy.writes():
                break
        assert proxy.writes() == [], "converged"
        check_no_lost_update(book, phone, end)
    finally:
        proxy.close()
    print(
        f"\n{dav.kind}: {CYCLES} cycles, {phone.edits} phone edits ({mid_cycle} in the middle of a cycle: {kinds}), "
        "0 duplicates, 0 lost updates"
    )


def check_no_lost_update(book: Book, phone: Phone, end: str) -> None:
    tasks = {t.href: t for t in book.tasks()}
    values = book.all_values()
    lost: list[str] = []
    for uid, note in phone.notes.items():
        if f"NOTE:{note}" not in book.card_text(uid):
            lost.append(f"{uid}: the phone's NOTE {note!r} is gone")
    for href in phone.completed:
        if href not in tasks or not tasks[href].done:
            lost.append(f"{href}: completed on the phone, now {'gone' if href not in tasks else 'open'}")
    for href, due in phone.due.items():
        if href in tasks and tasks[href].due.replace("-", "") != due:
            lost.append(f"{href}: DUE moved to {due} on the phone, now {tasks[href].due}")
    for href, uid in phone.deleted.items():
        if href in tasks:
            lost.append(f"{href}: deleted on the phone, back on the server")
        snooze = parse_date(values[uid].get("X-SYNCD-SNOOZE", ""))
        if snooze is None:
            lost.append(f"{uid}: its reminder was deleted, but no SNOOZE was written")
    for uid in book.hrefs:
        if "X-SYNCD-CIRCLE" not in values[uid]:
            lost.append(f"{uid}: X-SYNCD-CIRCLE lost")
    lost += completions_recorded(book)
    lost += duplicates(list(tasks.values()))
    assert lost == [], lost


@pytest.fixture(autouse=True)
def _quick(fast_retries: None) -> None:
    """Every test here retries quickly."""
