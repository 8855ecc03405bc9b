"""Fixtures for every test folder: one Radicale and one Xandikos per test run; `dav` runs a test against both;
`counting_proxy` makes recording proxies (tests/proxy.py) and closes them when the test ends."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.proxy import CountingProxy, Fault, ProxyFactory
from tests.servers import DavServer, radicale_server, xandikos_server


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
