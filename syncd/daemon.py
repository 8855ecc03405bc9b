"""`syncd run`: sync every `schedule.sync_every` until SIGTERM/SIGINT; SIGHUP reloads the config.

The loop sleeps until the next job and wakes at once on a signal (signals are written into a socketpair with
`signal.set_wakeup_fd`). A failing cycle is logged in one line and retried with exponential backoff, capped
at the sync interval; the process never dies of it.
"""

from __future__ import annotations

import logging
import select
import signal
import socket
from collections.abc import Callable
from datetime import datetime

import schedule

from syncd.config import LoadedConfig
from syncd.errors import ConfigError, SyncdError

log = logging.getLogger("syncd")


class Daemon:
    def __init__(
        self,
        load: Callable[[], LoadedConfig],
        now_arg: str | None = None,
        on_cycle: Callable[[object], None] | None = None,
    ) -> None:
        self.load = load
        self.now_arg = now_arg
        self.on_cycle = on_cycle
        self.loaded = load()
        self.scheduler = schedule.Scheduler()
        self.failures = 0
        self.stop_requested = False
        self.reload_requested = False
        self._rfd, self._wfd = socket.socketpair()
        self._rfd.setblocking(False)
        self._wfd.setblocking(False)

    @property
    def interval_seconds(self) -> float:
        from syncd.durations import Duration

        return max(Duration(self.loaded.settings.schedule.sync_every).seconds, 1.0)

    def _now(self) -> datetime:
        from syncd.cli import parse_now

        return parse_now(self.now_arg, self.loaded.settings.schedule.zone)

    def cycle(self) -> None:
        from syncd.cli import make_client
        from syncd.cycle import Engine

        settings = self.loaded.settings
        engine = Engine(settings, make_client(settings))
        try:
            summary = engine.sync(self._now())
        except SyncdError as err:
            self.failures += 1
            delay = min(5.0 * 2 ** (self.failures - 1), self.interval_seconds)
            log.error("sync failed (%s); next try in %.0f s", err, delay)
            self._schedule(delay)
            return
        finally:
            engine.close()
            engine.client.close()
        self.failures = 0
        if self.on_cycle is not None:
            self.on_cycle(summary)
        self._schedule(self.interval_seconds)

    def _schedule(self, seconds: float) -> None:
        self.scheduler.clear()
        self.scheduler.every(max(round(seconds), 1)).seconds.do(self._run_job)

    def _run_job(self) -> type[schedule.CancelJob]:
        self.cycle()
        return schedule.CancelJob  # cycle() has scheduled the next run itself

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGHUP:
            self.reload_requested = True
        else:
            self.stop_requested = True

    def _reload(self) -> None:
        self.reload_requested = False
        try:
            loaded = self.load()
        except ConfigError as err:
            log.error("config reload failed, keeping the old config: %s", err)
            return
        self.loaded = loaded
        log.info("config reloaded from %s", loaded.source)
        self._schedule(0)

    def run(self, once: bool = False) -> int:
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        old_fd = signal.set_wakeup_fd(self._wfd.fileno())
        for sig in previous:
            signal.signal(sig, lambda s, f: None)  # handled through the wakeup fd
        log.info("syncd running: a sync every %s", self.loaded.settings.schedule.sync_every)
        try:
            self.cycle()
            while not once and not self.stop_requested:
                idle = self.scheduler.idle_seconds
                timeout = max(idle if idle is not None else self.interval_seconds, 0.0)
                ready, _, _ = select.select([self._rfd], [], [], timeout)
                if ready:
                    self._drain()
                    if self.stop_requested:
                        break
                    if self.reload_requested:
                        self._reload()
                self.scheduler.run_pending()
        finally:
            signal.set_wakeup_fd(old_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._rfd.close()
            self._wfd.close()
        log.info("syncd stopped")
        return 0

    def _drain(self) -> None:
        try:
            data = self._rfd.recv(512)
        except BlockingIOError:
            return
        for signum in data:
            self._on_signal(signum)
