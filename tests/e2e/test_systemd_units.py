"""The units in systemd/: `systemd-analyze verify` is clean and the system unit's exposure is at most 1.5.

`verify` insists that every Exec*= binary exists. The units are checked exactly as shipped: they are copied
into a scratch root (with the distribution's own units) where the binaries they name exist as stubs, and
`systemd-analyze --root=` resolves them there. The user unit is verified with HOME pointing at a scratch home.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.system_packages import need

ROOT = Path(__file__).resolve().parent.parent.parent
UNITS = ROOT / "systemd"
MAX_EXPOSURE = 1.5


@pytest.fixture(autouse=True)
def _systemd_analyze() -> None:
    """Skipped where systemd-analyze is missing on a developer's machine; failing in CI (tests/system_packages.py)."""
    need("systemd-analyze")


def _system_unit_dir() -> Path | None:
    for candidate in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
        if (candidate / "sysinit.target").exists():
            return candidate
    return None


def analyze(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [need("systemd-analyze"), *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def exec_paths(unit: Path, home: Path | None = None) -> list[str]:
    """The binaries named by Exec*= lines (after systemd's `-@:+!` prefixes)."""
    paths = []
    for line in unit.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^Exec\w+=[-@:+!]*(\S+)", line)
        if match:
            paths.append(match.group(1).replace("%h", str(home) if home else "%h"))
    return paths


def stub(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def system_root(tmp_path: Path) -> Path:
    """A scratch root: the distribution's units, syncd's units, stubs for the binaries they run."""
    units = _system_unit_dir()
    if units is None:
        pytest.skip("no systemd unit directory with sysinit.target on this machine")
    root = tmp_path / "root"
    shutil.copytree(units, root / "usr/lib/systemd/system", symlinks=True)
    target = root / "etc/systemd/system"
    target.mkdir(parents=True)
    for name in ("syncd.service", "syncd@.service"):
        shutil.copy(UNITS / name, target / name)
        for binary in exec_paths(UNITS / name):
            stub(root / binary.lstrip("/"))
    return root


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    )


def test_system_unit_verifies_cleanly(system_root: Path) -> None:
    unit = system_root / "etc/systemd/system/syncd.service"
    assert_clean(analyze("verify", "--man=no", "--generators=no", f"--root={system_root}", str(unit)))


def test_template_instance_verifies_cleanly(system_root: Path) -> None:
    instance = system_root / "etc/systemd/system/syncd@alice.service"
    assert_clean(analyze("verify", "--man=no", "--generators=no", f"--root={system_root}", str(instance)))


def test_verify_would_notice_a_broken_unit(system_root: Path) -> None:
    """The check above can fail: a misspelt directive or a missing binary is reported."""
    unit = system_root / "etc/systemd/system/syncd.service"
    unit.write_text(unit.read_text().replace("NoNewPrivileges=yes", "NoNewPrivileges=yes\nNoNewPrivilege=yes"))
    result = analyze("verify", "--man=no", "--generators=no", f"--root={system_root}", str(unit))
    assert "NoNewPrivilege" in result.stderr
    (system_root / "opt/syncd/bin/syncd").unlink()
    result = analyze("verify", "--man=no", "--generators=no", f"--root={system_root}", str(unit))
    assert result.returncode != 0 and "/opt/syncd/bin/syncd" in result.stderr


def exposure(output: str) -> float:
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", output)
    assert match, output
    return float(match.group(1))


@pytest.mark.parametrize("unit", ["syncd.service", "syncd@.service"])
def test_exposure_is_at_most_1_5(unit: str) -> None:
    result = analyze("security", "--offline=true", f"--threshold={int(MAX_EXPOSURE * 10)}", str(UNITS / unit))
    score = exposure(result.stdout)
    assert score <= MAX_EXPOSURE, result.stdout
    assert result.returncode == 0, result.stdout + result.stderr


def test_user_unit_verifies_cleanly(tmp_path: Path, short_tmp: Path) -> None:
    """`systemd-analyze --user` loads the machine's own user units too, whose sockets live in XDG_RUNTIME_DIR
    (`%t/...`): it is a short folder, so that under a long TMPDIR they stay under the AF_UNIX path limit."""
    home = tmp_path / "home"
    runtime = short_tmp
    unit = UNITS / "user" / "syncd.service"
    for binary in exec_paths(unit, home):
        path = Path(binary)
        if not path.is_relative_to(home):
            if not path.exists():
                pytest.skip(f"{binary} (named by the user unit) does not exist on this machine")
            continue
        stub(path)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    env.pop("XDG_CONFIG_HOME", None)
    assert_clean(analyze("--user", "verify", "--man=no", "--generators=no", str(unit), env=env))


def test_units_share_the_run_policy_and_the_template_the_sandbox() -> None:
    """What matters for months of unattended running is the same in all three units."""

    def directives(name: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                found.setdefault(key, []).append(value)
        return found

    system, template, user = (directives(n) for n in ("syncd.service", "syncd@.service", "user/syncd.service"))
    for key in ("Type", "WatchdogSec", "Restart", "RestartPreventExitStatus", "ExecReload", "NotifyAccess"):
        assert system[key] == template[key] == user[key], key
    assert system["Type"] == ["notify"] and system["RestartPreventExitStatus"] == ["78"]
    sandbox = {k: v for k, v in system.items() if k.startswith(("Protect", "Private", "Restrict", "SystemCall"))}
    assert len(sandbox) > 15
    for key, value in sandbox.items():
        assert template[key] == value, key
    assert template["ExecStart"] == ["/opt/syncd/bin/syncd --config /etc/syncd/%i.toml run"]
    assert template["StateDirectory"] == ["syncd/%i"]
    assert template["LoadCredential"] == ["password:/etc/syncd/%i.password"]
    assert system["LoadCredential"] == ["password:/etc/syncd/password"]
