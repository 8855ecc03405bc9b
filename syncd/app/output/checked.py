"""`syncd check` in words: what the config says, what the server holds, what syncd will do with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from syncd.app.config_file import LoadedConfig, searched, start_here
from syncd.core.words import counted
from syncd.engine.check import Findings, Probe, owned


def print_config(loaded: LoadedConfig, out: TextIO) -> None:
    if loaded.path is not None:
        out.write(f"config     {loaded.path}: OK\n")
        return
    out.write("config     no config file found; looked in, in this order:\n")
    for place in searched():
        out.write(f"             {place}\n")
    out.write(f"           start from the example: {start_here()}\n")
    server = loaded.settings.server
    if server.url or (server.carddav_url and server.caldav_url):
        out.write("           using the environment (SYNCD_*) and the defaults: OK\n")


def _section(name: str) -> str:
    return f"[accounts.{name}]" if name else "[server]"


def print_server(loaded: LoadedConfig, out: TextIO) -> None:
    settings = loaded.settings
    roles = settings.roles
    if len(roles) > 1:  # split accounts: each with what it serves
        for i, (name, serves) in enumerate(roles.items()):
            server = settings.server_for(name)
            who = f" as {server.username!r}" if server.username else " (no username)"
            label = "accounts   " if i == 0 else "           "
            out.write(f"{label}{_section(name)} {server.url or server.carddav_url}{who}: {', '.join(serves)}\n")
        return
    server = settings.server
    who = f" as {server.username!r}" if server.username else " (no username)"
    out.write(f"server     {server.url or server.carddav_url}{who}\n")


def print_unreached(out: TextIO) -> None:
    out.write("           not reached — see the error below\n")


def print_findings(loaded: LoadedConfig, found: Findings, out: TextIO) -> None:
    settings = loaded.settings
    say = out.write
    account = found.account
    if len(found.accounts) > 1:
        for reached in found.accounts:
            part = reached.account
            homes = []
            if "contacts" in reached.serves:
                homes.append(f"address book home {part.addressbook_home or 'not found'}")
            if reached.serves != ["contacts"]:
                homes.append(f"calendar home {part.calendar_home or 'not found'}")
            say(
                f"           {_section(reached.name)} reached; principal {part.principal or '(none announced)'}; "
                f"{'; '.join(homes)}\n"
            )
    else:
        say(f"           reached; principal {account.principal or '(none announced)'}\n")
    say(f"contacts   address book home {account.addressbook_home or 'not found'}\n")
    for book in found.addressbooks:
        label = book.collection.label()
        if not book.selected:
            say(f"           - {label}: not selected (contacts.addressbooks)\n")
            continue
        sync = "sync-collection supported" if book.collection.supports_sync else "no sync-collection (full reads)"
        say(f"           - {label}: {counted(book.people, 'contact')}, {book.tracked} tracked; {sync}\n")
    if not any(book.selected for book in found.addressbooks):
        say("           no address book found: syncd has nobody to remind you of\n")
    if found.broken:
        say(
            f"           {counted(found.broken, 'card')} cannot be read and will be skipped "
            "(see `syncd sync` warnings)\n"
        )
    if found.people and not found.tracked:
        say(
            "           nobody is tracked yet: give contacts a circle (`syncd set NAME --circle 1`) "
            "or set contacts.default_circle\n"
        )
    say(f"tasks      calendar home {account.calendar_home or 'not found'}\n")
    if found.task_list is None:
        say(
            f"           task list {settings.reminders.task_list!r} not found: the first sync creates it (VTODO-only)\n"
        )
    else:
        say(f"           task list {found.task_list.label()}: {counted(found.tasks, 'task')}\n")
        _print_phone(found, say)
    for name, there in found.calendars.items():
        say(f"events     calendar {name!r}: {'found' if there else 'NOT FOUND'}\n")
    for name, there in found.meetings.items():
        state = "found" if there else "NOT FOUND: its meetings are not counted"
        say(f"meetings   calendar {name!r}: {state}\n")
    for line in found.providers:
        say(f"provider   {line}\n")
    zone = settings.schedule.timezone
    limit = counted(settings.reminders.daily_limit, "reminder")
    say(f"plan       up to {limit} a day; days are counted in {zone}\n")
    say(f"state      {settings.state_dir}\n")


def _print_phone(found: Findings, say: Callable[[str], object]) -> None:
    """What iPhone Reminders will make of the task list."""
    task_list = found.task_list
    if task_list is None:
        return
    kinds = sorted(task_list.components)
    if kinds == ["VTODO"]:
        say("           - VTODO only: it shows as a list in iPhone Reminders\n")
    else:
        holds = ", ".join(kinds) if kinds else "any kind of item (no component set announced)"
        say(
            f"           - holds {holds}: a list that is not VTODO-only does NOT show in iPhone Reminders; "
            "name a new list in reminders.task_list and the next sync creates it VTODO-only\n"
        )
    sharing = found.sharing
    if sharing is not None:
        own = owned(found.account, sharing)
        if own is False:
            say(
                f"           - owned by {sharing.owner}, not by you: a list shared with you does NOT show in "
                "iPhone Reminders; use a list of your own\n"
            )
        elif sharing.shared:
            say("           - shared: a shared list does NOT show in iPhone Reminders; use one that is not shared\n")
        elif own:
            say("           - your own, not shared\n")
        else:
            say("           - owner not announced by the server; not shared\n")
        if sharing.writable is False:
            say("           - read-only for you: syncd cannot write its reminders there\n")
    if task_list.supports_sync:
        say(
            "           - change feed (sync-collection) supported; whether it reports deletions, which recent "
            "iPhone Reminders needs to keep pulling changes: `syncd check --probe`\n"
        )
    else:
        say(
            "           - no change feed (sync-collection): recent iPhone Reminders may stop pulling changes "
            "from this list\n"
        )


def print_probes(probes: list[Probe], out: TextIO) -> None:
    say = out.write
    if not probes:
        say("probe      nothing to probe: no address book is read and the task list does not exist yet\n")
    for probe in probes:
        kind = "card" if probe.collection.kind == "addressbook" else "task"
        say(f"probe      a scratch {kind} in {probe.collection.label()}, written, read back and deleted\n")
        if probe.error:
            say(f"           not made: {probe.error}\n")
        for prop, kept in probe.kept.items():
            verdict = "kept as written" if kept else "NOT kept: the server drops or changes it"
            say(f"           - {prop}: {verdict}\n")
        if probe.kept and not all(probe.kept.values()):
            say("           syncd keeps circles and dates in X-SYNCD-* lines: on this server they would be lost\n")
        if probe.deletion_reported is True:
            say("           - the change feed reports deletions\n")
        elif probe.deletion_reported is False:
            say(
                "           - the change feed does NOT report deletions: recent iPhone Reminders stops pulling "
                "changes from such a list\n"
            )
        elif not probe.error:
            say("           - no change feed (sync-collection) to ask about deletions\n")
        if probe.left_behind:
            say(f"           could NOT delete it again: remove {probe.left_behind} by hand\n")
