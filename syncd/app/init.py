"""`syncd init`: a working config from a few answers. It asks for what the flags leave out (only when standard input
is a terminal), reaches the server with those credentials, discovers the address books, lets the user choose,
and writes the config (0600) — and a typed password into a 0600 `password` file beside it — only then. It never
replaces an existing file without `--force`. A `--password-file` or `--password-command` is named in the config
as given."""

from __future__ import annotations

import argparse
import contextlib
import copy
import getpass
import json
import os
import re
import shlex
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from syncd.app import wiring
from syncd.app.config_file import find_config, user_config
from syncd.config import RemindersConfig, Settings
from syncd.core.account import Account, Collection
from syncd.core.words import counted
from syncd.dav.discovery import discover, select_addressbooks
from syncd.engine import check
from syncd.errors import CantCreate, ConfigError, UsageError

ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")  # as the config requires of an [accounts] key

PASSWORD_FILE = "password"  # beside the config, when the password was typed
ZONEINFO = "/zoneinfo/"


@dataclass(slots=True)
class Answers:
    url: str
    username: str = ""
    password: str | None = None
    password_file: Path | None = None  # given with --password-file: the config names it
    password_command: list[str] | None = None  # given with --password-command: the config holds it
    addressbooks: list[str] = field(default_factory=list)  # empty = all
    task_list: str = RemindersConfig.model_fields["task_list"].default
    timezone: str = "UTC"


def machine_zone(
    environ: Mapping[str, str] | None = None,
    localtime: Path = Path("/etc/localtime"),
    timezone_file: Path = Path("/etc/timezone"),
) -> str:
    """The machine's own time zone: `$TZ`, else where /etc/localtime points, else /etc/timezone; else UTC."""
    env = os.environ if environ is None else environ
    candidates = [env.get("TZ", "").removeprefix(":")]
    try:
        target = str(localtime.resolve())
        if ZONEINFO in target:
            candidates.append(target.split(ZONEINFO, 1)[1])
    except OSError:
        pass
    with contextlib.suppress(OSError):
        candidates.append(timezone_file.read_text(encoding="utf-8").strip())
    for name in candidates:
        if name and _is_zone(name):
            return name
    return "UTC"


def _is_url(url: str) -> bool:
    return re.match(r"^https?://[^/\s]+", url) is not None and not any(c.isspace() for c in url)


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in name or name == "UTC"


def target_path(explicit: str | None) -> Path:
    """Where the config goes: `--config`, else `$SYNCD_CONFIG`, else `$XDG_CONFIG_HOME/syncd/config.toml`."""
    if explicit or os.environ.get("SYNCD_CONFIG"):
        found = find_config(explicit)
        assert found is not None
        return found
    return user_config()


class Asker:
    """Questions on the terminal; without one, no question is asked (`interactive` is False)."""

    def __init__(self, out: TextIO, interactive: bool) -> None:
        self.out = out
        self.interactive = interactive

    def ask(self, question: str, default: str = "") -> str:
        hint = f" [{default}]" if default else ""
        try:
            answer = input(f"{question}{hint}: ").strip()
        except EOFError:
            raise UsageError(f"init: no answer to {question!r}; nothing was written") from None
        return answer or default

    def secret(self, question: str) -> str:
        try:
            return getpass.getpass(f"{question}: ")
        except EOFError:
            raise UsageError(f"init: no answer to {question!r}; nothing was written") from None


def gather(
    args: argparse.Namespace, asker: Asker, password_env: str = "SYNCD_SERVER__PASSWORD", zone_too: bool = True
) -> Answers:
    """Everything but the address books: from the flags, the environment (`password_env`), or the terminal;
    the time zone only when `zone_too`."""
    url = args.url or ""
    if url and not _is_url(url):
        raise UsageError(f"--url: {url!r} is not an http:// or https:// URL")
    if not url and not asker.interactive:
        raise UsageError(
            "init: --url is required when standard input is not a terminal (or start from the documented "
            "example: `syncd init --example`)"
        )
    while not url:
        url = asker.ask("Server URL (e.g. https://dav.example.com/)")
        if url and not _is_url(url):
            asker.out.write(f"  {url!r} is not an http:// or https:// URL\n")
            url = ""
    answers = Answers(url=url)
    answers.username = args.username if args.username is not None else ""
    if args.username is None and asker.interactive:
        answers.username = asker.ask("User name (empty: none)")
    if args.password_command:
        try:
            answers.password_command = shlex.split(args.password_command)
        except ValueError as err:
            raise UsageError(f"--password-command: {err}") from err
        if not answers.password_command:
            raise UsageError("--password-command: empty")
    elif args.password_file:
        answers.password_file = Path(args.password_file).expanduser().absolute()
        try:
            answers.password = answers.password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as err:
            raise UsageError(f"--password-file: cannot read {answers.password_file}: {err.strerror}") from err
    elif os.environ.get(password_env):
        answers.password = os.environ[password_env]
    elif answers.username and asker.interactive:
        answers.password = asker.secret(f"Password for {answers.username}")
    if not zone_too:
        return answers
    zone = args.timezone
    if zone and not _is_zone(zone):
        raise UsageError(f"--timezone: {zone!r} is not an IANA time zone such as Europe/Berlin")
    while not zone:
        zone = asker.ask("Time zone", machine_zone()) if asker.interactive else machine_zone()
        if not _is_zone(zone):
            asker.out.write(f"  {zone!r} is not an IANA time zone such as Europe/Berlin\n")
            zone = ""
    answers.timezone = zone
    return answers


def choose_addressbooks(args: argparse.Namespace, account: Account, asker: Asker) -> list[str]:
    """`--addressbook` (repeatable), else a numbered choice on the terminal; all (an empty list) by default."""
    books = account.addressbooks
    if args.addressbook:
        try:
            chosen = select_addressbooks(account, args.addressbook)
        except ConfigError as err:
            raise UsageError(f"--addressbook: {str(err).partition(': ')[2]}") from err
        return [_name(book) for book in chosen]
    if not asker.interactive or len(books) < 2:
        return []
    asker.out.write("Address books on the server:\n")
    for number, book in enumerate(books, 1):
        asker.out.write(f"  {number}. {book.label()}\n")
    while True:
        answer = asker.ask("Which ones should syncd read? Numbers, e.g. 1 3", "all")
        if answer.lower() == "all":
            return []
        picked = answer.replace(",", " ").split()
        if picked and all(p.isdigit() and 1 <= int(p) <= len(books) for p in picked):
            numbers = dict.fromkeys(int(p) for p in picked)
            return [_name(books[n - 1]) for n in numbers]
        asker.out.write(f"  please answer with numbers from 1 to {len(books)}, or press Enter for all\n")


def _name(book: Collection) -> str:
    """How the config names an address book: its display name, or its path when it has none."""
    return book.name or book.path


def choose_task_list(args: argparse.Namespace, account: Account, asker: Asker, default: str) -> str:
    if args.task_list:
        return str(args.task_list)
    if not asker.interactive:
        return default
    lists = [c.name for c in account.calendars if c.name and c.components == {"VTODO"}]
    if lists:
        asker.out.write(f"Task lists on the server: {', '.join(repr(n) for n in lists)}\n")
    return asker.ask("Task list for the reminders (created by the first sync when missing)", default)


def toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's, and DEL must be escaped too."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def credential_lines(answers: Answers, password_file: Path | None) -> list[str]:
    """A server table's user name and where its password comes from."""
    lines = [f"username = {toml_string(answers.username)}"] if answers.username else []
    if password_file is not None:
        lines.append(f"password_file = {toml_string(str(password_file))}")
    elif answers.password_command is not None:
        argv = ", ".join(toml_string(arg) for arg in answers.password_command)
        lines.append(f"password_command = [{argv}]")
    return lines


def config_text(answers: Answers, password_file: Path | None) -> str:
    books = ", ".join(toml_string(name) for name in answers.addressbooks)
    lines = [
        "# syncd config, written by `syncd init`. Every key, with its default: `syncd init --example`.",
        "",
        "[server]",
        f"url = {toml_string(answers.url)}",
    ]
    lines += credential_lines(answers, password_file)
    lines += [
        "",
        "[contacts]",
        "# the address books syncd reads, by name; [] = all",
        f"addressbooks = [{books}]",
        "",
        "[reminders]",
        "# the CalDAV task list your phone's Reminders app shows; the first sync creates it (VTODO-only)",
        f"task_list = {toml_string(answers.task_list)}",
        "",
        "[schedule]",
        "# days and due dates are counted in this time zone",
        f"timezone = {toml_string(answers.timezone)}",
        "",
    ]
    return "\n".join(lines)


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` (mode 0600 from the start), replacing it in one step."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _reach(answers: Answers) -> Account:
    """Discover the account with these answers' credentials; raises (AuthError, ServerError) when it cannot."""
    server: dict[str, Any] = {"url": answers.url, "username": answers.username}
    if answers.password is not None:
        server["password"] = answers.password
    elif answers.password_command is not None:
        server["password_command"] = answers.password_command
    data: dict[str, Any] = {"server": server}  # merged with the environment as a config file's keys are
    settings = Settings(**data)
    session = wiring.open_session(settings, retries=0)
    try:
        return check.reach(session)
    finally:
        session.close()


def run(args: argparse.Namespace, out: TextIO, *, interactive: bool | None = None) -> Path:
    """Ask, reach the server, choose, write. Returns the config's path."""
    target = target_path(args.config)
    if getattr(args, "account", None):
        return add_account(args, out, Asker(out, sys.stdin.isatty() if interactive is None else interactive), target)
    password_path = target.with_name(PASSWORD_FILE)
    if target.exists() and not args.force:
        raise CantCreate(f"init: {target} exists; --force replaces it")
    asker = Asker(out, sys.stdin.isatty() if interactive is None else interactive)
    answers = gather(args, asker)
    typed = answers.password is not None and answers.password_file is None and answers.password_command is None
    if typed and password_path.exists() and not args.force:
        raise CantCreate(f"init: {password_path} exists; --force replaces it")
    account = _reach(answers)
    out.write(f"Reached {answers.url}: {counted(len(account.addressbooks), 'address book')}\n")
    if not account.addressbooks:
        out.write("  none yet: syncd reads every address book the server will have (contacts.addressbooks = [])\n")
    answers.addressbooks = choose_addressbooks(args, account, asker)
    answers.task_list = choose_task_list(args, account, asker, answers.task_list)
    password_file = answers.password_file
    if typed:
        password_file = password_path.absolute()
    text = config_text(answers, password_file)
    Settings(**tomllib.loads(text))  # what is written is what `check` and `sync` read
    if typed:
        _write_private(password_path, (answers.password or "") + "\n")
    _write_private(target, text)
    out.write(f"Wrote {target}" + (f" and {password_path} (mode 0600)" if typed else " (mode 0600)") + "\n")
    return target


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _table_lines(lines: list[str], table: str) -> tuple[int, int] | None:
    """Where `[table]` starts (its header line) and ends (the next header, or the end), if it has a header."""
    parts = r"\s*\.\s*".join(rf'(?:{re.escape(p)}|"{re.escape(p)}")' for p in table.split("."))
    header = re.compile(rf"^\s*\[\s*{parts}\s*\]\s*(?:#.*)?$")
    start = next((i for i, line in enumerate(lines) if header.match(line.rstrip("\r\n"))), None)
    if start is None:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    return start, end


def set_key(text: str, table: str, key: str, value: str) -> str:
    """`text` with `key = value` in `[table]`: the line that sets the key there replaced, else a line added under
    the table's header, else the table appended. Every other line stays as it was."""
    lines = text.splitlines(keepends=True)
    found = _table_lines(lines, table)
    if found is None:
        return _with_newline(text) + f"\n[{table}]\n{key} = {value}\n"
    start, end = found
    setting = re.compile(rf'^\s*(?:{re.escape(key)}|"{re.escape(key)}")\s*=')
    for i in range(start + 1, end):
        if setting.match(lines[i]):
            ending = lines[i][len(lines[i].rstrip("\r\n")) :] or "\n"
            lines[i] = f"{key} = {value}{ending}"
            return "".join(lines)
    lines[start] = _with_newline(lines[start])
    lines.insert(start + 1, f"{key} = {value}\n")
    return "".join(lines)


def without_table(text: str, table: str) -> str:
    """`text` without the lines of `[table]` (its header to the next one), when it has a header."""
    lines = text.splitlines(keepends=True)
    found = _table_lines(lines, table)
    return text if found is None else "".join(lines[: found[0]] + lines[found[1] :])


def _environment_key(name: str) -> str:
    """The variable of the environment that sets `name` (matched as the config matches: case aside)."""
    return next((key for key in os.environ if key.upper() == name.upper()), name)


def _reach_account(answers: Answers, name: str, role: str) -> Account:
    """Discover what `role` needs of account `name` (for the reminders: the calendar home; for the contacts:
    the address books) with these answers' credentials; raises (AuthError, ServerError) when it cannot."""
    server: dict[str, Any] = {"url": answers.url, "username": answers.username}
    if answers.password is not None:
        server["password"] = answers.password
    elif answers.password_command is not None:
        server["password_command"] = answers.password_command
    data: dict[str, Any] = {"accounts": {name: server}}
    settings = Settings(**data)
    client = wiring.make_client(settings, account=name, retries=0)
    try:
        cards = role == "contacts"
        return discover(client, settings.accounts[name], cards=cards, calendars=not cards, key=f"accounts.{name}")
    finally:
        client.close()


def add_account(args: argparse.Namespace, out: TextIO, asker: Asker, target: Path) -> Path:
    """The second run, for a split setup: reach the server of account `--account`, then append its
    `[accounts.NAME]` table to the existing config and point `--role`'s `account` key at it; nothing else of
    the file changes. Returns the config's path."""
    name, role = str(args.account), str(getattr(args, "role", None) or "reminders")
    if not ACCOUNT_NAME.match(name):
        raise UsageError(f"--account: {name!r} must be letters, digits, - or _")
    try:
        original = target.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"init --account: {target} does not exist; `syncd init` without --account writes it") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{target}: cannot read the config file: {err}") from err
    try:
        data = tomllib.loads(original)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{target}: not valid TOML: {err}") from err
    if name in data.get("accounts", {}) and not args.force:
        raise CantCreate(f"init: [accounts.{name}] is already in {target}; --force replaces it")
    password_path = target.with_name(f"{name}.password")
    answers = gather(args, asker, _environment_key(f"SYNCD_ACCOUNTS__{name}__PASSWORD"), zone_too=False)
    typed = answers.password is not None and answers.password_file is None and answers.password_command is None
    if typed and password_path.exists() and not args.force:
        raise CantCreate(f"init: {password_path} exists; --force replaces it")
    account = _reach_account(answers, name, role)
    if role == "contacts":
        out.write(f"Reached {answers.url}: {counted(len(account.addressbooks), 'address book')}\n")
    else:
        out.write(f"Reached {answers.url}: calendar home {account.calendar_home}\n")

    password_file = password_path.absolute() if typed else answers.password_file
    block = [
        f"[accounts.{name}]",
        f"# {role}.account names it: the {role} are here",
        f"url = {toml_string(answers.url)}",
    ]
    block += credential_lines(answers, password_file)
    table: dict[str, Any] = {"url": answers.url}
    if answers.username:
        table["username"] = answers.username
    if password_file is not None:
        table["password_file"] = str(password_file)
    elif answers.password_command is not None:
        table["password_command"] = answers.password_command
    expected = copy.deepcopy(data)
    expected.setdefault("accounts", {})[name] = table
    settings: dict[str, Any] = {"account": name}
    if role == "contacts":
        settings["addressbooks"] = choose_addressbooks(args, account, asker)
    elif args.task_list:
        settings["task_list"] = str(args.task_list)
    expected.setdefault(role, {}).update(settings)

    text = _with_newline(without_table(original, f"accounts.{name}")) + "\n" + "\n".join(block) + "\n"
    for key, value in settings.items():
        shown = toml_string(value) if isinstance(value, str) else f"[{', '.join(toml_string(v) for v in value)}]"
        text = set_key(text, role, key, shown)
    try:
        same = tomllib.loads(text) == expected
    except tomllib.TOMLDecodeError:
        same = False
    if not same:  # the file is laid out in a way these few line edits cannot follow: the user edits it
        lines = "\n".join(block)
        keys = "\n".join(f"  {role}.{key} = {value!r}" for key, value in settings.items())
        raise ConfigError(
            f"init: cannot add [accounts.{name}] to {target} without rewriting it; nothing was written. "
            f"Add this table yourself:\n{lines}\nand set:\n{keys}"
        )
    try:
        Settings(**expected)  # what is written is what `check` and `sync` read
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"init: the config would not be valid: {key}: {first['msg']}; nothing was written") from err
    if typed:
        _write_private(password_path, (answers.password or "") + "\n")
    _write_private(target, text)
    wrote = f"Added [accounts.{name}] to {target} ({role}.account = {toml_string(name)})"
    out.write(wrote + (f"; its password is in {password_path} (mode 0600)" if typed else "") + "\n")
    return target
