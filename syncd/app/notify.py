"""sd_notify without a C library: tell systemd how the daemon is doing over its notification socket.

systemd passes `NOTIFY_SOCKET` (a path, or `@name` for an abstract socket) to a `Type=notify` service and, with
`WatchdogSec=`, `WATCHDOG_USEC` (and `WATCHDOG_PID`). Each message is one datagram of `KEY=VALUE` lines
(sd_notify(3)). Outside systemd every call is a no-op. The variables are removed from the environment so that
child processes do not talk to systemd in syncd's name.

A failure to notify is logged at debug level and never stops the daemon.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import MutableMapping

log = logging.getLogger("syncd.app.notify")

_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def socket_address(value: str) -> str | bytes | None:
    """The `NOTIFY_SOCKET` value as an AF_UNIX address: a path, or an abstract name (`@x` -> NUL `x`)."""
    if value.startswith("/"):
        return value
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    return None  # e.g. vsock: addresses, which syncd does not use


def watchdog_seconds(environ: MutableMapping[str, str], pid: int) -> float | None:
    """The watchdog timeout systemd expects us to honour, or None when there is none for this process."""
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(pid):
        return None
    return int(usec) / 1_000_000


class Notifier:
    """One notification socket, read from (and then removed from) the environment."""

    def __init__(self, environ: MutableMapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        self.address = socket_address(raw) if raw else None
        if raw and self.address is None:
            log.debug("NOTIFY_SOCKET %r is not an AF_UNIX address; not notifying", raw)
        self.watchdog_timeout = watchdog_seconds(env, os.getpid()) if self.address else None
        for name in _VARIABLES:
            env.pop(name, None)
        self._sock: socket.socket | None = None
        self._last_watchdog = 0.0

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """How often to send WATCHDOG=1: half the timeout, as sd_watchdog_enabled(3) recommends."""
        return self.watchdog_timeout / 2 if self.watchdog_timeout else None

    def send(self, *fields: str) -> bool:
        """Send `KEY=VALUE` fields as one datagram; returns whether it was sent."""
        if self.address is None:
            return False
        message = "\n".join(f.replace("\n", " ") if f.startswith("STATUS=") else f for f in fields).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message, self.address)
        except OSError as err:
            log.debug("sd_notify failed: %s", err)
            return False
        return True

    # The messages syncd sends ------------------------------------------------------------------------

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def reloading(self) -> bool:
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading the config")

    def stopping(self) -> bool:
        return self.send("STOPPING=1", "STATUS=stopping")

    def watchdog(self) -> bool:
        """WATCHDOG=1, when a watchdog is set; call it after every healthy pass of the loop."""
        if self.watchdog_timeout is None:
            return False
        self._last_watchdog = time.monotonic()
        return self.send("WATCHDOG=1")

    def watchdog_due(self) -> bool:
        interval = self.watchdog_interval
        return interval is not None and time.monotonic() - self._last_watchdog >= interval

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
