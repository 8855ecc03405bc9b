"""Sync cycles through a fault-injecting proxy in front of real Radicale and Xandikos: 5xx answers, resets,
stalls past the timeout, truncated bodies, answers lost after the server applied a write, and "the phone"
editing a card or task between syncd's read and its write. Nothing may be lost or duplicated, and the
cycles converge (a clean cycle afterwards writes nothing).

SYNCD_FAULT_CYCLES sets the number of randomized cycles per server (default 8).
"""

from __future__ import annotations

import os
import random
import re
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from syncd.store.journal import Journal
from tests.proxy import CountingProxy, Fault, Forward, Request, Reset, Respond, Stall, Truncate, before, chain, when
from tests.servers import DavServer
from tests.world import (
    Book,
    complete,
    completions_recorded,
    delete,
    duplicates,
    make_book,
    move_due,
    non_xsyncd,
    people,
)

FAULT_CYCLES = int(os.environ.get("SYNCD_FAULT_CYCLES", "8"))


def proxied_book(dav: DavServer, tmp_path: Path, n: int = 6, **sections: object) -> tuple[Book, CountingProxy]:
    proxy = CountingProxy(dav.url).start()
    server = {"timeout": 1.0, **dict(sections.pop("server", {}))}  # type: ignore[call-overload]
    book = make_book(dav, tmp_path, people(n, "f"), url=proxy.url, server=server, **sections)
    return book, proxy


def cards_intact(book: Book, served: dict[str, str]) -> None:
    for uid, text in served.items():
        assert non_xsyncd(book.card_text(uid)) == non_xsyncd(text), f"{uid}: a non-X-SYNCD line changed"


def converge(book: Book, proxy: CountingProxy, now: str) -> None:
    """Clean cycles until one writes nothing (at most three)."""
    proxy.fault = None
    for _ in range(3):
        proxy.reset()
        assert book.sync(now) == 0
        if not proxy.writes():
            return
    raise AssertionError(f"no convergence: still writing {proxy.writes()}")


# Targeted faults ----------------------------------------------------------------------------------------


def test_lost_answers_to_writes_duplicate_nothing(dav: DavServer, tmp_path: Path) -> None:
    """The server applies a PUT but the answer never arrives: the retry is conditional and gets 412."""
    book, proxy = proxied_book(dav, tmp_path)
    try:
        proxy.fault = when(Forward(drop=True), method="PUT", path=".ics", times=2)
        assert book.sync() == 0
        tasks = book.tasks()
        assert len(tasks) == 3 and duplicates(tasks) == []
        puts = [r for r in proxy.snapshot() if r.method == "PUT"]
        assert all("If-None-Match" in r.headers for r in puts)
        assert sorted(r.status for r in puts)[:2] == [201, 201] and [r.status for r in puts].count(412) == 2

        task = tasks[0]
        assert complete(dav, task, "20261122T101500Z")
        proxy.reset()
        proxy.fault = when(Forward(drop=True), method="PUT", path=".vcf", times=1)
        assert book.sync("2026-11-22T12:00") == 0
        assert book.values(task.contact)["X-SYNCD-LAST-CONTACT"] == "2026-11-22T10:15:00Z"
        card_puts = [r.status for r in proxy.snapshot() if r.method == "PUT" and r.path.endswith(".vcf")]
        assert card_puts[0] in (200, 201, 204) and card_puts[1] == 412
        [entry] = Journal.in_dir(tmp_path / "state").entries()
        assert entry.outcome == "written", "the journal confirms the write on re-read"
        converge(book, proxy, "2026-11-22T12:05")
    finally:
        proxy.close()


def test_stall_past_the_timeout_then_applied_late(dav: DavServer, tmp_path: Path) -> None:
    book, proxy = proxied_book(dav, tmp_path)
    try:
        proxy.fault = when(Stall(2.5), method="PUT", path=".ics", times=1)
        assert book.sync() == 0
        proxy.fault = None
        tasks = book.tasks()
        assert len(tasks) == 3 and duplicates(tasks) == []
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(r.status == 0 for r in proxy.snapshot()):
            time.sleep(0.05)  # the stalled PUT is still on its way to the server
        statuses = [r.status for r in proxy.snapshot() if r.method == "PUT"]
        # the retry got through while the first was stalled; the first arrived late and got 412
        assert sorted(statuses) == [201, 201, 201, 412]
    finally:
        proxy.close()


def test_unconditional_requests_are_never_retried(dav: DavServer, tmp_path: Path) -> None:
    book, proxy = proxied_book(dav, tmp_path)
    try:
        proxy.fault = when(Forward(drop=True), method="MKCALENDAR", times=1)
        assert book.sync() == 69  # the task list was made, but syncd cannot know: it says so and stops
        assert proxy.counts()["MKCALENDAR"] == 1
        assert book.sync() == 0
        assert proxy.counts()["MKCALENDAR"] == 1, "the next cycle finds the list; no second one"
        assert len(book.tasks()) == 3
    finally:
        proxy.close()


def test_5xx_resets_and_truncated_reads_are_retried(dav: DavServer, tmp_path: Path) -> None:
    book, proxy = proxied_book(dav, tmp_path)
    try:
        proxy.fault = chain(
            when(Respond(503), method="PROPFIND", times=2),
            when(Truncate(20), method="REPORT", times=1),
            when(Reset(), method="PUT", times=1),
            when(Respond(502), method="GET", times=1),
        )
        assert book.sync() == 0
        assert len(book.tasks()) == 3 and duplicates(book.tasks()) == []
        # A 500 on a write is not retried: the cycle stops with 69, the next one finishes the job.
        proxy.fault = when(Respond(500), method="PUT", times=1)
        assert book.sync("2026-11-25T09:00") in (0, 69)
        converge(book, proxy, "2026-11-25T09:05")
        assert duplicates(book.tasks()) == []
    finally:
        proxy.close()


def test_phone_edits_between_read_and_write(dav: DavServer, tmp_path: Path) -> None:
    book, proxy = proxied_book(dav, tmp_path)
    try:
        assert book.sync() == 0
        tasks = {t.contact: t for t in book.tasks()}
        first, second = sorted(tasks)[:2]
        assert complete(dav, tasks[first], "20261122T101500Z")

        def phone_edits_card(request: Request) -> None:
            r = dav.get(book.hrefs[first])
            text = r.text.replace("NOTE:Met at the conference", "NOTE:Edited on the phone")
            dav.put(book.hrefs[first], text, **{"If-Match": r.headers["ETag"]})

        proxy.fault = before(phone_edits_card, method="PUT", path=".vcf", times=1)
        assert book.sync("2026-11-22T12:00") == 0
        text = book.card_text(first)
        assert "Edited on the phone" in text and "X-SYNCD-LAST-CONTACT:2026-11-22T10:15:00Z" in text
        assert next(r.status for r in proxy.snapshot() if r.method == "PUT" and r.path.endswith(".vcf")) == 412

        # The card says "no longer tracked" -> syncd withdraws the reminder; the phone ticks it off just
        # before the DELETE arrives -> 412 -> the reminder stays, and its completion is recorded next cycle.
        r = dav.get(book.hrefs[second])
        untracked = re.sub(r"X-SYNCD-CIRCLE:\d", "X-SYNCD-CIRCLE:none", r.text)
        dav.put(book.hrefs[second], untracked, **{"If-Match": r.headers["ETag"]})
        current = {t.contact: t for t in book.tasks()}[second]
        proxy.reset()
        proxy.fault = before(lambda _r: complete(dav, current, "20261122T130000Z"), method="DELETE", times=1)
        assert book.sync("2026-11-22T13:05") == 0
        assert [r.status for r in proxy.snapshot() if r.method == "DELETE"] == [412]
        converge(book, proxy, "2026-11-22T13:10")
        assert book.values(second)["X-SYNCD-LAST-CONTACT"] == "2026-11-22T13:00:00Z"
        assert completions_recorded(book) == [] and duplicates(book.tasks()) == []
    finally:
        proxy.close()


# Randomized ---------------------------------------------------------------------------------------------


def random_fault(rng: random.Random, book: Book, dav: DavServer) -> tuple[str, Fault]:
    """One fault, aimed at the k-th request of the cycle."""
    k = rng.randrange(0, 14)

    def phone_edit(_request: Request) -> None:
        uid = rng.choice(sorted(book.hrefs))
        r = dav.get(book.hrefs[uid])
        note = f"NOTE:phone {rng.randrange(10**6)}"
        dav.put(book.hrefs[uid], re.sub(r"NOTE:[^\r\n]*", note, r.text, count=1), **{"If-Match": r.headers["ETag"]})

    def phone_task(_request: Request) -> None:
        open_ = [t for t in book.tasks() if not t.done]
        if open_:
            task = rng.choice(open_)
            rng.choice([lambda: complete(dav, task, "20261101T090000Z"), lambda: move_due(dav, task, "20261230")])()

    kinds: dict[str, object] = {
        "503": Respond(503),
        "500": Respond(500),
        "reset": Reset(),
        "stall": Stall(1.3),
        "truncate": Truncate(7),
        "lost answer": Forward(drop=True),
        "phone edits a card": phone_edit,
        "phone edits a task": phone_task,
    }
    name = rng.choice(sorted(kinds))
    action = kinds[name]

    def fault(request: Request) -> Respond | Reset | Stall | Truncate | Forward | None:
        if request.index != k:
            return None
        if callable(action):
            action(request)
            return None
        assert isinstance(action, Respond | Reset | Stall | Truncate | Forward)
        return action

    return name, fault


def test_random_faults_lose_and_duplicate_nothing(dav: DavServer, tmp_path: Path) -> None:
    rng = random.Random(f"faults-{dav.kind}")
    book, proxy = proxied_book(dav, tmp_path, n=9)
    served = {uid: dav.get(href).text for uid, href in book.hrefs.items()}
    day = date(2026, 11, 22)
    seen: dict[str, int] = {}
    failed = 0
    try:
        for cycle in range(FAULT_CYCLES):
            now = (day + timedelta(days=cycle // 2)).isoformat() + ("T09:00" if cycle % 2 == 0 else "T18:00")
            for task in book.tasks():  # the user ticks some reminders off between cycles
                if not task.done and rng.random() < 0.4:
                    stamp = now.replace("-", "").replace(":", "") + "00Z"
                    complete(dav, task, stamp[:8] + "T" + stamp[9:13] + "00Z")
            if rng.random() < 0.15:
                open_ = [t for t in book.tasks() if not t.done]
                if open_:
                    delete(dav, rng.choice(open_))
            name, proxy.fault = random_fault(rng, book, dav)
            seen[name] = seen.get(name, 0) + 1
            proxy.reset()
            code = book.sync(now)
            assert code in (0, 69), f"cycle {cycle} ({name}): exit {code}"
            failed += code != 0
            assert duplicates(book.tasks()) == [], f"cycle {cycle} ({name})"
        converge(book, proxy, (day + timedelta(days=FAULT_CYCLES)).isoformat() + "T09:00")
        assert duplicates(book.tasks()) == []
        assert completions_recorded(book) == []
        for uid, text in served.items():  # only the phone's NOTE edits and syncd's lines differ
            now_lines = [line for line in non_xsyncd(book.card_text(uid)) if not line.startswith("NOTE:")]
            assert now_lines == [line for line in non_xsyncd(text) if not line.startswith("NOTE:")], uid
    finally:
        proxy.close()
    print(f"\n{dav.kind}: {FAULT_CYCLES} cycles with injected faults ({failed} ended in exit 69): {seen}")


@pytest.fixture(autouse=True)
def _quick(fast_retries: None) -> None:
    """Every test here retries quickly."""


def test_only_reads_and_conditional_writes_are_retried(radicale: DavServer) -> None:
    """Every request answered 503: reads and conditional writes are tried again (5 attempts), an unconditional
    request (MKCALENDAR) once; an unconditional PUT is never even sent."""
    from syncd.dav.client import DavClient, safe_to_retry
    from syncd.errors import ServerError

    proxy = CountingProxy(radicale.url, fault=Respond(503)).start()
    url = proxy.url + "x/"
    try:
        with DavClient(username=radicale.username, password=radicale.password, deadline=5) as client:
            for call in (
                lambda: client.get(url + "a.vcf"),
                lambda: client.propfind(url, ["d:getetag"]),
                lambda: client.put(url + "a.vcf", "x", "text/vcard", etag='"1"'),
                lambda: client.put(url + "a.ics", "x", "text/calendar", create=True),
                lambda: client.delete(url + "a.ics", '"1"'),
                lambda: client.mkcalendar(url, b"<x/>"),
            ):
                with pytest.raises(ServerError):
                    call()
            with pytest.raises(ValueError, match="never writes unconditionally"):
                client.put(url + "a.vcf", "x", "text/vcard")
        assert proxy.counts() == {"GET": 5, "PROPFIND": 5, "PUT": 10, "DELETE": 5, "MKCALENDAR": 1}
        assert not safe_to_retry("PUT", {}) and safe_to_retry("PUT", {"If-None-Match": "*"})
    finally:
        proxy.close()


def test_refused_card_write_keeps_the_completion_pending(dav: DavServer, tmp_path: Path) -> None:
    """A card PUT refused with 403 is not retried (not transient), the sync says so in its exit status — and
    the completion it was recording stays pending, so the next cycle records it instead of forgetting it."""
    book, proxy = proxied_book(dav, tmp_path)
    try:
        assert book.sync() == 0
        task = book.tasks()[0]
        assert complete(dav, task, "20261122T101500Z")
        before = book.values(task.contact).get("X-SYNCD-LAST-CONTACT")
        proxy.fault = when(Respond(403), method="PUT", path=".vcf", times=1)
        assert book.sync("2026-11-22T12:00") == 69
        assert book.values(task.contact).get("X-SYNCD-LAST-CONTACT") == before
        assert book.sync("2026-11-22T12:30") == 0
        assert book.values(task.contact)["X-SYNCD-LAST-CONTACT"] == "2026-11-22T10:15:00Z"
        assert completions_recorded(book) == []
    finally:
        proxy.close()
