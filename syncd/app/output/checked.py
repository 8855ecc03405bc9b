"""`syncd check` in words: what the config says, what the server holds, what syncd will do with it."""

from __future__ import annotations

from typing import TextIO

from syncd.app.config_file import LoadedConfig, searched, start_here
from syncd.core.words import counted
from syncd.engine.check import Findings


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


def print_server(loaded: LoadedConfig, out: TextIO) -> None:
    server = loaded.settings.server
    who = f" as {server.username!r}" if server.username else " (no username)"
    out.write(f"server     {server.url or server.carddav_url}{who}\n")


def print_unreached(out: TextIO) -> None:
    out.write("           not reached — see the error below\n")


def print_findings(loaded: LoadedConfig, found: Findings, out: TextIO) -> None:
    settings = loaded.settings
    say = out.write
    account = found.account
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
    for name, there in found.calendars.items():
        say(f"events     calendar {name!r}: {'found' if there else 'NOT FOUND'}\n")
    for name, there in found.meetings.items():
        state = "found" if there else "NOT FOUND: its meetings are not counted"
        say(f"meetings   calendar {name!r}: {state}\n")
    zone = settings.schedule.timezone
    limit = counted(settings.reminders.daily_limit, "reminder")
    say(f"plan       up to {limit} a day; days are counted in {zone}\n")
    say(f"state      {settings.state_dir}\n")
