"""`syncd run`: sync every `schedule.sync_every` until SIGTERM/SIGINT; SIGHUP reloads the config.

The loop sleeps in `select` until the next job of its own `schedule.Scheduler` (idle CPU ≈ 0) and wakes at once
on a signal: the handlers only set a flag, and `signal.set_wakeup_fd` writes the signal into a socketpair that
the loop watches.

- A failing cycle (server down, 5xx, timeout, even a bug) is logged in one line (the traceback only with
  `--verbose`) and retried with exponential backoff, capped at the sync interval; the process never dies of it.
- SIGTERM/SIGINT during a cycle: a write in progress completes (a read in progress is abandoned: it changes
  nothing), no further request is sent, and the process exits 0. Every write is a single conditional PUT and
  reminder UIDs are deterministic, so a cycle stopped between two requests leaves nothing half-written; the
  next cycle picks up where it stopped.
- SIGHUP: the config is loaded again; an invalid one is reported and the old one kept. A valid one takes effect
  at once (a cycle runs right after the reload).
- Under systemd (`syncd.app.notify`): READY=1 once the config is loaded, STATUS= with the last cycle's summary,
  RELOADING=1 / READY=1 around a reload, STOPPING=1, and WATCHDOG=1 after every healthy pass of the loop — the
  loop wakes at least every WATCHDOG_USEC/2 — and, during a long cycle, after each completed server request.
  A cycle stuck in one request for longer than WatchdogSec= is therefore restarted by systemd.
"""

from __future__ import annotations

import functools
import logging
import select
import signal
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import FrameType
from typing import Any

import schedule

from syncd.app import logs
from syncd.app.config_file import LoadedConfig
from syncd.app.notify import Notifier
from syncd.app.wiring import make_client, make_clients, open_session, parse_now, require_server
from syncd.config import Settings
from syncd.core.durations import Duration
from syncd.dav.client import WRITE_METHODS, DavClient, Response
from syncd.engine.cycle import Cycle
from syncd.engine.writing import Writer
from syncd.errors import ConfigError, SyncdError
from syncd.store import state

log = logging.getLogger("syncd")

_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
FIRST_RETRY_SECONDS = 5.0
# Retries inside one cycle (DavClient) get at most this share of the interval, so that a server outage costs
# one short failed cycle, not a long one; the daemon's own backoff takes over from there.
_IN_CYCLE_RETRY_SHARE = 0.5


class StopRequested(BaseException):
    """SIGTERM/SIGINT arrived during a cycle: raised before the next request, or during a read (never a write).

    A BaseException, so that no `except Exception` on the way (in the engine or its adapters) swallows it.
    """


def backoff_seconds(failures: int, interval: float) -> float:
    """5 s, 10 s, 20 s, ... after consecutive failures, never more than the sync interval."""
    if failures <= 0:
        return interval
    return float(min(FIRST_RETRY_SECONDS * 2.0 ** min(failures - 1, 30), interval))


def release_memory() -> None:
    """Hand the heap a cycle freed back to the system: glibc keeps it otherwise, and the daemon idles for hours
    (after a first sync of 5,000 cards that is ~5 MB of its RSS). Nothing happens without glibc."""
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def check_server(loaded: LoadedConfig) -> LoadedConfig:
    """The daemon needs a server; without one the config is invalid (exit 78, no restart by systemd)."""
    require_server(loaded)
    return loaded


class LoopClient(DavClient):
    """A DavClient that checks for a stop request before each request and feeds the watchdog after each one."""

    def __init__(self, daemon: Daemon, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._daemon = daemon

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Iterable[int] = (200, 201, 204, 207),
        stream: bool = False,
    ) -> Response:
        if self._daemon.stop_requested:
            raise StopRequested
        # A read may be abandoned at once on SIGTERM (it changes nothing); a write is always let finish.
        # (A streamed answer is read after this returns, by the caller: that read is let finish too.)
        self._daemon.abandonable = method.upper() not in WRITE_METHODS
        try:
            response = super().request(method, url, body=body, headers=headers, ok=ok, stream=stream)
        finally:
            self._daemon.abandonable = False
        self._daemon.feed_watchdog(only_if_due=True)
        return response

    def _retry(self, started: float, attempt: int) -> bool:
        # No new attempt of a failed request once a stop was requested (a retry would be a new request).
        if self._daemon.stop_requested:
            raise StopRequested
        return super()._retry(started, attempt)


class Daemon:
    def __init__(
        self,
        load: Callable[[], LoadedConfig],
        now_arg: str | None = None,
        on_cycle: Callable[[object], None] | None = None,
        notifier: Notifier | None = None,
        hangup_stops: bool = False,
    ) -> None:
        self.load = load
        self.hangup_stops = hangup_stops  # SIGHUP ends the loop as SIGTERM does (the demo), instead of reloading
        self.now_arg = now_arg
        self.on_cycle = on_cycle
        self.loaded = check_server(load())
        self.notifier = notifier if notifier is not None else Notifier()
        self.scheduler = schedule.Scheduler()
        self.failures = 0
        self.cycles = 0
        self.stop_requested = False
        self.reload_requested = False
        self.abandonable = False  # a read request is in flight: a stop may abandon it
        self._due = time.monotonic()

    # Config-derived values ---------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.loaded.settings

    @property
    def interval_seconds(self) -> float:
        return max(Duration(self.settings.schedule.sync_every).seconds, 1.0)

    def _now(self) -> datetime:
        return parse_now(self.now_arg, self.settings.schedule.zone)

    def make_client(self, account: str = "") -> DavClient:
        deadline = min(25.0, self.interval_seconds * _IN_CYCLE_RETRY_SHARE)
        return make_client(self.settings, functools.partial(LoopClient, self), account=account, deadline=deadline)

    # One cycle -----------------------------------------------------------------------------------------

    def cycle(self) -> None:
        """One sync; schedules the next run (after the interval, or after a backoff delay if it failed)."""
        self.cycles += 1
        try:
            session = open_session(self.settings, clients=make_clients(self.settings, self.make_client))
            try:
                summary = Cycle(session, Writer(session)).run(self._now())
            finally:
                session.close()
                release_memory()
        except SyncdError as err:
            log.debug("the cycle failed here", exc_info=True)
            self._failed(logs.mask(str(err)))
            return
        except Exception as err:  # a bug must not end a service that runs for months: log, back off, retry
            log.debug("unexpected error in the sync cycle", exc_info=True)
            self._failed(f"internal error: {type(err).__name__}: {logs.mask(str(err))} (details with --verbose)")
            return
        self.failures = 0
        self.notifier.status(f"last sync {time.strftime('%H:%M:%S')}: {summary.line()}")
        if self.on_cycle is not None:
            self.on_cycle(summary)
        self._schedule(self.interval_seconds)

    def _failed(self, reason: str) -> None:
        state.recheck()  # the next cycle checks the state file before trusting it again
        self.failures += 1
        delay = backoff_seconds(self.failures, self.interval_seconds)
        attempt = f" ({self.failures} in a row)" if self.failures > 1 else ""
        log.error("sync failed%s: %s; next try in %.0f s", attempt, reason, delay)
        when = time.strftime("%H:%M:%S")
        self.notifier.status(f"sync failed at {when}{attempt}: {reason}; next try in {delay:.0f} s")
        self._schedule(delay)

    def _schedule(self, seconds: float) -> None:
        self.scheduler.clear()
        delay = max(round(seconds), 1)
        self.scheduler.every(delay).seconds.do(self._run_job)
        # `schedule` follows the wall clock; the monotonic deadline makes sure that a clock set back (NTP on a
        # board without a battery-backed clock) never postpones a sync.
        self._due = time.monotonic() + delay

    def _run_due_job(self) -> None:
        if self.scheduler.jobs and time.monotonic() >= self._due:
            self.scheduler.run_all()
        else:
            self.scheduler.run_pending()

    def _run_job(self) -> type[schedule.CancelJob]:
        self.cycle()
        return schedule.CancelJob  # cycle() has scheduled the next run itself

    # Signals, reload, watchdog -------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Runs in the main thread between two bytecodes; the wakeup fd has already woken the loop's select.
        if signum == signal.SIGHUP and not self.hangup_stops:
            self.reload_requested = True
            return
        self.stop_requested = True
        if self.abandonable:
            # Interrupts the blocking read (PEP 475: an exception from a handler ends the system call). The
            # HTTP library drops the connection, as it does on Ctrl-C.
            self.abandonable = False
            raise StopRequested

    def _reload(self) -> None:
        self.reload_requested = False
        self.notifier.reloading()
        try:
            loaded = check_server(self.load())
        except ConfigError as err:
            log.error("config reload failed, keeping the old config: %s", logs.mask(str(err)))
            self.notifier.ready(f"config reload failed, kept the old config: {logs.mask(str(err))}")
            return
        self.loaded = loaded
        log.info("config reloaded from %s; syncing every %s", loaded.source, self.settings.schedule.sync_every)
        self.notifier.ready("config reloaded; syncing now")
        self.failures = 0
        self.cycle()

    def feed_watchdog(self, only_if_due: bool = False) -> None:
        if not only_if_due or self.notifier.watchdog_due():
            self.notifier.watchdog()

    def _timeout(self) -> float:
        idle = self.scheduler.idle_seconds
        timeout = min(idle, self._due - time.monotonic()) if idle is not None else self.interval_seconds
        watchdog = self.notifier.watchdog_interval
        if watchdog is not None:
            timeout = min(timeout, watchdog)
        return max(timeout, 0.0)

    @staticmethod
    def _drain(wakeup: socket.socket) -> None:
        try:
            while wakeup.recv(512):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    # The loop --------------------------------------------------------------------------------------------

    def run(self, once: bool = False) -> int:
        wakeup, signalled = socket.socketpair()
        wakeup.setblocking(False)
        signalled.setblocking(False)
        previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
        old_fd = signal.set_wakeup_fd(signalled.fileno(), warn_on_full_buffer=False)
        for sig in _SIGNALS:
            signal.signal(sig, self._on_signal)
        log.info("syncd running: a sync every %s (config %s)", self.settings.schedule.sync_every, self.loaded.source)
        self.notifier.ready(f"config loaded from {self.loaded.source}; first sync starting")
        try:
            self.cycle()
            self.feed_watchdog()
            while not once and not self.stop_requested:
                ready, _, _ = select.select([wakeup], [], [], self._timeout())
                if ready:
                    self._drain(wakeup)
                if self.stop_requested:
                    break
                if self.reload_requested:
                    self._reload()
                self._run_due_job()
                self.feed_watchdog()
        except StopRequested:
            log.info("stop requested during a sync: no write was cut short, no further request was sent")
        finally:
            self.notifier.stopping()
            signal.set_wakeup_fd(old_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            wakeup.close()
            signalled.close()
            self.notifier.close()
        log.info("syncd stopped")
        return 0
