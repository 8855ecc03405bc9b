"""`syncd check`: say in plain words what syncd found — config, server, address books, task list."""

from __future__ import annotations

from typing import TextIO

from syncd.config import LoadedConfig
from syncd.core.circles import group_members, resolve
from syncd.core.contacts import contact_from_card
from syncd.core.vcard import CardSyntaxError
from syncd.dav import carddav, tasks
from syncd.dav.client import DavClient
from syncd.dav.discovery import discover, select_addressbooks
from syncd.errors import ConfigError, SyncdError


def run_check(loaded: LoadedConfig, client: DavClient, out: TextIO) -> int:
    settings = loaded.settings
    say = out.write
    say(f"config     {loaded.source}: OK\n")
    if not settings.server.url and not (settings.server.carddav_url and settings.server.caldav_url):
        raise ConfigError(f"server.url: required key is missing in {loaded.source}")
    who = f" as {settings.server.username!r}" if settings.server.username else " (no username)"
    say(f"server     {settings.server.url or settings.server.carddav_url}{who}\n")
    try:
        account = discover(client, settings.server)
    except SyncdError:
        say("           not reached — see the error below\n")
        raise
    say(f"           reached; principal {account.principal or '(none announced)'}\n")
    say(f"contacts   address book home {account.addressbook_home or 'not found'}\n")
    chosen = select_addressbooks(account, settings.contacts.addressbooks)
    total = tracked = broken = 0
    for ab in account.addressbooks:
        if ab not in chosen:
            say(f"           - {ab.label()}: not selected (contacts.addressbooks)\n")
            continue
        cards = carddav.read_addressbook(client, ab)
        people = []
        for card in cards:
            try:
                people.append(contact_from_card(card))
            except CardSyntaxError:
                broken += 1
        groups = group_members(people)
        n_tracked = sum(1 for c in people if resolve(c, settings.circle_rules, groups) is not None)
        n_people = sum(1 for c in people if not c.is_group)
        total += n_people
        tracked += n_tracked
        sync = "sync-collection supported" if ab.supports_sync else "no sync-collection (full reads)"
        say(f"           - {ab.label()}: {n_people} contacts, {n_tracked} tracked; {sync}\n")
    if not chosen:
        say("           no address book found: syncd has nobody to remind you of\n")
    if broken:
        say(f"           {broken} cards cannot be read and will be skipped (see `syncd sync` warnings)\n")
    if total and not tracked:
        say(
            "           nobody is tracked yet: give contacts a circle (`syncd set NAME --circle 1`) "
            "or set contacts.default_circle\n"
        )
    say(f"tasks      calendar home {account.calendar_home or 'not found'}\n")
    name = settings.reminders.task_list
    task_list = tasks.find_task_list(account, name)
    if task_list is None:
        say(f"           task list {name!r} not found: the first sync creates it (VTODO-only)\n")
    else:
        found = tasks.read_tasks(client, task_list)
        say(f"           task list {task_list.label()}: {len(found)} tasks\n")
    if settings.reminders.calendar:
        from syncd.dav.discovery import find_calendar

        cal = find_calendar(account, settings.reminders.calendar)
        state = "found" if cal else "NOT FOUND"
        say(f"events     calendar {settings.reminders.calendar!r}: {state}\n")
    for name in settings.interactions.calendars:
        from syncd.dav.discovery import find_calendar

        state = "found" if find_calendar(account, name) else "NOT FOUND: its meetings are not counted"
        say(f"meetings   calendar {name!r}: {state}\n")
    limit = settings.reminders.daily_limit
    zone = settings.schedule.timezone
    say(f"plan       up to {limit} reminders a day; days are counted in {zone}\n")
    say(f"state      {settings.state_dir}\n")
    return 0
