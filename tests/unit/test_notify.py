"""sd_notify against a real AF_UNIX datagram socket, as systemd listens on it (path and abstract addresses)."""

from __future__ import annotations

import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncd.app.notify import Notifier, socket_address, watchdog_seconds


class Listener:
    """What systemd does: bind a datagram socket, read `KEY=VALUE` messages."""

    def __init__(self, address: str) -> None:
        self.name = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        bound = socket_address(address)
        assert bound is not None
        self.sock.bind(bound)
        self.sock.settimeout(2.0)

    def receive(self) -> dict[str, str]:
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n"))

    def nothing_pending(self) -> bool:
        self.sock.settimeout(0.05)
        try:
            self.sock.recv(4096)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(2.0)
        return False

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(params=["path", "abstract"])
def listener(request: pytest.FixtureRequest) -> Iterator[Listener]:
    if request.param == "abstract":
        one = Listener(f"@syncd-test-{uuid.uuid4().hex}")
        yield one
        one.close()
        return
    # A short directory: AF_UNIX paths are limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="sdn-") as tmp:
        one = Listener(str(Path(tmp) / "notify"))
        yield one
        one.close()


def test_messages_arrive_as_systemd_reads_them(listener: Listener) -> None:
    env = {"NOTIFY_SOCKET": listener.name, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid())}
    notifier = Notifier(env)
    try:
        assert notifier.enabled
        assert notifier.watchdog_interval == 2.0
        assert env == {}, "the variables are not passed on to child processes"

        assert notifier.ready("config loaded")
        assert listener.receive() == {"READY": "1", "STATUS": "config loaded"}
        assert notifier.status("last sync: 3 created\nand a second line")
        assert listener.receive() == {"STATUS": "last sync: 3 created and a second line"}
        assert notifier.watchdog()
        assert listener.receive() == {"WATCHDOG": "1"}
        assert not notifier.watchdog_due(), "just fed"

        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert notifier.reloading()
        message = listener.receive()
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert message["RELOADING"] == "1"
        assert before <= int(message["MONOTONIC_USEC"]) <= after
        assert notifier.stopping()
        assert listener.receive()["STOPPING"] == "1"
        assert listener.nothing_pending()
    finally:
        notifier.close()


def test_watchdog_for_another_process_is_not_ours(listener: Listener) -> None:
    env = {"NOTIFY_SOCKET": listener.name, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    notifier = Notifier(env)
    try:
        assert notifier.watchdog_interval is None
        assert not notifier.watchdog()
        assert not notifier.watchdog_due()
        assert notifier.ready()
        assert listener.receive() == {"READY": "1"}
        assert listener.nothing_pending()
    finally:
        notifier.close()


def test_outside_systemd_everything_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready("x")
    assert not notifier.watchdog()
    assert notifier.watchdog_interval is None
    notifier.close()


def test_a_vanished_socket_never_raises() -> None:
    with tempfile.TemporaryDirectory(prefix="sdn-") as tmp:
        notifier = Notifier({"NOTIFY_SOCKET": str(Path(tmp) / "gone")})
        try:
            assert notifier.enabled
            assert not notifier.ready("nobody listens")
        finally:
            notifier.close()


def test_addresses_and_watchdog_values() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@abstract") == b"\0abstract"
    assert socket_address("@") is None
    assert socket_address("vsock:2:1234") is None
    assert watchdog_seconds({"WATCHDOG_USEC": "30000000"}, 1) == 30.0
    assert watchdog_seconds({"WATCHDOG_USEC": "0"}, 1) is None
    assert watchdog_seconds({"WATCHDOG_USEC": "junk"}, 1) is None
    assert watchdog_seconds({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "7"}, 7) == 1.0
    assert watchdog_seconds({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "8"}, 7) is None
    assert watchdog_seconds({}, 1) is None
