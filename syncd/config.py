"""The configuration's schema: one pydantic model for the TOML file and the environment (every key can be
overridden as `SYNCD_<SECTION>__<KEY>`). Where it is read from, and how a problem names the key and the file:
`syncd.app.config_file`.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from syncd.core.circles import CircleRules, Rule, circle_rules
from syncd.core.durations import Duration, parse_duration, parse_interval
from syncd.errors import ConfigError

ENV_PREFIX = "SYNCD_"
# Environment variables that are not config keys.
NOT_KEYS = {"SYNCD_CONFIG"}
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


def _duration(value: object, parse: Callable[[str], Duration] = parse_duration) -> str:
    """A duration as the command line reads it (`2w`, `10d`, `3m`, `1y`, or ISO 8601), kept in its ISO form."""
    if not isinstance(value, str):
        raise ValueError('must be a duration string such as "2w", "P14D" or "PT15M"')
    return parse(value).text  # raises ValueError with a readable message


def _verify_tls(value: object) -> object:
    # The environment gives strings: SYNCD_SERVER__VERIFY_TLS=false must mean False, not a CA path.
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    if not isinstance(value, bool | str) or value == "":
        raise ValueError("must be true, false, or the path of a CA bundle file")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class _Login(_Section):
    """What a server table needs to log in: `[server]`, `[accounts.NAME]` and `[mail]` alike."""

    username: str = ""
    password: SecretStr | None = None
    password_file: Path | None = None
    password_command: list[str] | None = None  # argv, no shell; the first line of its stdout is the password
    password_timeout: float = Field(default=30.0, gt=0, le=600)  # seconds password_command may take
    verify_tls: bool | str = True

    @field_validator("verify_tls", mode="before")
    @classmethod
    def _bool_or_path(cls, value: object) -> object:
        return _verify_tls(value)

    @field_validator("password_command", mode="before")
    @classmethod
    def _argv(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, list) or not value or not all(isinstance(arg, str) for arg in value) or not value[0]:
            raise ValueError(
                'must be a list of strings, the program first, e.g. ["pass", "show", "dav/alice"] (no shell)'
            )
        return value

    def _password(self, key: str, credential: str) -> str | None:
        """The password of this table (`key`: its dotted name, in errors too) from the first of `password`,
        `password_file`, `password_command` (run once per process: `run_password_command`), or systemd's
        credential file `credential` in $CREDENTIALS_DIRECTORY (none there: no password is needed)."""
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_command is not None and self.password_file is None:
            return run_password_command(self.password_command, self.password_timeout, f"{key}.password_command")
        path: Path | None = None
        if self.password_file is not None:
            path = self.password_file.expanduser()
        elif os.environ.get("CREDENTIALS_DIRECTORY"):
            path = Path(os.environ["CREDENTIALS_DIRECTORY"]) / credential
            if not path.exists():
                return None
        if path is None:
            return None
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as err:
            raise ConfigError(f"{key}.password_file: cannot read {path}: {err.strerror}") from err


class ServerConfig(_Login):
    url: str = ""
    carddav_url: str = ""
    caldav_url: str = ""
    timeout: float = Field(default=10.0, gt=0, le=120)
    auth: Literal["auto", "basic", "digest"] = "auto"  # "auto": Basic, or Digest when the server asks for it

    @field_validator("url", "carddav_url", "caldav_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    def resolve_password(self, key: str = "server") -> str | None:
        """The password from the first of `password`, `password_file`, `password_command`, or systemd's
        credential: `password` for `[server]`, `NAME.password` for `[accounts.NAME]`. `key` is the table's
        dotted name (`server`, `accounts.NAME`), in errors too. A command runs once per process
        (`run_password_command`)."""
        account = key.removeprefix("accounts.") if key.startswith("accounts.") else ""
        return self._password(key, f"{account}.password" if account else "password")

    @property
    def configured(self) -> bool:
        """Whether it says where the server is: `url`, or both collection homes."""
        return bool(self.url or (self.carddav_url and self.caldav_url))


# A password command's answer, by argv: it runs once per process, however many clients, cycles or reloads.
_COMMAND_PASSWORDS: dict[tuple[str, ...], str] = {}


def run_password_command(argv: list[str], timeout: float, key: str) -> str:
    """The first line of what `argv` prints (run without a shell, stdin closed), stopped after `timeout`
    seconds. Any failure is a `ConfigError` naming `key` and the reason; neither the command's output nor
    its stderr ever appears in a message or a log line (either may hold the secret)."""
    cached = _COMMAND_PASSWORDS.get(tuple(argv))
    if cached is not None:
        return cached
    program = argv[0]
    try:
        result = subprocess.run(  # the user's own argv, no shell
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:  # subprocess.run has killed it; `from None`: its partial output stays out
        raise ConfigError(f"{key}: {program!r} did not finish within {timeout:g} s and was stopped") from None
    except FileNotFoundError as err:
        raise ConfigError(f"{key}: cannot run {program!r}: command not found") from err
    except OSError as err:
        raise ConfigError(f"{key}: cannot run {program!r}: {err.strerror}") from err
    if result.returncode != 0:
        how = f"was killed by signal {-result.returncode}" if result.returncode < 0 else f"exited {result.returncode}"
        raise ConfigError(f"{key}: {program!r} {how}")
    try:
        first = result.stdout.decode("utf-8").split("\n", 1)[0].rstrip("\r")
    except UnicodeDecodeError:
        raise ConfigError(f"{key}: {program!r} printed something that is not UTF-8") from None
    if not first:
        raise ConfigError(f"{key}: {program!r} printed no password (its first line is empty)")
    _COMMAND_PASSWORDS[tuple(argv)] = first
    return first


class ContactsConfig(_Section):
    account: str = ""  # where the address books are: "" = [server], else a key of [accounts]
    addressbooks: list[str] = Field(default_factory=list)
    default_circle: str = ""


class RemindersConfig(_Section):
    account: str = ""  # where the task list and the events calendar are: "" = [server], else an [accounts] key
    task_list: str = "Keep in touch"
    calendar: str = ""
    daily_limit: int = Field(default=5, ge=1, le=200)
    due_time: str = ""

    @field_validator("task_list")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a task list")
        return value

    @field_validator("due_time")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        if value and not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value):
            raise ValueError('must be "" (all-day) or a time such as "09:00"')
        return value

    @property
    def due_clock(self) -> time | None:
        if not self.due_time:
            return None
        hours, minutes = self.due_time.split(":")
        return time(int(hours), int(minutes))


class CircleConfig(_Section):
    interval: str
    name: str = ""
    birthdays: bool = True  # a birthday in the coming part of a contact's window moves its reminder to that day

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: object) -> str:
        return _duration(value, parse_interval)

    @property
    def duration(self) -> Duration:
        return Duration(self.interval)


class ScheduleConfig(_Section):
    timezone: str = "UTC"
    sync_every: str = "PT15M"

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from err
        return value

    @field_validator("sync_every", mode="before")
    @classmethod
    def _every(cls, value: object) -> str:
        every = _duration(value)
        if Duration(every).seconds < 1:
            raise ValueError("must be at least PT1S")
        if Duration(every).approx_days > 7:  # "15m" is 15 months: minutes are PT15M
            raise ValueError(f"{every} is more than a week (m means months; minutes are PT15M, hours PT1H)")
        return every

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class RuleConfig(_Section):
    category: str = ""
    group: str = ""
    circle: str

    @model_validator(mode="after")
    def _one_condition(self) -> RuleConfig:
        if bool(self.category) == bool(self.group):
            raise ValueError("a rule needs exactly one of `category` or `group`")
        return self


class InteractionsConfig(_Section):
    account: str = ""  # where these calendars are: "" = [server], else a key of [accounts]
    calendars: list[str] = Field(default_factory=list)
    match_names: bool = False  # an event whose SUMMARY names a contact (full name, whole words) counts too


class MailConfig(_Login):
    """`[mail]`: messages in IMAP folders count as contact (syncd.imap reads them; "" = off)."""

    url: str = ""
    folders: list[str] = Field(default_factory=lambda: ["Sent"])
    count_received: bool = False
    timeout: float = Field(default=30.0, gt=0, le=300)

    @field_validator("url")
    @classmethod
    def _imap_url(cls, value: str) -> str:
        if value and not re.match(r"^imaps?://[^/\s]+/?$", value):
            raise ValueError('must be "" (off), "imaps://host[:port]" or "imap://host[:port]" (STARTTLS)')
        return value

    def resolve_password(self) -> str | None:
        """The password from the first of `password`, `password_file`, `password_command` (as for [server]), or
        systemd's credential `mail_password`."""
        return self._password("mail", "mail_password")


def _clock(value: str) -> str:
    if value and not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value):
        raise ValueError('must be "" (none) or a time such as "18:00"')
    return value


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class EventsConfig(_Section):
    """What syncd writes into `reminders.calendar` (see syncd/events.py)."""

    digest_time: str = "07:30"
    weekly_day: str = "sunday"
    weekly_time: str = "18:00"
    monthly_time: str = "18:00"

    @field_validator("digest_time", "weekly_time", "monthly_time")
    @classmethod
    def _times(cls, value: str) -> str:
        return _clock(value)

    @field_validator("weekly_day")
    @classmethod
    def _weekday(cls, value: str) -> str:
        if value.strip().lower() not in _WEEKDAYS:
            raise ValueError(f"must be a day of the week: {', '.join(_WEEKDAYS)}")
        return value.strip().lower()

    @property
    def weekday(self) -> int:
        return _WEEKDAYS.index(self.weekly_day)

    @staticmethod
    def at(value: str) -> time | None:
        if not value:
            return None
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))


class GoalsConfig(_Section):
    categories: dict[str, int] = Field(default_factory=dict)
    touches_per_year: int = Field(default=1000, ge=1)


def account_keys(settings: Settings) -> list[tuple[str, str]]:
    """The keys that name an account, with their values."""
    return [
        ("contacts.account", settings.contacts.account),
        ("reminders.account", settings.reminders.account),
        ("interactions.account", settings.interactions.account),
    ]


def _default_circles() -> dict[str, CircleConfig]:
    return {
        "1": CircleConfig(interval="P14D"),
        "2": CircleConfig(interval="P30D"),
        "3": CircleConfig(interval="P90D"),
    }


def default_state_dir() -> Path:
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "syncd"


class EnvValueError(ValueError):
    """A variable for a list or table key whose value is not the JSON such a key needs."""

    def __init__(self, field: str, annotation: object, value: str) -> None:
        super().__init__(f"{field}: {value!r} is not JSON")
        self.field = field  # the last part of the key: `addressbooks` for SYNCD_CONTACTS__ADDRESSBOOKS
        self.value = value
        if annotation == list[str] | None:  # server.password_command
            self.expected = 'a JSON list such as \'["pass", "show", "dav/alice"]\''
        elif annotation == list[str]:
            self.expected = 'a JSON list such as \'["Contacts", "Work"]\', or one plain name'
        elif annotation == list[RuleConfig]:
            self.expected = 'a JSON list of tables such as \'[{"category": "Family", "circle": "1"}]\''
        else:
            self.expected = "a JSON object, or one variable per key: {variable}__KEY"


class _Environment(EnvSettingsSource):
    """The environment as pydantic-settings reads it, but a list of names (`contacts.addressbooks`,
    `interactions.calendars`) may be one plain name (`SYNCD_CONTACTS__ADDRESSBOOKS=Contacts`), and a value
    that is not the JSON its key needs raises `EnvValueError` (which says what the key needs)."""

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)  # type: ignore[arg-type]
        except ValueError as err:
            annotation = field.annotation if field is not None else None
            if annotation == list[str] and isinstance(value, str) and not value.lstrip().startswith("["):
                return [value]
            raise EnvValueError(field_name, annotation, str(value)) from err


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
        case_sensitive=False,
    )

    state_dir: Path = Field(default_factory=default_state_dir)
    server: ServerConfig = Field(default_factory=ServerConfig)
    accounts: dict[str, ServerConfig] = Field(default_factory=dict)
    contacts: ContactsConfig = Field(default_factory=ContactsConfig)
    reminders: RemindersConfig = Field(default_factory=RemindersConfig)
    circles: dict[str, CircleConfig] = Field(default_factory=_default_circles)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    rules: list[RuleConfig] = Field(default_factory=list)
    interactions: InteractionsConfig = Field(default_factory=InteractionsConfig)
    mail: MailConfig = Field(default_factory=MailConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    goals: GoalsConfig = Field(default_factory=GoalsConfig)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file; the file's content arrives as init kwargs.
        return (_Environment(settings_cls), init_settings)

    @field_validator("state_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return Path(os.path.expandvars(str(value))).expanduser()

    @field_validator("circles")
    @classmethod
    def _circle_keys(cls, value: dict[str, CircleConfig]) -> dict[str, CircleConfig]:
        if not value:
            raise ValueError("at least one circle is needed")
        for key in value:
            if not re.match(r"^[A-Za-z0-9_-]+$", key) or key.lower() == "none":
                raise ValueError(f"circle key {key!r} must be letters, digits, - or _ (and not 'none')")
        return value

    @field_validator("accounts")
    @classmethod
    def _account_names(cls, value: dict[str, ServerConfig]) -> dict[str, ServerConfig]:
        for key in value:
            if not re.match(r"^[A-Za-z0-9_-]+$", key):
                raise ValueError(f"account name {key!r} must be letters, digits, - or _")
        return value

    @model_validator(mode="after")
    def _references(self) -> Settings:
        for key, name in account_keys(self):
            if name and name not in self.accounts:
                known = ", ".join(['[server] ("")', *(f"[accounts.{n}] ({n!r})" for n in self.accounts)])
                raise ValueError(f"{key}: {name!r} is not an account; known: {known}")
        if self.contacts.default_circle and self.contacts.default_circle not in self.circles:
            raise ValueError(f"contacts.default_circle: {self.contacts.default_circle!r} is not a circle")
        for i, rule in enumerate(self.rules):
            if rule.circle not in self.circles and rule.circle.lower() != "none":
                raise ValueError(f"rules[{i}].circle: {rule.circle!r} is not a circle")
        return self

    # Derived views -------------------------------------------------------------------------------

    def server_for(self, account: str) -> ServerConfig:
        """The server settings of an account: "" is `[server]`, another name `[accounts.NAME]`."""
        return self.accounts[account] if account else self.server

    @property
    def roles(self) -> dict[str, list[str]]:
        """Each account in use, by name ("" = `[server]`), with what it serves, in the order "contacts",
        "reminders", "meetings" (the last only when `interactions.calendars` names any)."""
        found: dict[str, list[str]] = {}
        for role, name in (("contacts", self.contacts.account), ("reminders", self.reminders.account)):
            found.setdefault(name, []).append(role)
        if self.interactions.calendars:
            found.setdefault(self.interactions.account, []).append("meetings")
        return found

    def circle_rank(self, key: str) -> int:
        return list(self.circles).index(key)

    def priority(self, key: str) -> int:
        """Task PRIORITY by circle rank: the first circle 1, the last 9, any between 5."""
        keys = list(self.circles)
        rank = keys.index(key)
        if rank == 0:
            return 1
        return 9 if rank == len(keys) - 1 else 5

    @property
    def circle_rules(self) -> CircleRules:
        """What resolving a contact's circle needs (`core.circles.resolve`): circles, rules, default circle."""
        circles = tuple((key, circle.interval) for key, circle in self.circles.items())
        rules = tuple(Rule(rule.circle, rule.category, rule.group) for rule in self.rules)
        return circle_rules(circles, rules, self.contacts.default_circle)
