"""What one run of syncd holds: the settings, a client per role, the state file and the change journal.

Built in one place (`syncd.app.wiring`) for the command line, the daemon, the demo, the benchmark and the tests.
Each role has its own client: contacts and reminders may live in different accounts (`contacts.account`,
`reminders.account`, `interactions.account`), each with its own server and password; the wiring builds one
client per account and gives roles of one account the same client.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from syncd.config import Settings
from syncd.dav.client import DavClient
from syncd.dav.incremental import ProgressDisplay, no_progress
from syncd.store.journal import Journal
from syncd.store.state import State
from syncd.store.writehook import WriteHook


@dataclass(frozen=True, slots=True)
class Clients:
    """The client of each role: `contacts` reads and patches cards, `calendars` holds the task list and the
    events calendar, `meetings` reads the calendars of meetings (`interactions.calendars`)."""

    contacts: DavClient
    calendars: DavClient
    meetings: DavClient

    @classmethod
    def single(cls, client: DavClient) -> Clients:
        return cls(client, client, client)

    def distinct(self) -> list[DavClient]:
        return list({id(c): c for c in (self.contacts, self.calendars, self.meetings)}.values())

    def counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for client in self.distinct():
            total.update(client.counts)
        return total

    def requests(self) -> int:
        return sum(self.counts().values())

    def writes(self) -> int:
        return sum(client.writes for client in self.distinct())


class Session:
    def __init__(
        self,
        settings: Settings,
        clients: Clients,
        state: State | None = None,
        progress: ProgressDisplay = no_progress,
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.zone: ZoneInfo = settings.schedule.zone
        self.progress = progress
        self._state = state
        self._journal: Journal | None = None
        self._watching = False

    @property
    def state(self) -> State:
        if self._state is None:
            self._state = State.in_dir(self.settings.state_dir)
        return self._state

    @property
    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal.in_dir(self.settings.state_dir)
        return self._journal

    def watch_writes(self) -> None:
        """From now on the read cache follows this session's own writes (syncd.store.writehook)."""
        if not self._watching:
            for client in self.clients.distinct():
                client.write_listeners.append(WriteHook(self.state, self.zone))
            self._watching = True

    def read_only(self) -> None:
        """A write reaching a client would be a bug (`sync --dry-run`): refused, never sent."""
        for client in self.clients.distinct():
            client.read_only = True

    def close(self) -> None:
        if self._state is not None:
            self._state.close()
            self._state = None
        for client in self.clients.distinct():
            client.close()
