"""Fixtures: one Radicale and one Xandikos per test run; `dav` runs a test against both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
