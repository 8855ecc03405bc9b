"""Fixtures for every test folder: one Radicale, one Xandikos and one SabreDAV per test run; `dav` runs a test against
Radicale and Xandikos, `sabredav` is added where a test names it;
`counting_proxy` makes recording proxies (tests/proxy.py) and closes them when the test ends. At the start of a
run, the programs in tests/system_packages.py that are missing are installed or named."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import system_packages
from tests.proxy import CountingProxy, Fault, ProxyFactory
from tests.servers import DavServer, radicale_server, sabredav_server, xandikos_server

_SYSTEM: list[str] = []  # what the session start did about missing system packages, for the header


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Programs the tests run that pip does not bring (tests/system_packages.py): installed with apt-get where the
    run may do so (as root, unless SYNCD_TEST_APT=0), else named once in the header."""
    missing = system_packages.missing()
    if not missing:
        return
    if system_packages.may_install():
        _SYSTEM.append(system_packages.install(missing))
        missing = system_packages.missing()
    if missing:
        _SYSTEM.append(system_packages.advice(missing))


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"system packages: {line}" for line in _SYSTEM]


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    process, server = radicale_server(tmp_path_factory.mktemp("radicale"))
    yield server
    process.stop()


@pytest.fixture(scope="session")
def xandikos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    process, server = xandikos_server(tmp_path_factory.mktemp("xandikos"))
    yield server
    process.stop()


@pytest.fixture(scope="session")
def sabredav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    """SabreDAV 1.8 (Debian's php-sabre-dav) under `php -S`: Digest auth only, no sync-collection."""
    process, server = sabredav_server(tmp_path_factory.mktemp("sabredav"), system_packages.need("php"))
    yield server
    process.stop()


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest) -> DavServer:
    """The test runs once against each real server."""
    server: DavServer = request.getfixturevalue(request.param)
    return server


@pytest.fixture
def counting_proxy() -> Iterator[ProxyFactory]:
    """A factory for started `CountingProxy`s; all are closed when the test ends."""
    made: list[CountingProxy] = []

    def make(upstream: str, fault: Fault | None = None) -> CountingProxy:
        proxy = CountingProxy(upstream, fault=fault).start()
        made.append(proxy)
        return proxy

    yield make
    for proxy in made:
        proxy.close()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A private scratch folder with a short path, whatever TMPDIR is: for programs that put AF_UNIX sockets in
    it (a socket path must stay under ~108 bytes), such as `systemd-analyze --user` and chromium."""
    folder = Path(tempfile.mkdtemp(prefix="syncd-", dir="/tmp"))
    folder.chmod(0o700)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
