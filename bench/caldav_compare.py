"""python-caldav against syncd's own client, on the CalDAV side syncd needs: find the task list and read it.

    pip install caldav            # not a dependency of syncd; only this comparison uses it
    python bench/caldav_compare.py [--items 1000] [--repeat 3]

A local Radicale gets one VTODO-only task list of `--items` tasks (uploaded once per run). Both clients go
through the recording proxy of the tests (tests/proxy.py), which counts their requests. Measured, each the best
of `--repeat` runs, with a fresh client each time:

- discover: from the server's base URL to the task list (principal, calendar home, its calendars)
- first read: discover, then every task with its text (python-caldav: `search(todo=True,
  include_completed=True)`, which parses each into an icalendar object; syncd: its first read, one
  sync-collection REPORT with the data, each task parsed into a reminder)
- query read (syncd only): discover, then the same tasks by a calendar-query REPORT, as python-caldav reads them
- no change: a sync-collection with a current token (python-caldav: `get_objects_by_sync_token(token,
  load_objects=True)`; syncd: `incremental.sync_collection`)

It is a benchmark, not a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from syncd.app.localserver import LocalRadicale  # noqa: E402
from syncd.config import ServerConfig  # noqa: E402
from syncd.dav import incremental, tasks  # noqa: E402
from syncd.dav.client import DavClient  # noqa: E402
from syncd.dav.discovery import discover  # noqa: E402
from syncd.store.members import parse_reminder  # noqa: E402
from tests.proxy import CountingProxy  # noqa: E402

USER, PASSWORD = "bench", "bench-Pa55word"
LIST = "Keep in touch"
ZONE = ZoneInfo("Europe/Berlin")


def vtodo(i: int) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VTODO\r\n"
        f"UID:bench-{i:05d}\r\nDTSTAMP:20261101T090000Z\r\nSUMMARY:Call Person {i:05d}\r\n"
        f"DUE;VALUE=DATE:202611{1 + i % 28:02d}\r\nSTATUS:{'COMPLETED' if i % 3 == 0 else 'NEEDS-ACTION'}\r\n"
        f"PRIORITY:5\r\nX-SYNCD-CONTACT:person-{i:05d}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )


def populate(server: LocalRadicale, items: int) -> str:
    url = f"{server.principal_url}tasks-{uuid.uuid4().hex[:8]}/"
    http = requests.Session()
    http.auth = (USER, PASSWORD)
    body = (
        '<?xml version="1.0" encoding="utf-8"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
        f"<d:set><d:prop><d:displayname>{LIST}</d:displayname><c:supported-calendar-component-set>"
        '<c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>'
    )
    assert http.request("MKCALENDAR", url, data=body).status_code == 201
    for i in range(items):
        r = http.put(f"{url}bench-{i:05d}.ics", data=vtodo(i), headers={"Content-Type": "text/calendar"})
        assert r.status_code == 201, r.status_code
    return url


def best(repeat: int, proxy: CountingProxy, run: Callable[[], Any]) -> tuple[float, int, Any]:
    """(best seconds, requests of one run, the last run's result)."""
    times, result, count = [], None, 0
    for _ in range(repeat):
        proxy.reset()
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
        count = len(proxy.snapshot())
    return min(times), count, result


def with_caldav(url: str) -> dict[str, Callable[[], Any]]:
    import caldav

    def find() -> Any:
        client = caldav.DAVClient(url=url, username=USER, password=PASSWORD)
        return next(c for c in client.principal().calendars() if c.get_display_name() == LIST)

    def first() -> int:
        todos = find().search(todo=True, include_completed=True)
        return len([t.icalendar_component for t in todos])

    state: dict[str, Any] = {}

    def no_change() -> int:
        if "token" not in state:
            state["calendar"] = find()
            state["token"] = state["calendar"].get_objects_by_sync_token(load_objects=False).sync_token
        found = state["calendar"].get_objects_by_sync_token(state["token"], load_objects=True)
        return len(list(found))

    return {"discover": find, "first read": first, "no change": no_change}


def with_syncd(url: str) -> dict[str, Callable[[], Any]]:
    server = ServerConfig(url=url, username=USER)

    def find() -> Any:
        with DavClient(username=USER, password=PASSWORD) as client:
            return tasks.find_task_list(discover(client, server), LIST)

    def first() -> int:
        with DavClient(username=USER, password=PASSWORD) as client:
            task_list = tasks.find_task_list(discover(client, server), LIST)
            assert task_list is not None
            found: list[object] = []
            listing = incremental.first_listing(
                client,
                task_list,
                incremental.task_reader(ZONE).data,
                lambda item: found.append(parse_reminder(item.href, item.etag, item.text, ZONE)),
            )
            assert listing is not None
            return len(found)

    def query() -> int:
        with DavClient(username=USER, password=PASSWORD) as client:
            task_list = tasks.find_task_list(discover(client, server), LIST)
            assert task_list is not None
            found = [parse_reminder(t.href, t.etag, t.text, ZONE) for t in tasks.read_tasks(client, task_list)]
            return len(found)

    state: dict[str, Any] = {}

    def no_change() -> int:
        with DavClient(username=USER, password=PASSWORD) as client:
            if "token" not in state:
                state["list"] = tasks.find_task_list(discover(client, server), LIST)
                state["token"] = incremental.sync_collection(client, state["list"].url, None).token
            listing = incremental.sync_collection(client, state["list"].url, state["token"])
            return len(listing.etags)

    return {"discover": find, "first read": first, "query read": query, "no change": no_change}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp:
        server = LocalRadicale(Path(tmp), username=USER, password=PASSWORD).start()
        try:
            populate(server, args.items)
            proxy = CountingProxy(server.url).start()
            try:
                rows = []
                for name, runs in (("python-caldav", with_caldav(proxy.url)), ("syncd", with_syncd(proxy.url))):
                    for step, run in runs.items():
                        seconds, count, result = best(args.repeat, proxy, run)
                        shown = result if isinstance(result, int) else "found" if result is not None else "-"
                        rows.append((name, step, seconds, count, shown))
            finally:
                proxy.close()
        finally:
            server.stop()
    print(f"{args.items} tasks on a local Radicale, best of {args.repeat}")
    print(f"{'client':<14} {'step':<11} {'seconds':>8} {'requests':>9}  result")
    for name, step, seconds, count, shown in rows:
        print(f"{name:<14} {step:<11} {seconds:8.3f} {count:9d}  {shown}")


if __name__ == "__main__":
    main()
