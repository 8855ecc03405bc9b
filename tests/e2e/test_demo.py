"""`syncd demo` as a new user runs it: a local Radicale, sample contacts, one cycle, today's list — on a server of
its own that never outlives it, and never on one it did not start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from syncd.app.localserver import LocalRadicale, free_port, stop_process, wait_for_port
from tests.proxy import ProxyFactory
from tests.servers import DavServer

ENV = {**{k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}, "TZ": "Europe/Berlin"}
NOW = "2026-11-22T08:00"
EX_UNAVAILABLE = 69


def test_demo_once() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "syncd", "--now", NOW, "demo", "--once"],
        capture_output=True,
        text=True,
        timeout=180,
        env=ENV,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Loaded 300 sample contacts" in out
    assert "5 created" in out  # the default daily limit
    assert "NAME" in out and "CIRCLE" in out and "LAST CONTACT" in out
    assert "Keep in touch" in out and "username" in out and "password" in out
    assert "Your network: Of your 300 contacts, " in out and "touches a day; the daily limit is 5" in out
    assert 'in the calendar "Keep in touch — agenda"' in out
    # Exactly five people in the table.
    table = out.split("NAME", 1)[1].split("\n\n", 1)[0].strip().splitlines()[2:]
    assert len(table) == 5, table
    # The cycle's summary is shown once, on stdout and stderr together.
    assert (out + result.stderr).count("300 contacts read") == 1, out + result.stderr


# A port in use -------------------------------------------------------------------------------------------------


def collections(dav: DavServer) -> list[str]:
    """The members of the server's root and of its homes."""
    found: list[str] = []
    for url in {dav.url, dav.addressbook_home, dav.calendar_home}:
        found += dav.list_hrefs(url)
    return sorted(found)


@pytest.fixture
def open_radicale(tmp_path: Path) -> Iterator[DavServer]:
    """A Radicale that lets anyone in (`[auth] type = none`): whatever it is sent, it stores."""
    root = tmp_path / "open-radicale"
    root.mkdir()
    port = free_port()
    config = root / "radicale.conf"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n[rights]\ntype = authenticated\n"
        f"[storage]\nfilesystem_folder = {root / 'collections'}\n",
        encoding="utf-8",
    )
    with (root / "radicale.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "-C", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    wait_for_port("127.0.0.1", port, process)
    url = f"http://127.0.0.1:{port}/"
    yield DavServer("radicale", url, "someone", "anything", url + "someone/", url + "someone/")
    stop_process(process)


@pytest.mark.parametrize("other", ["open_radicale", "radicale", "xandikos"])
def test_demo_refuses_a_port_in_use_and_sends_it_nothing(
    other: str, request: pytest.FixtureRequest, counting_proxy: ProxyFactory, tmp_path: Path
) -> None:
    """Another DAV server listens on the port: the demo stops with an error naming the port (exit 69), and that
    server receives no request at all — the proxy in front of it records every one."""
    dav: DavServer = request.getfixturevalue(other)
    proxy = counting_proxy(dav.url)
    before = collections(dav)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "syncd", "--now", NOW, "demo", "--once", "--port", str(proxy.port), "--contacts", "20"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**ENV, "TMPDIR": str(tmp)},
    )
    assert result.returncode == EX_UNAVAILABLE, result.stdout + result.stderr
    error = result.stderr.strip().splitlines()
    assert len(error) == 1, result.stderr
    assert f"port {proxy.port}" in error[0] and "in use" in error[0], error
    assert "Traceback" not in result.stderr
    assert "Loaded" not in result.stdout
    assert proxy.snapshot() == [], proxy.methods()
    assert collections(dav) == before
    assert list(tmp.iterdir()) == [], "the demo's temporary folder is removed"


@pytest.mark.parametrize("other", ["open_radicale", "radicale", "xandikos"])
def test_a_server_that_does_not_know_the_password_is_not_the_demos(
    other: str, request: pytest.FixtureRequest, counting_proxy: ProxyFactory, tmp_path: Path
) -> None:
    """Should another server take the port between the check and Radicale's own bind, `start()` would find it
    there: it is not the demo's server, and it is sent no write — and credentials only when it demanded them."""
    dav: DavServer = request.getfixturevalue(other)
    proxy = counting_proxy(dav.url)
    assert LocalRadicale(tmp_path, port=proxy.port).is_ours() is False
    seen = proxy.snapshot()
    assert proxy.writes() == []
    assert seen[0].method == "PROPFIND" and "authorization" not in {name.lower() for name in seen[0].headers}
    if seen[0].status != 401:  # it let an anonymous request in: it is sent nothing more
        assert len(seen) == 1, proxy.methods()


def test_the_demos_own_server_is_recognised(tmp_path: Path) -> None:
    with LocalRadicale(tmp_path / "radicale") as server:
        assert server.is_ours() is True
        other = LocalRadicale(tmp_path / "other", port=server.port)  # another password: another server
        assert other.is_ours() is False


# Its server never outlives it ----------------------------------------------------------------------------------


@dataclass
class RunningDemo:
    process: subprocess.Popen[bytes]
    output: Path
    tmp: Path

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def wait_running(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while "Ctrl-C stops the demo" not in self.text():
            assert self.process.poll() is None, self.text()
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.1)

    def server_pids(self) -> list[int]:
        """The demo's child processes (its Radicale), read from /proc."""
        return [pid for pid, parent in processes() if parent == self.process.pid]

    def folders(self) -> list[Path]:
        return sorted(self.tmp.glob("syncd-demo-*"))


def processes() -> Iterator[tuple[int, int]]:
    """(pid, parent pid) of every process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        yield int(entry.name), int(fields[1])


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[RunningDemo]:
    """`syncd demo` (not --once) in a terminal session of its own, TMPDIR in the test's folder; whatever is left
    running when the test ends is killed."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    output = tmp_path / "demo.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "syncd", "--now", NOW, "demo", "--contacts", "20"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**ENV, "TMPDIR": str(tmp)},
            start_new_session=True,  # as a shell starts a job: the test can signal its process group
        )
    running = RunningDemo(process, output, tmp)
    servers: list[int] = []
    try:
        running.wait_running()
        servers = running.server_pids()
        assert len(servers) == 1, servers
        assert len(running.folders()) == 1
        yield running
    finally:
        for pid in [process.pid, *servers]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        process.wait()


def wait_gone(pids: list[int], folder: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) or list(folder.glob("syncd-demo-*")):
        assert time.monotonic() < deadline, (
            f"still running: {[pid for pid in pids if alive(pid)]}; left: {list(folder.iterdir())}"
        )
        time.sleep(0.1)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_demo_ends_with_its_server_and_folder_when_its_terminal_hangs_up(demo: RunningDemo) -> None:
    """Closing the terminal sends SIGHUP to the demo's process group: the demo ends (exit 0, as after SIGTERM),
    its server and its temporary folder with it."""
    servers = demo.server_pids()
    os.killpg(demo.process.pid, signal.SIGHUP)
    assert demo.process.wait(timeout=30) == 0, demo.text()
    wait_gone(servers, demo.tmp)
    assert "Traceback" not in demo.text()
    assert "sync failed" not in demo.text()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_demo_killed_takes_its_server_and_folder_along(demo: RunningDemo) -> None:
    """SIGKILL gives the demo no chance to clean up: its server notices that its parent is gone, removes the
    demo's temporary folder and exits, within a few seconds."""
    servers = demo.server_pids()
    demo.process.kill()
    demo.process.wait(timeout=10)
    wait_gone(servers, demo.tmp, timeout=10)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_a_folder_left_by_a_demo_killed_with_its_server_goes_with_the_next_demo(demo: RunningDemo) -> None:
    """`pkill -9 -f syncd` kills the demo and its server at once: the folder stays behind, and the next demo
    removes it. A folder whose processes still run, and one without the owners file, are left alone."""
    servers = demo.server_pids()
    for pid in [demo.process.pid, *servers]:
        os.kill(pid, signal.SIGKILL)
    demo.process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in servers):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    left = demo.folders()
    assert len(left) == 1 and (left[0] / "owners").exists()
    running = demo.tmp / "syncd-demo-running"
    running.mkdir()
    (running / "owners").write_text(f"{os.getpid()}\n", encoding="ascii")
    unknown = demo.tmp / "syncd-demo-unknown"
    unknown.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "syncd", "--now", NOW, "demo", "--once", "--contacts", "20"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**ENV, "TMPDIR": str(demo.tmp)},
    )
    assert result.returncode == 0, result.stderr
    assert demo.folders() == [running, unknown]
