"""Where the config is read from: `--config PATH`, `$SYNCD_CONFIG`, `$XDG_CONFIG_HOME/syncd/config.toml`,
`/etc/syncd/config.toml`; the environment overrides any key. Any problem becomes a `ConfigError` that names the
key as a dotted path and the file (exit 78)."""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from syncd.config import ENV_PREFIX, NOT_KEYS, EnvValueError, Settings
from syncd.errors import ConfigError

EXAMPLE = "config.example.toml"  # shipped in this package; `syncd init --example` prints it
SYSTEM_CONFIG = Path("/etc/syncd/config.toml")


class LoadedConfig:
    """The validated settings and the file they came from."""

    def __init__(self, settings: Settings, path: Path | None) -> None:
        self.settings = settings
        self.path = path

    @property
    def source(self) -> str:
        return str(self.path) if self.path else "(no config file)"


def user_config(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/syncd/config.toml` (`~/.config/syncd/config.toml`)."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(xdg) / "syncd" / "config.toml"


def find_config(explicit: str | None, environ: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit).expanduser()
    if env.get("SYNCD_CONFIG"):
        return Path(env["SYNCD_CONFIG"]).expanduser()
    for candidate in (user_config(env), SYSTEM_CONFIG):
        if candidate.is_file():
            return candidate
    return None


def example_text() -> str:
    """The documented example config, as shipped in the package."""
    return resources.files("syncd.app").joinpath(EXAMPLE).read_text(encoding="utf-8")


def _home_relative(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def searched(environ: Mapping[str, str] | None = None) -> list[str]:
    """Where the lookup went when it found no file, in its order."""
    return [
        "--config PATH (not given)",
        "$SYNCD_CONFIG (not set)",
        f"{user_config(environ)} (no such file)",
        f"{SYSTEM_CONFIG} (no such file)",
    ]


def start_here(environ: Mapping[str, str] | None = None) -> str:
    """How to get a first config file: the shipped example, where syncd will find it."""
    target = _home_relative(user_config(environ))
    folder = target.rsplit("/", 1)[0]
    return f"mkdir -p {folder} && syncd init --example > {target}"


def no_config_error() -> ConfigError:
    """The error when a command needs a server and no config file was found."""
    return ConfigError(
        f"no config file found (looked in: {'; '.join(searched())}); start from the example: "
        f"`{start_here()}`, then edit its [server] section"
    )


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _env_keys(environ: Mapping[str, str]) -> dict[str, str]:
    """`SYNCD_REMINDERS__DAILY_LIMIT` -> `reminders.daily_limit` for every syncd variable set."""
    out = {}
    for name in environ:
        upper = name.upper()
        if upper.startswith(ENV_PREFIX) and upper not in NOT_KEYS:
            out[upper[len(ENV_PREFIX) :].lower().replace("__", ".")] = name
    return out


def _variable(key: str, env_keys: Mapping[str, str]) -> str | None:
    """The variable that set `key` or the list or table it is in (`contacts.addressbooks[0]`), if any."""
    for dotted, variable in sorted(env_keys.items(), key=lambda item: -len(item[0])):
        if key == dotted or key.startswith((dotted + ".", dotted + "[")):
            return variable
    return None


def _environment_error(err: SettingsError, env_keys: Mapping[str, str]) -> ConfigError:
    cause = err.__cause__
    while cause is not None and not isinstance(cause, EnvValueError):
        cause = cause.__cause__
    if cause is None:
        return ConfigError(f"the environment: {err}")
    field = cause.field.lower()
    for dotted, variable in env_keys.items():
        if (dotted == field or dotted.endswith("." + field)) and os.environ.get(variable) == cause.value:
            expected = cause.expected.replace("{variable}", f"${variable}")
            return ConfigError(f"{dotted}: {cause.value!r} is not {expected} (set by ${variable})")
    expected = cause.expected.replace("{variable}", "SYNCD_SECTION")
    return ConfigError(f"{field}: {cause.value!r} in the environment is not {expected}")


def load_config(explicit: str | None = None, *, require_file: bool = False) -> LoadedConfig:
    path = find_config(explicit)
    data: dict[str, Any] = {}
    where = str(path) if path else "the environment (no config file found)"
    if path is not None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError as err:
            raise ConfigError(f"{path}: no such config file") from err
        except OSError as err:
            raise ConfigError(f"{path}: cannot read the config file: {err.strerror}") from err
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from err
    elif require_file:
        raise no_config_error()
    env_keys = _env_keys(os.environ)
    try:
        settings = Settings(**data)
    except SettingsError as err:  # a variable of a list or table key that is not JSON
        raise _environment_error(err, env_keys) from err
    except ValidationError as err:
        first = err.errors()[0]
        key = _dotted(first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            msg = "unknown key"
        if first["type"] == "missing":
            msg = "required key is missing"
        variable = _variable(key, env_keys)
        origin = f" (set by ${variable})" if variable else ""
        if variable and first["type"] == "list_type":
            msg += " (in the environment: a JSON list such as '[\"Contacts\"]')"
        elif variable and first["type"] in ("dict_type", "model_type"):
            msg += f" (in the environment: a JSON object, or one variable per key: ${variable}__KEY)"
        if not key and ":" in msg:  # model-level check that names its key itself
            key, _, msg = msg.partition(": ")
        raise ConfigError(f"{key}: {msg} in {where}{origin}") from err
    if path is not None:
        _warn_readable_password(path, data)
    return LoadedConfig(settings, path)


def _warn_readable_password(path: Path, data: Mapping[str, Any]) -> None:
    sections = [("server", data.get("server"))]
    accounts = data.get("accounts")
    if isinstance(accounts, Mapping):
        sections += [(f"accounts.{name}", section) for name, section in accounts.items()]
    holding = [key for key, section in sections if isinstance(section, Mapping) and "password" in section]
    if not holding:
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        logging.getLogger("syncd.config").warning(
            "%s holds %s.password and is readable by other users: chmod 600 it, or use "
            "%s.password_file or a systemd credential",
            path,
            holding[0],
            holding[0],
        )
