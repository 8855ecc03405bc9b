"""Incremental reads against real Radicale and Xandikos, counted at a proxy: a no-change cycle is one REPORT
per collection, a changed card is fetched alone, a deleted one disappears, a refused token and a server
without sync-collection (one made so by the proxy, and SabreDAV 1.8, which has none) still give the right
contacts, 507 truncation is followed, and the local cache falls back to a full read when it is damaged."""

from __future__ import annotations

import re
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from syncd.app.demo import generate_cards
from syncd.dav.client import DavClient
from syncd.dav.incremental import sync_body
from syncd.dav.multistatus import parse_multistatus
from syncd.engine.cycle import Cycle
from syncd.engine.reading import Reader
from syncd.engine.world import World
from syncd.engine.writing import Writer
from syncd.store import account_cache, members
from tests.factories import numbered_card
from tests.proxy import (
    CountingProxy,
    Forward,
    ProxyFactory,
    Request,
    Respond,
    when,
)
from tests.servers import DavServer
from tests.world import edit, engine

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))


class Bodies:
    """Every request body the proxy saw, by method (a hook that forwards everything)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> None:
        with self.lock:
            self.seen.append((request.method, request.path, request.body))

    def reports(self) -> list[bytes]:
        return [body for method, _, body in self.seen if method == "REPORT"]

    def multigets(self) -> list[list[str]]:
        return [re.findall(rb"<d:href>([^<]*)</d:href>", b) for b in self.reports() if b"multiget" in b]  # type: ignore[misc]

    def data_syncs(self) -> int:
        """sync-collection REPORTs that asked for the cards' text too (a first read)."""
        return sum(1 for b in self.reports() if b"sync-collection" in b and b"address-data" in b)

    def clear(self) -> None:
        with self.lock:
            self.seen.clear()


@pytest.fixture
def setup(
    dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory
) -> tuple[DavServer, str, Path, CountingProxy, Bodies]:
    name, ab_url = dav.make_addressbook()
    for i in range(12):
        dav.put(ab_url + f"c{i}.vcf", numbered_card(i))
    bodies = Bodies()

    def hook(request: Request) -> None:
        bodies(request)

    proxy = counting_proxy(dav.url, when(hook))
    cfg = dav.config(
        tmp_path,
        server={"url": proxy.url},
        contacts={"addressbooks": [name]},
        reminders={"task_list": f"Inc {tmp_path.name}", "daily_limit": 2},
    )
    return dav, ab_url, cfg, proxy, bodies


def sync(cfg: Path) -> None:
    e = engine(cfg)
    try:
        Cycle(e, Writer(e)).run(NOW)
    finally:
        e.close()


def read(cfg: Path) -> World:
    e = engine(cfg)
    try:
        return Reader(e).read(create_task_list=False)
    finally:
        e.close()


def names(world: World) -> dict[str, str]:
    return {uid: c.name for uid, c in world.contacts.items()}


def test_no_change_changed_and_deleted(setup: tuple[DavServer, str, Path, CountingProxy, Bodies]) -> None:
    dav, ab_url, cfg, proxy, bodies = setup
    sync(cfg)  # first cycle: discovery, task list created, reminders written
    assert not [r for r in proxy.writes() if "/ab-" in r.path], "a first run writes no cards"

    proxy.reset()
    bodies.clear()
    sync(cfg)
    assert proxy.counts() == {"REPORT": 2}, proxy.methods()  # one per collection, discovery cached
    assert all(b"sync-collection" in b for b in bodies.reports())

    edit(dav, ab_url + "c3.vcf", numbered_card(3, "Renamed Person"))
    proxy.reset()
    bodies.clear()
    world = read(cfg)
    assert names(world)["inc-3"] == "Renamed Person"
    assert [[h.rsplit(b"/", 1)[1] for h in hrefs] for hrefs in bodies.multigets()] == [[b"c3.vcf"]]
    assert proxy.counts() == {"REPORT": 3}

    r = dav.http("DELETE", ab_url + "c4.vcf")
    assert r.status_code in (200, 204)
    proxy.reset()
    bodies.clear()
    world = read(cfg)
    assert "inc-4" not in world.contacts and len(world.contacts) == 11
    assert bodies.multigets() == [] and proxy.counts() == {"REPORT": 2}

    # The cache agrees with a full read from scratch.
    fresh = engine(cfg)
    try:
        fresh.state.forget_synced()
        assert names(Reader(fresh).read(create_task_list=False)) == names(world)
    finally:
        fresh.close()


def test_completed_reminder_then_quiet_cycle(setup: tuple[DavServer, str, Path, CountingProxy, Bodies]) -> None:
    """syncd's own writes (a card after a completion, new reminders) update the cache: the cycle after
    them is one REPORT per collection again."""
    dav, _ab_url, cfg, proxy, _bodies = setup
    sync(cfg)
    world = read(cfg)
    task = next(t for t in world.tasks if t.open)
    done = dav.get(task.href).text.replace("STATUS:NEEDS-ACTION", "STATUS:COMPLETED")
    dav.put(task.href, done, "text/calendar; charset=utf-8", **{"If-Match": dav.get(task.href).headers["ETag"]})
    proxy.reset()
    sync(cfg)
    card_puts = [r for r in proxy.writes() if r.method == "PUT" and "/ab-" in r.path]
    assert len(card_puts) == 1, "one card write for one completion"
    proxy.reset()
    sync(cfg)
    assert proxy.counts() == {"REPORT": 2}, proxy.methods()
    world = read(cfg)
    assert world.contacts[task.contact_uid].last_contact is not None


def test_refused_token_recovers(setup: tuple[DavServer, str, Path, CountingProxy, Bodies]) -> None:
    dav, ab_url, cfg, proxy, bodies = setup
    sync(cfg)
    before = names(read(cfg))
    db = sqlite3.connect(cfg.parent / "state" / "state.sqlite3")
    with db:
        db.execute("UPDATE sync_collections SET token = 'http://radicale.org/ns/sync/0000' || token")
    db.close()
    edit(dav, ab_url + "c5.vcf", numbered_card(5, "Changed While Away"))
    proxy.reset()
    bodies.clear()
    after = names(read(cfg))
    assert after == before | {"inc-5": "Changed While Away"}
    assert any(r.status in (403, 412) for r in proxy.snapshot() if r.method == "REPORT"), proxy.snapshot()
    assert [len(h) for h in bodies.multigets()] == [1], "only the changed card is fetched after the refusal"
    proxy.reset()
    read(cfg)
    assert proxy.counts() == {"REPORT": 2}, "new tokens are in use"


@pytest.mark.parametrize("status", [403, 501])
def test_server_without_sync_collection(
    dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, status: int
) -> None:
    name, ab_url = dav.make_addressbook()
    for i in range(5):
        dav.put(ab_url + f"c{i}.vcf", numbered_card(i))
    bodies = Bodies()

    def refuse_sync(request: Request) -> Respond | None:
        bodies(request)
        return Respond(status) if b"sync-collection" in request.body else None

    proxy = counting_proxy(dav.url, when(refuse_sync))
    cfg = dav.config(
        tmp_path,
        server={"url": proxy.url},
        contacts={"addressbooks": [name]},
        reminders={"task_list": f"NoSync {tmp_path.name}", "daily_limit": 2},
    )
    sync(cfg)
    assert len(read(cfg).contacts) == 5
    edit(dav, ab_url + "c1.vcf", numbered_card(1, "Edited"))
    dav.http("DELETE", ab_url + "c2.vcf")
    bodies.clear()
    world = read(cfg)
    assert names(world) == {"inc-0": "Person 0", "inc-1": "Edited", "inc-3": "Person 3", "inc-4": "Person 4"}
    assert [len(h) for h in bodies.multigets()] == [1], "ETag comparison: only the changed card is fetched"


def test_truncated_answer_is_followed(dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory) -> None:
    """A 507 for the collection in a sync-collection answer means "more to come": syncd asks again with the
    token of that page. The first page is made from a real earlier answer of the server."""
    name, ab_url = dav.make_addressbook()
    for i in range(3):
        dav.put(ab_url + f"c{i}.vcf", numbered_card(i))
    with DavClient(username=dav.username, password=dav.password) as client:
        first = client.request(
            "REPORT", ab_url, body=sync_body(None), headers={"Depth": "0", "Content-Type": "application/xml"}
        ).body
    path = ab_url.split("//", 1)[1].split("/", 1)[1]
    marker = f"<response><href>/{path}</href><status>HTTP/1.1 507 Insufficient Storage</status></response>"
    if dav.kind == "xandikos":  # its own namespace prefix
        marker = marker.replace("<", "<ns0:").replace("<ns0:/", "</ns0:")
    page = first.replace(b"</multistatus>", marker.encode() + b"</multistatus>")
    page = page.replace(b"</ns0:multistatus>", marker.encode() + b"</ns0:multistatus>")
    assert b"507" in page
    for i in range(3, 6):
        dav.put(ab_url + f"c{i}.vcf", numbered_card(i))

    def truncate_initial(request: Request) -> Respond | None:
        if b"<d:sync-token/>" in request.body:
            return Respond(207, page, (("Content-Type", "application/xml"),))
        return None

    proxy = counting_proxy(dav.url, when(truncate_initial, method="REPORT"))
    cfg = dav.config(
        tmp_path,
        server={"url": proxy.url},
        contacts={"addressbooks": [name]},
        reminders={"task_list": f"Trunc {tmp_path.name}"},
    )
    world = read(cfg)
    assert sorted(world.contacts) == [f"inc-{i}" for i in range(6)]
    assert parse_multistatus(page, ab_url).sync_token


def test_first_read_is_one_report_with_the_cards(setup: tuple[DavServer, str, Path, CountingProxy, Bodies]) -> None:
    """A first read asks the token-less sync-collection for the cards' text too: on Radicale that one
    REPORT lists and fetches everything; Xandikos leaves the text out (404), so its cards come by multiget."""
    dav, ab_url, cfg, proxy, bodies = setup
    world = read(cfg)
    assert len(world.contacts) == 12
    ab_path = ab_url.split("://", 1)[1].split("/", 1)[1]
    ab_reports = [r for r in proxy.snapshot() if r.method == "REPORT" and ab_path in r.path]
    assert bodies.data_syncs() == 1
    if dav.kind == "radicale":
        assert len(ab_reports) == 1 and bodies.multigets() == []
    else:
        assert len(ab_reports) == 2 and [len(h) for h in bodies.multigets()] == [12]
    proxy.reset()
    bodies.clear()
    again = read(cfg)
    assert names(again) == names(world) and bodies.multigets() == []
    assert proxy.counts()["REPORT"] == 1, "the token of that first answer is in use (no task list yet)"


def _without_address_data(body: bytes) -> bytes:
    return re.sub(rb"<(\w+:)?address-data[^>]*>.*?</(\w+:)?address-data>", b"", body, flags=re.S)


@pytest.mark.parametrize("answer", ["no data", "refused"])
def test_first_read_when_the_sync_answer_has_no_cards(
    dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, answer: str
) -> None:
    """A server that leaves the text out of a sync-collection answer, or refuses to give it: the members are
    fetched with multigets, and the result is the same."""
    name, ab_url = dav.make_addressbook()
    for i in range(6):
        dav.put(ab_url + f"c{i}.vcf", numbered_card(i))
    bodies = Bodies()

    def fault(request: Request) -> Forward | Respond | None:
        bodies(request)
        if b"sync-collection" in request.body and b"address-data" in request.body:
            return Forward(edit=_without_address_data) if answer == "no data" else Respond(400)
        return None

    proxy = counting_proxy(dav.url, when(fault))
    cfg = dav.config(
        tmp_path,
        server={"url": proxy.url},
        contacts={"addressbooks": [name]},
        reminders={"task_list": f"NoData {tmp_path.name}", "daily_limit": 2},
    )
    world = read(cfg)
    assert names(world) == {f"inc-{i}": f"Person {i}" for i in range(6)}
    etag_syncs = [b for b in bodies.reports() if b"sync-collection" in b and b"address-data" not in b]
    assert bodies.data_syncs() == 1 and len(etag_syncs) == (answer == "refused")
    assert sorted(h.rsplit(b"/", 1)[1] for hrefs in bodies.multigets() for h in hrefs) == [
        f"c{i}.vcf".encode() for i in range(6)
    ]
    bodies.clear()
    assert names(read(cfg)) == names(world) and bodies.multigets() == []


def test_damaged_cache_falls_back_to_a_full_read(setup: tuple[DavServer, str, Path, CountingProxy, Bodies]) -> None:
    _dav, _ab_url, cfg, _proxy, bodies = setup
    before = names(read(cfg))
    db_path = cfg.parent / "state" / "state.sqlite3"
    db = sqlite3.connect(db_path)
    with db:  # one row unreadable: fetched again, alone
        db.execute("UPDATE sync_items SET data = '{not json' WHERE href LIKE '%c7.vcf'")
    bodies.clear()
    assert names(read(cfg)) == before
    assert [[h.rsplit(b"/", 1)[1] for h in hrefs] for hrefs in bodies.multigets()] == [[b"c7.vcf"]]
    with db:  # rows missing behind the stored count: everything is read again
        db.execute("DELETE FROM sync_items WHERE href LIKE '%c1%.vcf'")
    bodies.clear()
    assert names(read(cfg)) == before
    assert bodies.data_syncs() == 1, "read afresh"
    with db:  # another reader version: read afresh
        db.execute("UPDATE sync_collections SET fingerprint = 'old'")
    bodies.clear()
    assert names(read(cfg)) == before
    assert bodies.data_syncs() == 1, "read afresh"
    db.close()


def test_moved_task_list_is_found_again(setup: tuple[DavServer, str, Path, CountingProxy, Bodies]) -> None:
    """A cached collection URL that answers 404 makes syncd discover the account again."""
    dav, _ab_url, cfg, proxy, _bodies = setup
    sync(cfg)
    e = engine(cfg)
    try:
        account = account_cache.load_account(e.state, e.settings)
        list_name = e.settings.reminders.task_list
    finally:
        e.close()
    assert account is not None
    [task_list] = [c for c in account.calendars if c.name == list_name]
    r = dav.http("DELETE", task_list.url.replace(proxy.origin, dav.url.rstrip("/")))
    assert r.status_code in (200, 204)
    proxy.reset()
    sync(cfg)
    assert "PROPFIND" in proxy.methods() and "MKCALENDAR" in proxy.methods()
    assert len([t for t in read(cfg).tasks if t.open]) == 2


def test_first_run_over_a_fresh_address_book_writes_no_cards(
    dav: DavServer, tmp_path: Path, counting_proxy: ProxyFactory
) -> None:
    """Writes are O(due + completions): 160 contacts, 150 tracked, most of them due: `daily_limit` task
    creations, the task list, and not a single card (and two multiget batches, fetched ahead)."""
    name, ab_url = dav.make_addressbook()
    text = "".join(generate_cards(160, NOW.date()))
    if dav.kind == "radicale":
        dav.http("DELETE", ab_url)
        dav.put(ab_url, text)  # Radicale takes a whole address book in one PUT
        prop = f"<d:set><d:prop><d:displayname>{name}</d:displayname></d:prop></d:set>"
        body = f'<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:">{prop}</d:propertyupdate>'
        dav.http("PROPPATCH", ab_url, body, **{"Content-Type": "application/xml"})
    else:
        for i, card in enumerate(generate_cards(160, NOW.date())):
            dav.put(ab_url + f"g{i}.vcf", card)
    proxy = counting_proxy(dav.url)
    cfg = dav.config(
        tmp_path,
        server={"url": proxy.url},
        contacts={"addressbooks": [name]},
        reminders={"task_list": f"Fresh {tmp_path.name}", "daily_limit": 5},
    )
    sync(cfg)
    writes = proxy.writes()
    assert [r.method for r in writes].count("MKCALENDAR") == 1
    assert [r.method for r in writes].count("PUT") == 5
    assert not [r for r in writes if r.method == "PUT" and not r.path.endswith(".ics")]
    proxy.reset()
    sync(cfg)
    assert proxy.writes() == [] and proxy.counts() == {"REPORT": 2}


def test_reminder_created_then_deleted_before_the_next_read(
    setup: tuple[DavServer, str, Path, CountingProxy, Bodies],
) -> None:
    """A reminder syncd created after the stored token and the user deleted before the next read is never
    reported by the server (Xandikos compares two states); it must still disappear from the cache."""
    dav, _ab_url, cfg, proxy, _bodies = setup
    sync(cfg)
    e = engine(cfg)
    try:
        rows = e.state.synced_items(next(c.url for c in e.state.synced_collections() if c.kind == members.TASK))
    finally:
        e.close()
    assert len(rows) == 2 and all(pending for _etag, _data, pending in rows.values())
    victim = sorted(rows)[0]
    r = dav.http("DELETE", victim.replace(proxy.origin, dav.url.rstrip("/")))
    assert r.status_code in (200, 204)
    world = read(cfg)
    assert victim not in {t.href for t in world.tasks} and len(world.tasks) == 1


def test_what_a_cycle_changes_in_memory_stays_out_of_the_next(
    setup: tuple[DavServer, str, Path, CountingProxy, Bodies],
) -> None:
    """The daemon reuses what it decoded last cycle; each cycle gets its own copies."""
    _dav, _ab_url, cfg, proxy, _bodies = setup
    sync(cfg)
    first = read(cfg)
    contact = first.contacts["inc-1"]
    contact.xsyncd["X-SYNCD-CIRCLE"] = "9"
    contact.emails.append("changed@example.org")
    first.tasks[0].done = True
    proxy.reset()
    second = read(cfg)
    assert proxy.counts() == {"REPORT": 2}
    assert second.contacts["inc-1"].xsyncd["X-SYNCD-CIRCLE"] == "2"
    assert second.contacts["inc-1"].emails == []
    assert not any(t.done for t in second.tasks)


@pytest.mark.parametrize("dav", ["sabredav"], indirect=True)
def test_without_sync_collection_only_changes_are_fetched(
    setup: tuple[DavServer, str, Path, CountingProxy, Bodies],
) -> None:
    # SabreDAV 1.8 offers no sync-collection: every cycle lists the members' ETags with PROPFIND and fetches only
    # what is new or changed with a multiget.
    dav, ab_url, cfg, proxy, bodies = setup
    sync(cfg)
    assert not [b for b in bodies.reports() if b"sync-collection" in b], "never asked for"
    assert not [r for r in proxy.writes() if "/ab-" in r.path], "a first run writes no cards"

    proxy.reset()
    bodies.clear()
    sync(cfg)
    answered = [r.method for r in proxy.snapshot() if r.status != 401]  # not the Digest challenges (test_auth.py)
    assert answered == ["PROPFIND", "PROPFIND"], proxy.methods()  # one listing per collection, nothing fetched

    edit(dav, ab_url + "c3.vcf", numbered_card(3, "Renamed Person"))
    proxy.reset()
    bodies.clear()
    world = read(cfg)
    assert names(world)["inc-3"] == "Renamed Person" and len(world.contacts) == 12
    assert [[h.rsplit(b"/", 1)[1] for h in hrefs] for hrefs in bodies.multigets()] == [[b"c3.vcf"]]

    r = dav.http("DELETE", ab_url + "c4.vcf")
    assert r.status_code in (200, 204)
    proxy.reset()
    bodies.clear()
    world = read(cfg)
    assert "inc-4" not in world.contacts and len(world.contacts) == 11
    assert bodies.multigets() == [] and "REPORT" not in proxy.counts()
