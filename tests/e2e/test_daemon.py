"""`syncd run` as systemd runs it: a real process, a real notification socket, a real Radicale that goes away.

The main test follows a day in the life of the service: READY and WATCHDOG on the socket, reminders created,
the server stopped (the daemon keeps running, one log line per failed cycle, no traceback), the server back on
the same port (the next cycle succeeds), SIGHUP with a new daily_limit (visible on the server), an invalid
config on SIGHUP (kept the old one), SIGTERM (exit 0 within a second, nothing half-written). The password
comes from `$CREDENTIALS_DIRECTORY/password`, as with LoadCredential=, and never appears in the output.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from icalendar import Calendar

from syncd.app.daemon import Daemon as DaemonLoop
from syncd.app.daemon import backoff_seconds
from syncd.app.localserver import LocalRadicale
from tests.factories import numbered_card
from tests.proxy import Action, CountingProxy, Request, Respond, Stall, chain, when
from tests.servers import DavServer, radicale_server

PASSWORD = "s3cret-Pa55word"  # what tests.servers.radicale_server sets up
USERNAME = "alice"


# A notification socket, as systemd binds it -------------------------------------------------------------


@dataclass
class Message:
    at: float
    fields: dict[str, str]


@dataclass
class NotifySocket:
    """An AF_UNIX datagram socket on a short path; a thread records every message with its arrival time."""

    path: str
    sock: socket.socket
    messages: list[Message] = field(default_factory=list)

    @classmethod
    def open(cls, directory: str) -> NotifySocket:
        path = os.path.join(directory, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.2)
        listener = cls(path, sock)
        threading.Thread(target=listener._read, daemon=True, name="notify").start()
        return listener

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            self.messages.append(Message(time.monotonic(), fields))

    def since(self, start: float) -> list[dict[str, str]]:
        return [m.fields for m in list(self.messages) if m.at >= start]

    def find(self, predicate: Callable[[dict[str, str]], bool], after: float, timeout: float = 15.0) -> Message:
        """Wait for a message that arrived after `after` and matches."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in list(self.messages):
                if message.at >= after and predicate(message.fields):
                    return message
            time.sleep(0.02)
        got = "\n".join(str(m.fields) for m in self.messages[-15:])
        raise AssertionError(f"no such notification within {timeout} s; the last ones:\n{got}")

    def wait(self, predicate: Callable[[dict[str, str]], bool], after: float, timeout: float = 15.0) -> float:
        """Wait for a message that arrived after `after` and matches; returns its arrival time."""
        return self.find(predicate, after, timeout).at

    def close(self) -> None:
        self.sock.close()


def status_ok(fields: dict[str, str]) -> bool:
    return fields.get("STATUS", "").startswith("last sync")


def status_failed(fields: dict[str, str]) -> bool:
    return fields.get("STATUS", "").startswith("sync failed")


# The daemon process ---------------------------------------------------------------------------------------


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    output: Path

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def lines(self) -> list[str]:
        return self.text().splitlines()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def start_daemon(
    config: Path, workdir: Path, notify: NotifySocket, *extra: str, journal: bool = False, watchdog: float = 2.0
) -> Daemon:
    """`syncd [extra] --config CONFIG run`, stdout and stderr into one file; `journal`: as if that were journald;
    `watchdog`: WatchdogSec= in seconds."""
    output = workdir / "daemon.log"
    output.touch()
    credentials = workdir / "credentials"
    credentials.mkdir(exist_ok=True)
    (credentials / "password").write_text(PASSWORD + "\n", encoding="utf-8")
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "JOURNAL_", "NOTIFY_", "WATCHDOG_"))},
        "NOTIFY_SOCKET": notify.path,
        "WATCHDOG_USEC": str(int(watchdog * 1_000_000)),
        "CREDENTIALS_DIRECTORY": str(credentials),
    }
    if journal:
        st = output.stat()
        environment["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    with output.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "syncd", *extra, "--config", str(config), "run"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=environment,
        )
    return Daemon(process, output)


def stop_limit() -> float:
    """1 s, the promise for a machine that is not overloaded. Under a load average above the number of CPUs
    (other test runs sharing the machine) every process runs slower by about that factor, and so may this."""
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    return 1.0 * max(1.0, load)


def terminate(daemon: Daemon) -> float:
    """SIGTERM; returns how long the process took to exit. It must exit 0."""
    sent = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    code = daemon.process.wait(timeout=10)
    took = time.monotonic() - sent
    assert code == 0, daemon.text()
    return took


# Server content ---------------------------------------------------------------------------------------------

CONTACTS = 6


def seed(dav: DavServer) -> tuple[str, str]:
    """An address book of CONTACTS people in circle 1, never contacted (so all are due); returns its name."""
    name, url = dav.make_addressbook()
    for i in range(CONTACTS):
        dav.put(
            f"{url}daemon-{i}.vcf",
            numbered_card(i, circle="1", prefix="daemon"),
            **{"If-None-Match": "*"},
        )
    return name, url


def write_config(dav: DavServer, workdir: Path, addressbook: str, task_list: str, limit: int, every: str) -> Path:
    config = dav.config(
        workdir,
        contacts={"addressbooks": [addressbook]},
        reminders={"task_list": task_list, "daily_limit": limit},
        schedule={"timezone": "Europe/Berlin", "sync_every": every},
    )
    # No password in the file: it comes from $CREDENTIALS_DIRECTORY/password, as under LoadCredential=.
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r'(?m)^password = ".*"\n', "", text), encoding="utf-8")
    assert "password" not in config.read_text()
    return config


def open_reminders(dav: DavServer, task_list: str) -> dict[str, int]:
    """Open reminders per contact UID in the task list named `task_list` (every task must parse)."""
    from syncd.dav.client import DavClient
    from syncd.dav.discovery import list_collections

    with DavClient(username=dav.username, password=dav.password) as client:
        lists = [c.url for c in list_collections(client, dav.calendar_home) if c.name == task_list]
    assert len(lists) == 1, lists
    counts: dict[str, int] = {}
    for href in dav.list_hrefs(lists[0]):
        todo = next(iter(Calendar.from_ical(dav.get(href).text).walk("VTODO")))
        assert todo.get("UID") and todo.get("X-SYNCD-CONTACT"), href
        if str(todo.get("STATUS")) == "NEEDS-ACTION":
            uid = str(todo["X-SYNCD-CONTACT"])
            counts[uid] = counts.get(uid, 0) + 1
    return counts


def assert_no_secret(text: str) -> None:
    basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, basic, "Authorization", "authorization"):
        assert secret not in text, f"{secret!r} appears in the daemon's output"


# Fixtures ----------------------------------------------------------------------------------------------------


@pytest.fixture
def short_dir() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="sdd-") as tmp:  # AF_UNIX paths are limited to 107 bytes
        yield tmp


@pytest.fixture
def notify(short_dir: str) -> Iterator[NotifySocket]:
    listener = NotifySocket.open(short_dir)
    yield listener
    listener.close()


@pytest.fixture
def own_radicale(tmp_path: Path) -> Iterator[tuple[LocalRadicale, DavServer]]:
    """A Radicale of this test's own, which the test may stop and start again on the same port."""
    server, dav = radicale_server(tmp_path / "radicale")
    yield server, dav
    server.stop()


# The day in the life ------------------------------------------------------------------------------------------


def test_daemon_survives_outage_reload_and_stops_cleanly(
    tmp_path: Path, notify: NotifySocket, own_radicale: tuple[LocalRadicale, DavServer]
) -> None:
    server, dav = own_radicale
    addressbook, _ = seed(dav)
    task_list = f"Keep in touch {uuid.uuid4().hex[:6]}"
    config = write_config(dav, tmp_path, addressbook, task_list, limit=2, every="PT1S")
    t0 = time.monotonic()
    daemon = start_daemon(config, tmp_path, notify)
    restarted: LocalRadicale | None = None
    try:
        # Started: READY, a successful cycle, a watchdog ping after it.
        ready = notify.wait(lambda f: f.get("READY") == "1", t0)
        first_ok = notify.wait(status_ok, ready)
        notify.wait(lambda f: f.get("WATCHDOG") == "1", first_ok)
        assert notify.since(t0)[0].get("READY") == "1", "READY=1 is the first message"
        assert len(open_reminders(dav, task_list)) == 2
        assert "2 created" in daemon.text()

        # The server goes away for a while: the daemon keeps running, one log line per failed cycle.
        before_outage = len(daemon.lines())
        server.stop()
        stopped = time.monotonic()
        third_failure = notify.wait(lambda f: "(3 in a row)" in f.get("STATUS", ""), stopped, timeout=20)
        notify.wait(lambda f: f.get("WATCHDOG") == "1", third_failure)  # the loop stays healthy meanwhile
        assert daemon.process.poll() is None, daemon.text()
        # Radicale back on the same port, with the same store: the next cycle succeeds.
        restarted = LocalRadicale(server.root, port=server.port, username=USERNAME, password=PASSWORD).start()
        back = time.monotonic()
        recovered = notify.wait(status_ok, back, timeout=20)
        outage_log = daemon.lines()[before_outage:]
        failed_lines = [line for line in outage_log if "sync failed" in line]
        failed_statuses = [f for f in notify.since(stopped) if status_failed(f)]
        assert len(failed_lines) >= 3
        assert len(failed_lines) == len(failed_statuses), "exactly one log line per failed cycle"
        assert all("sync failed" in line or "sync:" in line for line in outage_log), outage_log
        assert all("connection refused" in line for line in failed_lines), failed_lines
        assert "Traceback" not in daemon.text()
        assert recovered > back

        # SIGHUP with a new daily_limit: RELOADING=1, READY=1, and the limit takes effect on the server.
        write_config(dav, tmp_path, addressbook, task_list, limit=4, every="PT1S")
        hup = time.monotonic()
        daemon.process.send_signal(signal.SIGHUP)
        reloading = notify.find(lambda f: f.get("RELOADING") == "1", hup)
        assert int(reloading.fields["MONOTONIC_USEC"]) > 0
        reloaded = notify.wait(lambda f: f.get("READY") == "1", reloading.at)
        notify.wait(status_ok, reloaded)
        reminders = open_reminders(dav, task_list)
        assert len(reminders) == 4 and set(reminders.values()) == {1}, reminders

        # An invalid config on SIGHUP: reported, the old one kept, the daemon goes on syncing.
        config.write_text(config.read_text() + "\n[reminders2]\nbogus = 1\n", encoding="utf-8")
        hup = time.monotonic()
        daemon.process.send_signal(signal.SIGHUP)
        kept = notify.wait(lambda f: f.get("READY") == "1", hup)
        notify.wait(status_ok, kept)
        assert "config reload failed, keeping the old config: reminders2: unknown key" in daemon.text()
        assert len(open_reminders(dav, task_list)) == 4

        # SIGTERM: exit 0 within a second, STOPPING=1, nothing half-written.
        took = terminate(daemon)
        assert took < stop_limit(), f"took {took:.2f} s to stop"
        notify.wait(lambda f: f.get("STOPPING") == "1", t0, timeout=1)
        reminders = open_reminders(dav, task_list)
        assert len(reminders) == 4 and set(reminders.values()) == {1}, reminders
        databases = list((tmp_path / "state").glob("*.sqlite3"))
        assert databases
        for path in databases:
            db = sqlite3.connect(path)
            try:
                assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            finally:
                db.close()
        for journal in (tmp_path / "state").glob("*.jsonl"):
            for line in journal.read_text(encoding="utf-8").splitlines():
                json.loads(line)
        # What the daemon left is consistent: a one-shot sync afterwards has nothing to create or write.
        write_config(dav, tmp_path, addressbook, task_list, limit=4, every="PT1S")
        after = subprocess.run(
            [sys.executable, "-m", "syncd", "--config", str(config), "sync"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "CREDENTIALS_DIRECTORY": str(tmp_path / "credentials")},
        )
        assert after.returncode == 0, after.stderr
        assert "0 created, 0 completed, 0 cards written" in after.stderr, after.stderr
        assert open_reminders(dav, task_list) == reminders
        text = daemon.text()
        assert "syncd stopped" in text.splitlines()[-1]
        assert "Traceback" not in text
        assert_no_secret(text)
    finally:
        daemon.stop()
        if restarted is not None:
            restarted.stop()


# Through a fault-injecting proxy ------------------------------------------------------------------------------


def config_via(
    proxy: CountingProxy,
    dav: DavServer,
    workdir: Path,
    addressbook: str,
    task_list: str,
    *,
    limit: int = 1,
    every: str = "PT1H",
) -> Path:
    """A config for `dav` that reaches it through `proxy`."""
    config = write_config(dav, workdir, addressbook, task_list, limit=limit, every=every)
    config.write_text(config.read_text().replace(dav.url, proxy.url), encoding="utf-8")
    return config


def noticing(action: Action) -> tuple[threading.Event, Callable[[Request], Action]]:
    """A fault hook that does `action` and sets the event when the first request reaches it."""
    arrived = threading.Event()

    def hook(request: Request) -> Action:
        arrived.set()
        return action

    return arrived, hook


def terminate_on(arrived: threading.Event, daemon: Daemon) -> float:
    """Once the proxy saw the request: SIGTERM; returns how long the exit (code 0) took."""
    try:
        assert arrived.wait(20), daemon.text()
        return terminate(daemon)
    finally:
        daemon.stop()


def test_sigterm_during_a_write_lets_it_complete_and_sends_nothing_more(
    tmp_path: Path, notify: NotifySocket, radicale: DavServer
) -> None:
    """The write in progress completes (the reminder is on the server), no further request is sent, exit 0.
    With --verbose (debug output of every request), neither the password nor an Authorization header shows."""
    addressbook, _ = seed(radicale)
    task_list = f"Keep in touch {uuid.uuid4().hex[:6]}"
    arrived, hold = noticing(Stall(1.0))
    with CountingProxy(radicale.url, fault=when(hold, method="PUT", times=1)) as proxy:
        config = config_via(proxy, radicale, tmp_path, addressbook, task_list, limit=3)
        terminate_on(arrived, start_daemon(config, tmp_path, notify, "--verbose"))
        puts = [r for r in proxy.snapshot() if r.method == "PUT"]
        assert len(puts) == 1 and puts[0].status == 201, proxy.snapshot()
        assert proxy.snapshot()[-1].method == "PUT", "nothing was sent after the write in progress"
    assert len(open_reminders(radicale, task_list)) == 1
    text = (tmp_path / "daemon.log").read_text()
    assert "no write was cut short" in text
    assert "PUT " in text, "debug output of the requests is there"
    assert_no_secret(text)


def test_watchdog_follows_progress_and_stops_for_a_stuck_request(
    tmp_path: Path, notify: NotifySocket, radicale: DavServer
) -> None:
    """WatchdogSec=2s: during a slow cycle (every request takes 0.25 s) WATCHDOG=1 keeps coming well within
    the 2 s; while one request hangs for 4 s none comes, so systemd would restart a really stuck daemon."""
    addressbook, _ = seed(radicale)
    stuck: list[float] = []

    def hang(request: Request) -> Stall:
        stuck.append(time.monotonic())
        return Stall(4.0)

    fault = chain(when(hang, method="PUT", times=1), when(Stall(0.25)))  # the first reminder written
    with CountingProxy(radicale.url, fault=fault) as proxy:
        config = config_via(proxy, radicale, tmp_path, addressbook, f"Tasks {uuid.uuid4().hex[:6]}")
        t0 = time.monotonic()
        daemon = start_daemon(config, tmp_path, notify, watchdog=2.0)
        try:
            done = notify.wait(status_ok, t0, timeout=30)
            assert terminate(daemon) < stop_limit()
        finally:
            daemon.stop()
    assert len(stuck) == 1
    pings = [m.at for m in notify.messages if m.fields.get("WATCHDOG") == "1" and m.at <= done]
    before = [t for t in pings if t < stuck[0]]
    assert len(before) >= 2, "pings while the slow cycle makes progress"
    assert max(b - a for a, b in itertools.pairwise(before)) < 2.0
    assert not [t for t in pings if stuck[0] + 0.1 < t < stuck[0] + 3.9], "no ping while a request hangs"
    assert [t for t in pings if t > stuck[0] + 3.9], "pings again once it moves on"


def test_sigterm_during_a_slow_read_abandons_it(tmp_path: Path, notify: NotifySocket, radicale: DavServer) -> None:
    """A read changes nothing, so a stop does not wait for a slow one (here a REPORT held for 20 s)."""
    addressbook, _ = seed(radicale)
    arrived, hold = noticing(Stall(20.0))
    with CountingProxy(radicale.url, fault=when(hold, method="REPORT", times=1)) as proxy:
        config = config_via(proxy, radicale, tmp_path, addressbook, f"Tasks {uuid.uuid4().hex[:6]}")
        took = terminate_on(arrived, start_daemon(config, tmp_path, notify))
        assert took < stop_limit(), f"took {took:.2f} s"
        assert proxy.snapshot()[-1].method == "REPORT", "nothing was sent after it"
        assert not proxy.writes()
    assert "no write was cut short" in (tmp_path / "daemon.log").read_text()


def test_sigterm_while_retrying_a_failing_server_sends_no_further_attempt(
    tmp_path: Path, notify: NotifySocket, radicale: DavServer
) -> None:
    """A server answering 503: a stop does not wait for the request's remaining retries (up to 25 s)."""
    arrived, unavailable = noticing(Respond(503))
    with CountingProxy(radicale.url, fault=when(unavailable)) as proxy:
        config = config_via(proxy, radicale, tmp_path, "Contacts", "Tasks")
        took = terminate_on(arrived, start_daemon(config, tmp_path, notify))
        assert took < 3.0, f"took {took:.2f} s"
        assert len(proxy.snapshot()) <= 2, proxy.snapshot()
    assert "sync failed" not in (tmp_path / "daemon.log").read_text()


def test_journald_format_and_verbose_failures_keep_secrets(
    tmp_path: Path, notify: NotifySocket, radicale: DavServer
) -> None:
    """Under journald (JOURNAL_STREAM names our stderr): syslog priority prefixes, no timestamps. A server that
    answers 500 to everything, with --verbose: tracebacks are shown, the password and Authorization are not."""
    addressbook, _ = seed(radicale)
    with CountingProxy(radicale.url, fault=when(Respond(500, b"boom"))) as proxy:
        config = config_via(proxy, radicale, tmp_path, addressbook, f"Tasks {uuid.uuid4().hex[:6]}", every="PT1S")
        t0 = time.monotonic()
        daemon = start_daemon(config, tmp_path, notify, "--verbose", journal=True)
        try:
            notify.wait(lambda f: "(2 in a row)" in f.get("STATUS", ""), t0, timeout=20)
            assert terminate(daemon) < stop_limit()
        finally:
            daemon.stop()
        assert proxy.snapshot(), "the daemon did talk to the server"
    lines = daemon.lines()
    assert all(re.match(r"<[0-7]>", line) for line in lines), lines
    assert not any(re.match(r"<\d>\d{4}-\d\d-\d\d", line) for line in lines), "no timestamps for journald"
    assert any(line.startswith("<3>sync failed") for line in lines), lines
    assert any(line.startswith("<6>syncd running") for line in lines)
    assert any(line.startswith("<7>") for line in lines), "debug output with --verbose"
    assert "Traceback" in daemon.text(), "--verbose shows tracebacks"
    assert_no_secret(daemon.text())


def test_invalid_config_at_start_exits_78_without_ready(tmp_path: Path, notify: NotifySocket) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[reminders]\ndaily_limit = "many"\n[server]\nurl = "http://127.0.0.1:9/"\n', encoding="utf-8")
    t0 = time.monotonic()
    daemon = start_daemon(config, tmp_path, notify)
    try:
        assert daemon.process.wait(timeout=20) == 78
    finally:
        daemon.stop()
    assert "reminders.daily_limit" in daemon.text()
    time.sleep(0.1)
    assert not [f for f in notify.since(t0) if f.get("READY")], "READY=1 only after a successful config load"


def test_backoff_doubles_from_five_seconds_and_is_capped_by_the_interval() -> None:
    assert [backoff_seconds(n, 900) for n in range(1, 10)] == [5, 10, 20, 40, 80, 160, 320, 640, 900]
    assert backoff_seconds(1, 2) == 2
    assert backoff_seconds(100, 60) == 60
    assert backoff_seconds(0, 60) == 60


# In-process: the scheduling rules ------------------------------------------------------------------------------


def in_process_daemon(tmp_path: Path) -> DaemonLoop:
    from syncd.app.config_file import load_config
    from syncd.app.notify import Notifier

    config = tmp_path / "config.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[server]\nurl = "http://127.0.0.1:9/"\n[schedule]\nsync_every = "PT1S"\n',
        encoding="utf-8",
    )
    return DaemonLoop(lambda: load_config(str(config)), notifier=Notifier({}))


def test_a_clock_set_back_does_not_postpone_the_next_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    daemon = in_process_daemon(tmp_path)
    ran: list[float] = []
    monkeypatch.setattr(daemon, "cycle", lambda: ran.append(time.monotonic()))
    daemon._schedule(1)
    job = daemon.scheduler.jobs[0]
    job.next_run = job.next_run + timedelta(hours=1)  # what the wall clock going back an hour looks like
    assert daemon._timeout() <= 1.0, "the loop still wakes when the sync is due"
    daemon._run_due_job()
    assert ran == [], "not due yet"
    time.sleep(1.05)
    daemon._run_due_job()
    assert len(ran) == 1


def test_a_bug_in_a_cycle_is_one_line_and_a_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import syncd.engine.cycle

    daemon = in_process_daemon(tmp_path)

    def broken_sync(self: object, now: object) -> None:
        raise KeyError("s3cret-in-a-message")

    monkeypatch.setattr(syncd.engine.cycle.Cycle, "run", broken_sync)
    from syncd.app import logs

    logs.add_secret("s3cret-in-a-message")
    daemon.cycle()
    daemon.cycle()
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2
    assert "internal error: KeyError" in errors[0].getMessage()
    assert "s3cret-in-a-message" not in errors[0].getMessage() and "***" in errors[0].getMessage()
    assert "(2 in a row)" in errors[1].getMessage()
    assert daemon.failures == 2 and len(daemon.scheduler.jobs) == 1
    assert daemon.scheduler.idle_seconds is not None and daemon.scheduler.idle_seconds <= 1.0, "capped by interval"
