"""The programs some tests run that do not come from pip, and the Debian packages that bring them: one line each.

At the start of a test run (`pytest_sessionstart` in tests/conftest.py) a missing program is installed with
`apt-get install --no-install-recommends` when the run may do so: as root, with apt-get (CI runs as root), unless
`SYNCD_TEST_APT=0`. Otherwise the run prints once which packages to install. A test that needs a program calls
`need(program)`: where it is still missing the test fails where the run could install it (root, or `CI` set), and is
skipped on a developer's machine otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

# program -> the Debian packages to install when it is missing
PACKAGES: dict[str, tuple[str, ...]] = {
    "chromium": ("chromium", "fonts-dejavu-core"),  # the report page rendered in a real browser
    "systemd-analyze": ("systemd",),  # the units in systemd/ verified
    "openssl": ("openssl",),  # a self-signed certificate for a test https server
    "php": ("php-cli", "php-sabre-dav", "php-sqlite3", "php-xml", "php-mbstring"),  # SabreDAV (tests/sabredav/)
    "dovecot": ("dovecot-imapd", "dovecot-core"),  # a real IMAP server for [mail]
}

# other names a program goes by on other distributions
ALIASES: dict[str, tuple[str, ...]] = {
    "chromium": ("chromium", "chromium-browser"),
    "dovecot": ("dovecot", "/usr/sbin/dovecot"),
}

# files the packages bring besides the program, which must be there too (php alone may be installed)
FILES: dict[str, tuple[str, ...]] = {"php": ("/usr/share/php/Sabre/autoload.php",)}

APT_TIMEOUT = 1200.0  # seconds for update and install together
LOG = Path(tempfile.gettempdir()) / "syncd-test-apt-get.log"


def which(program: str) -> str | None:
    if not all(Path(file).exists() for file in FILES.get(program, ())):
        return None
    for name in ALIASES.get(program, (program,)):
        found = shutil.which(name)
        if found:
            return found
    return None


def missing() -> list[str]:
    return [program for program in PACKAGES if which(program) is None]


def packages(programs: list[str]) -> list[str]:
    return sorted({p for program in programs for p in PACKAGES[program]})


def as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def may_install() -> bool:
    return as_root() and os.environ.get("SYNCD_TEST_APT") != "0" and shutil.which("apt-get") is not None


def must_have() -> bool:
    """Whether a missing program fails its tests: in CI, or where this run could have installed it."""
    return bool(os.environ.get("CI")) or may_install()


def install(programs: list[str]) -> str:
    """apt-get install the packages of `programs` (apt-get update first when the package lists lack them);
    output goes to LOG. Returns one line saying what happened."""
    wanted = packages(programs)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    deadline = time.monotonic() + APT_TIMEOUT
    with LOG.open("a", encoding="utf-8") as log:

        def apt(*args: str) -> bool:
            log.write(f"$ apt-get {' '.join(args)}\n")
            log.flush()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                done = subprocess.run(
                    ["apt-get", *args],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    timeout=left,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                log.write("(timed out)\n")
                return False
            return done.returncode == 0

        command = ("install", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=120", *wanted)
        ok = apt(*command) or (apt("update", "-q") and apt(*command))
    still = [p for p in programs if which(p) is None]
    if ok and not still:
        return f"installed {' '.join(wanted)} for {', '.join(programs)} (apt-get log: {LOG})"
    return f"could not install {' '.join(wanted)}; still missing: {', '.join(still)} (apt-get log: {LOG})"


def advice(programs: list[str]) -> str:
    outcome = "fail" if must_have() else "are skipped"
    return (
        f"not installed: {', '.join(programs)}; the tests that need them {outcome}. "
        f"Debian/Ubuntu: sudo apt-get install --no-install-recommends {' '.join(packages(programs))}"
    )


def need(program: str) -> str:
    """The path of `program`; where it is missing: fail in CI, skip elsewhere (saying what to install)."""
    assert program in PACKAGES, f"{program} is not listed in tests/system_packages.py"
    found = which(program)
    if found is not None:
        return found
    message = f"{program} is not installed (Debian: apt-get install {' '.join(PACKAGES[program])})"
    if must_have():
        pytest.fail(message + "; a run as root or in CI runs every test", pytrace=False)
    pytest.skip(message)
