"""The config file: the documented example, lookup order, environment overrides, and clear errors."""

from __future__ import annotations

import logging
import re
import tomllib
import traceback
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

from syncd.app.config_file import example_text, find_config, load_config
from syncd.config import Settings
from syncd.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parent.parent.parent / "config.example.toml"
SECRET = "hunter2-Sup3r-s3cret"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No syncd variable, systemd directory or real config of the machine leaks into a test."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("SYNCD_"):
            monkeypatch.delenv(name)
    for name in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY", "XDG_CONFIG_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))


def write(tmp_path: Path, text: str, name: str = "config.toml", mode: int = 0o600) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def config_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    assert info.value.exit_code == 78
    return info.value


# The example file ----------------------------------------------------------------------------------


def test_example_loads_with_the_contract_values() -> None:
    settings = load_config(str(EXAMPLE)).settings
    assert settings.server.url == "https://dav.example.org/"
    assert settings.server.username == "alice"
    assert settings.server.password is None
    assert settings.server.password_file is None  # commented out: the file works as it is copied
    assert settings.server.verify_tls is True
    assert settings.server.auth == "auto"
    assert settings.contacts.addressbooks == [] and settings.contacts.default_circle == ""
    assert settings.reminders.task_list == "Keep in touch"
    assert settings.reminders.calendar == "" and settings.reminders.due_time == ""
    assert settings.reminders.daily_limit == 5
    assert {key: c.interval for key, c in settings.circles.items()} == {"1": "P14D", "2": "P30D", "3": "P90D"}
    assert settings.schedule.timezone == "Europe/Berlin" and settings.schedule.sync_every == "PT15M"
    assert settings.rules == []  # the two example rules are commented out (see below)
    assert settings.interactions.calendars == []
    assert settings.state_dir == Path.home() / ".local" / "state" / "syncd"


def test_example_is_the_one_the_package_ships() -> None:
    """`syncd init --example` prints the same file the repository shows at its root: one file, not a copy."""
    assert EXAMPLE.resolve() == (Path(__file__).resolve().parents[2] / "syncd" / "app" / "config.example.toml")
    assert example_text() == EXAMPLE.read_text(encoding="utf-8")


def commented_blocks() -> list[str]:
    """Each commented-out table of the example (`# [[rules]]` and the `# key = value` lines after it),
    uncommented; the comments between them stay comments."""
    blocks: list[list[str]] = []
    inside = False
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if _COMMENTED_HEADER.match(line):
            blocks.append([])
            inside = True
        elif not line.startswith("#"):
            inside = False
        if inside:
            uncommented = line.removeprefix("#").removeprefix(" ")
            keep = _COMMENTED_HEADER.match(line) or _COMMENTED_KEY.match(line)
            blocks[-1].append(uncommented if keep else line)
    return ["\n".join(block) + "\n" for block in blocks]


def test_example_commented_out_rules_are_valid() -> None:
    """Uncommenting the example's [[rules]] blocks gives the rules their comments describe."""
    blocks = [block for block in commented_blocks() if block.startswith("[[rules]]")]
    assert len(blocks) == 2
    text = EXAMPLE.read_text(encoding="utf-8") + "\n" + "".join(blocks)
    settings = Settings(**tomllib.loads(text))
    assert [(r.category, r.group, r.circle) for r in settings.rules] == [("Family", "", "1"), ("", "Circle 2", "2")]


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def expected_keys(model: type[BaseModel] = Settings, prefix: str = "") -> dict[str, set[str]]:
    """Section pattern -> its keys, from the pydantic models: "" is the top level, "circles.*" the tables
    of a dict of models, "rules" an array of tables."""
    out: dict[str, set[str]] = {prefix: set()}
    for name, field in model.model_fields.items():
        key = field.alias or name
        annotation = field.annotation
        origin, args = get_origin(annotation), get_args(annotation)
        section = f"{prefix}.{key}" if prefix else key
        if sub := _model(annotation):
            out.update(expected_keys(sub, section))
        elif origin is dict and len(args) == 2 and (sub := _model(args[1])):
            out.update(expected_keys(sub, section + ".*"))
        elif origin is list and len(args) == 1 and (sub := _model(args[0])):
            out.update(expected_keys(sub, section))
        else:
            out[prefix].add(key)
    return out


_HEADER = re.compile(r"^\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_COMMENTED_HEADER = re.compile(r"^#\s?\[\[?\s*([^\]]+?)\s*\]\]?\s*$")
_ACTIVE_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*=")
_COMMENTED_KEY = re.compile(r"^#\s?([a-z_][a-z0-9_]*) = (.+)$")


def _pattern(header: str, patterns: set[str]) -> str:
    header = header.replace('"', "")
    if header in patterns:
        return header
    parent = header.rsplit(".", 1)[0] + ".*"
    assert parent in patterns, f"[{header}] in the example is not a section of Settings"
    return parent


def documented_keys() -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """Keys in the example per section pattern (set or commented out as `# key = value`), the commented-out
    examples as (section, key, value), and a check that a comment introduces each key."""
    patterns = set(expected_keys())
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    section, pattern = "", ""
    found: dict[str, set[str]] = {}
    commented: list[tuple[str, str, str]] = []
    for number, line in enumerate(lines):
        if header := _HEADER.match(line) or _COMMENTED_HEADER.match(line):
            section = header.group(1).replace('"', "")
            pattern = _pattern(section, patterns)
            continue
        key: str | None = None
        if active := _ACTIVE_KEY.match(line):
            key = active.group(1)
        elif example := _COMMENTED_KEY.match(line):
            key = example.group(1)
            commented.append((section, key, example.group(2)))
        if key is None:
            continue
        keys = found.setdefault(pattern, set())
        if key not in keys:
            previous = lines[number - 1] if number else ""
            assert previous.startswith("#") or "#" in line, f"{section or 'top level'}.{key}: no comment"
        keys.add(key)
    return found, commented


def test_example_documents_every_key() -> None:
    """A key added to the models without documenting it in config.example.toml fails here."""
    expected = expected_keys()
    found, _ = documented_keys()
    missing = sorted(
        f"{pattern}.{key}" if pattern else key
        for pattern, keys in expected.items()
        for key in keys - found.get(pattern, set())
    )
    assert not missing, f"config.example.toml does not document: {', '.join(missing)}"
    unknown = sorted(f"{p}.{k}" for p, keys in found.items() for k in keys - expected.get(p, set()))
    assert not unknown, f"config.example.toml documents keys that do not exist: {unknown}"


def test_example_commented_out_values_are_valid() -> None:
    """Uncommenting an example line (`# caldav_url = "..."`) must give a valid config too."""
    _, commented = documented_keys()
    assert {key for _, key, _ in commented} >= {"password", "carddav_url", "caldav_url", "verify_tls"}
    base = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    for section, key, value in commented:
        if section.split(".")[0] not in base and section:
            continue  # a commented-out table: test_example_commented_out_rules_are_valid
        data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
        table = data
        for part in filter(None, section.split(".")):
            table = table[part]
        table[key] = tomllib.loads(f"v = {value}")["v"]
        assert data != base
        Settings(**data)


# Lookup order ----------------------------------------------------------------------------------------


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = write(tmp_path, "[reminders]\ndaily_limit = 1\n", "explicit.toml")
    from_env = write(tmp_path, "[reminders]\ndaily_limit = 2\n", "env.toml")
    xdg = tmp_path / "xdg"
    from_xdg = write(xdg, "[reminders]\ndaily_limit = 3\n", "syncd/config.toml")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.setenv("SYNCD_CONFIG", str(from_env))

    assert find_config(str(explicit)) == explicit
    loaded = load_config(str(explicit))
    assert (loaded.path, loaded.settings.reminders.daily_limit) == (explicit, 1)

    assert find_config(None) == from_env
    assert load_config(None).settings.reminders.daily_limit == 2

    monkeypatch.delenv("SYNCD_CONFIG")
    assert find_config(None) == from_xdg
    loaded = load_config(None)
    assert (loaded.path, loaded.settings.reminders.daily_limit) == (from_xdg, 3)
    assert loaded.source == str(from_xdg)


def test_xdg_default_is_home_dot_config(tmp_path: Path) -> None:
    path = write(Path.home(), "[reminders]\ndaily_limit = 4\n", ".config/syncd/config.toml")
    assert find_config(None) == path
    assert find_config(None, environ={"XDG_CONFIG_HOME": str(tmp_path / "nothing")}) != path


def test_no_config_file(tmp_path: Path) -> None:
    if Path("/etc/syncd/config.toml").is_file():
        pytest.skip("this machine has /etc/syncd/config.toml")
    assert find_config(None) is None
    assert load_config(None).path is None  # all defaults (and the environment)
    with pytest.raises(ConfigError, match="no config file"):
        load_config(None, require_file=True)


def test_explicit_or_env_path_that_does_not_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope.toml"
    assert str(missing) in str(config_error(missing))
    monkeypatch.setenv("SYNCD_CONFIG", str(missing))
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        load_config(None)


# Environment overrides --------------------------------------------------------------------------------


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[reminders]\ndaily_limit = 5\ntask_list = "From file"\n[circles.1]\ninterval = "P7D"\n')
    monkeypatch.setenv("SYNCD_REMINDERS__DAILY_LIMIT", "7")
    monkeypatch.setenv("SYNCD_CIRCLES__1__INTERVAL", "p3w")
    monkeypatch.setenv("SYNCD_SCHEDULE__TIMEZONE", "America/New_York")
    monkeypatch.setenv("SYNCD_STATE_DIR", str(tmp_path / "state"))
    settings = load_config(str(path)).settings
    assert settings.reminders.daily_limit == 7
    assert settings.reminders.task_list == "From file"  # the rest of the section stays
    assert settings.circles["1"].interval == "P3W"
    assert settings.schedule.timezone == "America/New_York"
    assert settings.state_dir == tmp_path / "state"


def test_password_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[server]\nurl = "https://dav.example.org/"\nusername = "alice"\n')
    monkeypatch.setenv("SYNCD_SERVER__PASSWORD", SECRET)
    server = load_config(str(path)).settings.server
    assert server.resolve_password() == SECRET
    assert SECRET not in repr(server) and SECRET not in str(server.model_dump())


@pytest.mark.parametrize(
    ("variable", "value", "key"),
    [
        ("SYNCD_REMINDERS__DAILY_LIMIT", "0", "reminders.daily_limit"),
        ("SYNCD_REMINDERS__DAILY_LIMIT", "many", "reminders.daily_limit"),
        ("SYNCD_SCHEDULE__TIMEZONE", "Mars/Base", "schedule.timezone"),
        ("SYNCD_SCHEDULE__SYNC_EVERY", "PT0S", "schedule.sync_every"),
        ("SYNCD_SERVER__TIMEOUT", "-1", "server.timeout"),
        ("SYNCD_SERVER__PASWORD", "x", "server.pasword"),
    ],
)
def test_bad_value_from_the_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, key: str
) -> None:
    path = write(tmp_path, "[reminders]\ndaily_limit = 5\n")
    monkeypatch.setenv(variable, value)
    message = str(config_error(path))
    assert message.startswith(f"{key}: ")
    assert f"${variable}" in message


# Errors in the file -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[server]\npasword = "x"\n', "server.pasword"),
        ("colour = 1\n", "colour"),
        ('[circles.1]\ninterval = "P1D"\nevery = "P2D"\n', "circles.1.every"),
        (
            '[[rules]]\ncategory = "A"\ncircle = "1"\n[[rules]]\ngroup = "B"\ncircle = "2"\ncircel = "2"\n',
            "rules[1].circel",
        ),
        ("[remindres]\ndaily_limit = 3\n", "remindres"),
    ],
)
def test_unknown_key_names_the_key_and_the_file(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    message = str(config_error(path))
    assert message.startswith(f"{key}: ")
    assert "unknown key" in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[reminders]\ndaily_limit = 0\n", "reminders.daily_limit"),
        ('[reminders]\ndaily_limit = "five"\n', "reminders.daily_limit"),
        ('[reminders]\ntask_list = " "\n', "reminders.task_list"),
        ('[schedule]\ntimezone = "Mars/Base"\n', "schedule.timezone"),
        ('[circles.1]\ninterval = "14 minutes"\n', "circles.1.interval"),
        ('[circles.1]\ninterval = "PT1H"\n', "circles.1.interval"),
        ('[circles.1]\ninterval = "P100Y"\n', "circles.1.interval"),
        ('[circles.1]\ninterval = "0d"\n', "circles.1.interval"),
        ('[schedule]\nsync_every = "15m"\n', "schedule.sync_every"),
        ('[schedule]\nsync_every = "15min"\n', "schedule.sync_every"),
        ("[circles.1]\ninterval = 14\n", "circles.1.interval"),
        ('[circles.1]\nname = "no interval"\n', "circles.1.interval"),
        ('[circles."not a key"]\ninterval = "P1D"\n', "circles"),
        ('[reminders]\ndue_time = "9am"\n', "reminders.due_time"),
        ('[reminders]\ndue_time = "24:00"\n', "reminders.due_time"),
        ('[schedule]\nsync_every = "PT0S"\n', "schedule.sync_every"),
        ('[contacts]\ndefault_circle = "4"\n', "contacts.default_circle"),
        ('[contacts]\naddressbooks = "Personal"\n', "contacts.addressbooks"),
        ('[[rules]]\ncategory = "Family"\ngroup = "Circle 2"\ncircle = "1"\n', "rules[0]"),
        ('[[rules]]\ncircle = "1"\n', "rules[0]"),
        ('[[rules]]\ncategory = "Family"\ncircle = "7"\n', "rules[0].circle"),
        ('[[rules]]\ncategory = "Family"\n', "rules[0].circle"),
        ('[server]\nurl = "dav.example.org"\n', "server.url"),
        ("[server]\ntimeout = 0\n", "server.timeout"),
        ('[server]\nverify_tls = ["yes"]\n', "server.verify_tls"),
        ('[server]\nverify_tls = ""\n', "server.verify_tls"),
        ("[server]\nverify_tls = 1\n", "server.verify_tls"),
        ('[server]\nauth = "ntlm"\n', "server.auth"),
        ("[interactions]\ncalendars = [1, 2]\n", "interactions.calendars[0]"),
    ],
)
def test_invalid_value_names_the_key_and_the_file(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    message = str(config_error(path))
    assert message.startswith(f"{key}: "), message
    assert str(path) in message
    assert "\n" not in message


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nurl = "https://dav.example.org/"\nusername = alice\n')
    message = str(config_error(path))
    assert str(path) in message and "TOML" in message and "line 3" in message


def test_unreadable_config_file(tmp_path: Path) -> None:
    directory = tmp_path / "config.toml"
    directory.mkdir()
    assert str(directory) in str(config_error(directory))


# Passwords ---------------------------------------------------------------------------------------------


def test_password_file_is_read_without_its_trailing_newline(tmp_path: Path) -> None:
    secret = write(tmp_path, SECRET + "\n", "password")
    path = write(tmp_path, f'[server]\npassword_file = "{secret}"\n')
    assert load_config(str(path)).settings.server.resolve_password() == SECRET


def test_password_file_with_tilde(tmp_path: Path) -> None:
    write(Path.home(), SECRET + "\r\n", "secrets/dav")
    path = write(tmp_path, '[server]\npassword_file = "~/secrets/dav"\n')
    assert load_config(str(path)).settings.server.resolve_password() == SECRET


def test_missing_password_file_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, f'[server]\npassword_file = "{tmp_path / "absent"}"\n')
    server = load_config(str(path)).settings.server
    with pytest.raises(ConfigError, match=r"server\.password_file") as info:
        server.resolve_password()
    assert str(tmp_path / "absent") in str(info.value)


def test_systemd_credential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    write(credentials, SECRET + "\n", "password")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    path = write(tmp_path, '[server]\nusername = "alice"\n')
    assert load_config(str(path)).settings.server.resolve_password() == SECRET


def test_systemd_credentials_without_a_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Other credentials but no `password` (a server without authentication): no password, no error."""
    credentials = tmp_path / "credentials"
    write(credentials, "something else", "token")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    path = write(tmp_path, "[server]\n")
    assert load_config(str(path)).settings.server.resolve_password() is None


def test_password_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    credentials = tmp_path / "credentials"
    write(credentials, "from-credential", "password")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    secret = write(tmp_path, "from-file\n", "password")
    both = write(tmp_path, f'[server]\npassword = "inline"\npassword_file = "{secret}"\n', "both.toml")
    assert load_config(str(both)).settings.server.resolve_password() == "inline"
    file_only = write(tmp_path, f'[server]\npassword_file = "{secret}"\n', "file.toml")
    assert load_config(str(file_only)).settings.server.resolve_password() == "from-file"
    monkeypatch.setenv("SYNCD_SERVER__PASSWORD", "from-env")
    assert load_config(str(both)).settings.server.resolve_password() == "from-env"


def test_no_password_at_all(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nurl = "http://127.0.0.1:5232/"\n')
    assert load_config(str(path)).settings.server.resolve_password() is None


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_readable_file_with_inline_password_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int) -> None:
    path = write(tmp_path, f'[server]\npassword = "{SECRET}"\n', mode=mode)
    with caplog.at_level(logging.WARNING, logger="syncd.config"):
        load_config(str(path))
    [record] = [r for r in caplog.records if r.name == "syncd.config"]
    assert record.levelno == logging.WARNING
    assert str(path) in record.getMessage() and "chmod 600" in record.getMessage()
    assert SECRET not in record.getMessage()


def test_private_file_or_no_inline_password_does_not_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    private = write(tmp_path, f'[server]\npassword = "{SECRET}"\n', "private.toml", mode=0o600)
    public_without = write(tmp_path, '[server]\npassword_file = "/run/pw"\n', "public.toml", mode=0o644)
    with caplog.at_level(logging.DEBUG, logger="syncd.config"):
        load_config(str(private))
        load_config(str(public_without))
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize(
    "extra",
    [
        "timeout = 0\n",
        'url = "ftp://dav"\n',
        "pasword = 1\n",
        '[contacts]\ndefault_circle = "9"\n',
        '[[rules]]\ncircle = "1"\n',
        "[circles]\n",
        'x = "\n',  # invalid TOML on the line after the password
    ],
)
def test_config_error_never_shows_the_password(tmp_path: Path, extra: str) -> None:
    path = write(tmp_path, f'[server]\npassword = "{SECRET}"\n{extra}')
    error = config_error(path)
    assert SECRET not in str(error)
    # Not even in the traceback that --verbose prints (with the chained pydantic/toml error).
    assert SECRET not in "".join(traceback.format_exception(error))


def test_bad_password_from_environment_is_not_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[server]\ntimeout = 0\n")
    monkeypatch.setenv("SYNCD_SERVER__PASSWORD", SECRET)
    error = config_error(path)
    assert SECRET not in "".join(traceback.format_exception(error))


# State directory ---------------------------------------------------------------------------------------


def test_state_dir_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "")
    assert load_config(str(path)).settings.state_dir == Path.home() / ".local/state/syncd"
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    assert load_config(str(path)).settings.state_dir == tmp_path / "xdg-state/syncd"
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/syncd:/var/lib/other")
    assert load_config(str(path)).settings.state_dir == Path("/var/lib/syncd")
    monkeypatch.setenv("SOMEWHERE", str(tmp_path / "there"))
    explicit = write(tmp_path, 'state_dir = "$SOMEWHERE/state"\n', "explicit.toml")
    assert load_config(str(explicit)).settings.state_dir == tmp_path / "there/state"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("false", False),
        ("False", False),
        ("0", False),
        ("true", True),
        ("/etc/ssl/home-ca.pem", "/etc/ssl/home-ca.pem"),
    ],
)
def test_verify_tls_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, expected: bool | str
) -> None:
    """Environment values are strings: "false" must turn verification off, not name a CA file "false"."""
    path = write(tmp_path, "[server]\nverify_tls = true\n")
    monkeypatch.setenv("SYNCD_SERVER__VERIFY_TLS", value)
    assert load_config(str(path)).settings.server.verify_tls == expected


# Durations: the forms the command line takes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "iso", "days_from_jan_1"),
    [("2w", "P2W", 14), ("10d", "P10D", 10), ("14 days", "P14D", 14), ("3m", "P3M", 90), ("1y", "P1Y", 365)],
)
def test_short_intervals_load_as_on_the_command_line(
    tmp_path: Path, written: str, iso: str, days_from_jan_1: int
) -> None:
    from datetime import date, timedelta

    path = write(tmp_path, f'[circles.1]\ninterval = "{written}"\n[schedule]\nsync_every = "1d"\n')
    settings = load_config(str(path)).settings
    circle = settings.circles["1"]
    assert circle.interval == iso
    start = date(2026, 1, 1)
    assert circle.duration.after(start) == start + timedelta(days=days_from_jan_1)
    assert settings.circle_rules.circles["1"].after(start) == start + timedelta(days=days_from_jan_1)
    assert settings.schedule.sync_every == "P1D"


def test_bad_interval_from_the_environment_names_key_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[circles.1]\ninterval = "2w"\n')
    monkeypatch.setenv("SYNCD_CIRCLES__1__INTERVAL", "PT1H")
    message = str(config_error(path))
    assert message.startswith("circles.1.interval: ") and "between 1 day and 10 years" in message
    assert "$SYNCD_CIRCLES__1__INTERVAL" in message


# Lists and tables from the environment -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "key", "expected"),
    [
        ("SYNCD_CONTACTS__ADDRESSBOOKS", "Contacts", "addressbooks", ["Contacts"]),
        ("SYNCD_CONTACTS__ADDRESSBOOKS", "Work, Home", "addressbooks", ["Work, Home"]),
        ("SYNCD_CONTACTS__ADDRESSBOOKS", '["Contacts", "Work"]', "addressbooks", ["Contacts", "Work"]),
        ("SYNCD_CONTACTS__ADDRESSBOOKS", "[]", "addressbooks", []),
        ("SYNCD_INTERACTIONS__CALENDARS", "Work", "calendars", ["Work"]),
        ("SYNCD_INTERACTIONS__CALENDARS", '["Work"]', "calendars", ["Work"]),
    ],
)
def test_a_list_of_names_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, key: str, expected: list[str]
) -> None:
    """JSON, or one plain name as a list of one."""
    path = write(tmp_path, "[reminders]\ndaily_limit = 5\n")
    monkeypatch.setenv(variable, value)
    settings = load_config(str(path)).settings
    section = settings.contacts if key == "addressbooks" else settings.interactions
    assert getattr(section, key) == expected


@pytest.mark.parametrize(
    ("variable", "value", "key", "hint"),
    [
        ("SYNCD_CONTACTS__ADDRESSBOOKS", '["Contacts"', "contacts.addressbooks", "a JSON list such as"),
        ("SYNCD_CONTACTS__ADDRESSBOOKS", '"Contacts"', "contacts.addressbooks", "a JSON list such as"),
        ("SYNCD_INTERACTIONS__CALENDARS", "[Work]", "interactions.calendars", "a JSON list such as"),
        ("SYNCD_INTERACTIONS__CALENDARS", "[1, 2]", "interactions.calendars[0]", "valid string"),
        ("SYNCD_RULES", "Family", "rules", '[{"category": "Family", "circle": "1"}]'),
        ("SYNCD_RULES", '[{"category": "Family"}]', "rules[0].circle", "required"),
        ("SYNCD_CIRCLES", "P14D", "circles", "$SYNCD_CIRCLES__KEY"),
        ("SYNCD_CIRCLES__1", "P14D", "circles.1", "$SYNCD_CIRCLES__1__KEY"),
        ("SYNCD_GOALS__CATEGORIES", "Investors=10", "goals.categories", "a JSON object"),
        ("SYNCD_SERVER", "https://dav.example.org/", "server", "$SYNCD_SERVER__KEY"),
    ],
)
def test_a_malformed_list_or_table_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, key: str, hint: str
) -> None:
    """A ConfigError (exit 78) naming the key, the variable and the form it needs: never an internal error."""
    path = write(tmp_path, "[reminders]\ndaily_limit = 5\n")
    monkeypatch.setenv(variable, value)
    message = str(config_error(path))
    assert message.startswith(f"{key}: "), message
    assert f"${variable}" in message and hint in message
    assert "\n" not in message


# Accounts ---------------------------------------------------------------------------------------------

SPLIT = """
[server]
url = "https://contacts.icloud.com/"
username = "alice@icloud.com"
[accounts.home]
url = "https://dav.home.example/"
username = "alice"
[contacts]
account = ""
[reminders]
account = "home"
"""


@pytest.mark.parametrize("key", ["contacts.account", "reminders.account", "interactions.account"])
def test_unknown_account_names_the_key_and_the_known_accounts(tmp_path: Path, key: str) -> None:
    section, name = key.split(".")
    text = SPLIT.replace('[contacts]\naccount = ""\n[reminders]\naccount = "home"\n', "")
    path = write(tmp_path, text + f'[{section}]\n{name} = "hone"\n')
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    message = str(err.value)
    assert err.value.exit_code == 78
    assert message.startswith(f"{key}: 'hone' is not an account")
    assert "[server]" in message and "[accounts.home]" in message and str(path) in message


def test_accounts_example_block_is_a_valid_split_setup() -> None:
    """The example's commented [accounts.home] block, uncommented and named by reminders.account, loads."""
    (block,) = [block for block in commented_blocks() if block.startswith("[accounts.home]")]
    text = EXAMPLE.read_text(encoding="utf-8").replace("[reminders]\n", '[reminders]\naccount = "home"\n', 1)
    text = text.replace('\naccount = ""\n\n# Display name of the task list', "\n\n# Display name of the task list")
    settings = Settings(**tomllib.loads(text + "\n" + block))
    assert settings.reminders.account == "home"
    assert settings.roles == {"": ["contacts"], "home": ["reminders"]}
    assert settings.server_for("home").url == "https://dav.home.example/"


def test_each_account_its_own_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An account's password from the environment (SYNCD_ACCOUNTS__HOME__PASSWORD) or its own systemd
    credential `home.password`; [server]'s from `password`; never one for the other."""
    path = write(tmp_path, SPLIT)
    credentials = tmp_path / "credentials"
    write(credentials, "server-secret\n", "password")
    write(credentials, "home-secret\n", "home.password")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = load_config(str(path)).settings
    assert settings.server.resolve_password() == "server-secret"
    assert settings.accounts["home"].resolve_password("accounts.home") == "home-secret"
    monkeypatch.setenv("SYNCD_ACCOUNTS__HOME__PASSWORD", "from-the-environment")
    settings = load_config(str(path)).settings
    assert settings.accounts["home"].resolve_password("accounts.home") == "from-the-environment"
    assert settings.server.resolve_password() == "server-secret"
    (credentials / "home.password").unlink()
    monkeypatch.delenv("SYNCD_ACCOUNTS__HOME__PASSWORD")
    assert load_config(str(path)).settings.accounts["home"].resolve_password("accounts.home") is None


def test_unreadable_account_password_file_names_the_account(tmp_path: Path) -> None:
    path = write(
        tmp_path, SPLIT.replace('username = "alice"\n', f'username = "alice"\npassword_file = "{tmp_path}/nope"\n')
    )
    with pytest.raises(ConfigError, match=r"^accounts\.home\.password_file: cannot read"):
        load_config(str(path)).settings.accounts["home"].resolve_password("accounts.home")


def test_single_account_config_serves_everything_from_server(tmp_path: Path) -> None:
    settings = load_config(str(write(tmp_path, '[server]\nurl = "https://dav.example.org/"\n'))).settings
    assert settings.roles == {"": ["contacts", "reminders"]}
