"""Credentials end to end, against a real Radicale: the password from `server.password_command`, and where a
redirect, or an absolute href in a server's answer, may take it (the same site only; never from https to http).
Host names that do not resolve here are served through a forward proxy (`tests/sites.py`) that records the
Authorization header each name received."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest

from syncd.app.localserver import LocalRadicale
from tests.proxy import ProxyFactory, homes_at
from tests.servers import DavServer, radicale_server
from tests.sites import Hit, Redirect, Sites, Upstream, self_signed
from tests.system_packages import need

SECRET_MARK = "never-shown"


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    """A Radicale of this module's own: `check` (run here in a subprocess for each test) lists every collection
    of the account, and the session's shared server holds those of the whole suite by now."""
    process, server = radicale_server(tmp_path_factory.mktemp("radicale-credentials"))
    yield server
    process.stop()


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.upper().startswith(("SYNCD_", "CREDENTIALS_DIRECTORY"))}
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        base.pop(name, None)
    base.update({"NO_PROXY": "", "no_proxy": ""})
    return subprocess.run(
        [sys.executable, "-m", "syncd", *args], capture_output=True, text=True, timeout=120, env={**base, **(env or {})}
    )


def without_password(config: Path, password: str) -> Path:
    text = config.read_text(encoding="utf-8")
    line = f'password = "{password}"\n'
    assert line in text
    config.write_text(text.replace(line, ""), encoding="utf-8")
    return config


def password_script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "password.py"
    path.write_text("import sys, time\n" + body, encoding="utf-8")
    return [sys.executable, str(path)]


# password_command ------------------------------------------------------------------------------------


def test_password_command_reaches_the_server(radicale: DavServer, tmp_path: Path) -> None:
    argv = password_script(tmp_path, f"print({radicale.password!r}); print('user: {SECRET_MARK}')")
    cfg = without_password(radicale.config(tmp_path, server={"password_command": argv}), radicale.password)
    result = run_cli("--config", str(cfg), "--verbose", "check")
    assert result.returncode == 0, result.stderr
    assert radicale.password not in result.stdout + result.stderr
    assert SECRET_MARK not in result.stdout + result.stderr


def test_password_command_that_fails_exits_78_naming_the_key(radicale: DavServer, tmp_path: Path) -> None:
    """It printed the password, and echoed it on stderr, and then failed: neither appears anywhere."""
    body = f"print({radicale.password!r}); sys.stderr.write({radicale.password!r} + '\\n'); sys.exit(1)"
    argv = password_script(tmp_path, body)
    cfg = without_password(radicale.config(tmp_path, server={"password_command": argv}), radicale.password)
    for verbose in ([], ["--verbose"]):
        result = run_cli("--config", str(cfg), *verbose, "check")
        assert result.returncode == 78, result.stderr
        assert "server.password_command" in result.stderr and "exited 1" in result.stderr
        assert radicale.password not in result.stdout + result.stderr


def test_password_command_that_hangs_is_stopped_at_its_timeout(radicale: DavServer, tmp_path: Path) -> None:
    argv = password_script(tmp_path, f"print({radicale.password!r}, flush=True); time.sleep(60)")
    cfg = without_password(
        radicale.config(tmp_path, server={"password_command": argv, "password_timeout": 1}), radicale.password
    )
    started = time.monotonic()
    result = run_cli("--config", str(cfg), "--verbose", "check")
    assert time.monotonic() - started < 20
    assert result.returncode == 78, result.stderr
    assert "server.password_command" in result.stderr and "did not finish within 1 s" in result.stderr
    assert radicale.password not in result.stdout + result.stderr


# Redirects ---------------------------------------------------------------------------------------------


@pytest.fixture
def sites() -> Iterator[list[Sites]]:
    made: list[Sites] = []
    yield made
    for each in made:
        each.close()


def authorized(hits: list[Hit]) -> list[Hit]:
    return [hit for hit in hits if hit.authorization is not None]


def test_same_site_redirect_carries_the_credentials(radicale: DavServer, tmp_path: Path, sites: list[Sites]) -> None:
    """iCloud's case: `contacts.…` sends every request on to a partition host `p42-contacts.…` of the same
    site, which needs the password as well."""
    proxy = Sites(
        {
            "contacts.example.test": Redirect("http://p42-contacts.example.test", 301),
            "p42-contacts.example.test": Upstream(radicale.url),
        }
    ).start()
    sites.append(proxy)
    cfg = radicale.config(tmp_path, server={"url": "http://contacts.example.test/"})
    result = run_cli("--config", str(cfg), "check", env={"HTTP_PROXY": proxy.url})
    assert result.returncode == 0, result.stderr
    assert proxy.hits_at("contacts.example.test")  # every request went there first
    partition = proxy.hits_at("p42-contacts.example.test")
    assert partition and authorized(partition) == partition


def test_cross_site_redirect_never_carries_the_credentials(
    radicale: DavServer, tmp_path: Path, sites: list[Sites]
) -> None:
    """A redirect to another site is followed without the credentials: the other site (here a Radicale that
    would accept them) never receives an Authorization header, and the 401 names the redirect."""
    proxy = Sites(
        {
            "contacts.example.test": Redirect("http://elsewhere.example.org", 307),
            "elsewhere.example.org": Upstream(radicale.url),
        }
    ).start()
    sites.append(proxy)
    cfg = radicale.config(tmp_path, server={"url": "http://contacts.example.test/"})
    result = run_cli("--config", str(cfg), "--verbose", "check", env={"HTTP_PROXY": proxy.url})
    assert result.returncode == 77, result.stderr
    assert proxy.hits_at("elsewhere.example.org")
    assert authorized(proxy.hits_at("elsewhere.example.org")) == []
    assert authorized(proxy.hits_at("contacts.example.test"))  # the server it was given had them
    last = result.stderr.strip().splitlines()[-1]
    assert "http://contacts.example.test redirected to http://elsewhere.example.org, another site" in last
    assert radicale.password not in result.stdout + result.stderr


def test_redirect_userinfo_is_neither_used_nor_logged(radicale: DavServer, tmp_path: Path, sites: list[Sites]) -> None:
    """A Location with `user:password@` in it: the hop goes to the host without it (the configured
    credentials follow, within the site), and no log line shows it, even with --verbose."""
    proxy = Sites(
        {
            "contacts.example.test": Redirect(f"http://mallory:{SECRET_MARK}@p42-contacts.example.test", 302),
            "p42-contacts.example.test": Upstream(radicale.url),
        }
    ).start()
    sites.append(proxy)
    cfg = radicale.config(tmp_path, server={"url": "http://contacts.example.test/"})
    result = run_cli("--config", str(cfg), "--verbose", "check", env={"HTTP_PROXY": proxy.url})
    assert result.returncode == 0, result.stderr
    assert SECRET_MARK not in result.stdout + result.stderr
    assert "mallory" not in result.stdout + result.stderr
    partition = proxy.hits_at("p42-contacts.example.test")
    assert partition and authorized(partition) == partition
    sent = {base64.b64decode(hit.authorization.split()[1]).decode() for hit in partition if hit.authorization}
    assert sent == {f"{radicale.username}:{radicale.password}"}


def test_https_to_http_redirect_is_refused(radicale: DavServer, tmp_path: Path, sites: list[Sites]) -> None:
    """The https server answers with a redirect to plain http on the same host name: syncd does not follow
    it, so nothing (no credentials, no request) travels in clear."""
    need("openssl")
    plain = Sites({"localhost": Upstream(radicale.url)}).start()
    sites.append(plain)
    tls = Sites({"localhost": Redirect(f"http://localhost:{plain.port}", 301)}, tls=self_signed(tmp_path)).start()
    sites.append(tls)
    cert = tmp_path / "cert.pem"
    cfg = radicale.config(tmp_path, server={"url": f"https://localhost:{tls.port}/", "verify_tls": str(cert)})
    result = run_cli("--config", str(cfg), "check")
    assert tls.hits_at("localhost"), result.stderr  # it was asked, with the credentials, over TLS
    assert plain.hits == []
    assert result.returncode == 69, result.stderr
    assert f"https://localhost:{tls.port} redirected to http://localhost:{plain.port}" in result.stderr
    assert "from https to http is never followed" in result.stderr


# Absolute hrefs in a server's answer ------------------------------------------------------------------


@pytest.fixture(scope="module")
def elsewhere(radicale: DavServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRadicale]:
    """A second real Radicale that would accept the account's user and password, were they sent to it."""
    server = LocalRadicale(
        tmp_path_factory.mktemp("elsewhere"), username=radicale.username, password=radicale.password or ""
    ).start()
    yield server
    server.stop()


def test_home_set_on_another_site_never_gets_the_credentials(
    radicale: DavServer,
    elsewhere: LocalRadicale,
    counting_proxy: ProxyFactory,
    tmp_path: Path,
    sites: list[Sites],
) -> None:
    """The principal names its home sets on another site (a hostile or misconfigured server): syncd asks
    there without the credentials, and the 401 it meets says why, naming both hosts."""
    hostile = counting_proxy(radicale.url, homes_at("http://elsewhere.example.org"))
    proxy = Sites(
        {"contacts.example.test": Upstream(hostile.url), "elsewhere.example.org": Upstream(elsewhere.url)}
    ).start()
    sites.append(proxy)
    cfg = radicale.config(tmp_path, server={"url": "http://contacts.example.test/"})
    result = run_cli("--config", str(cfg), "--verbose", "check", env={"HTTP_PROXY": proxy.url})
    assert result.returncode == 77, result.stderr
    assert proxy.hits_at("elsewhere.example.org"), "the home set was asked for"
    assert authorized(proxy.hits_at("elsewhere.example.org")) == []
    assert authorized(proxy.hits_at("contacts.example.test"))  # the server it was given had them
    last = result.stderr.strip().splitlines()[-1]
    assert (
        "http://elsewhere.example.org asks for credentials (HTTP 401), but it is another site than the configured "
        "server http://contacts.example.test: syncd sends them only within the site of the server it was given"
    ) in last
    assert radicale.password not in result.stdout + result.stderr


def test_home_set_on_a_partition_host_of_the_site_keeps_the_credentials(
    radicale: DavServer, counting_proxy: ProxyFactory, tmp_path: Path, sites: list[Sites]
) -> None:
    """iCloud's case: the principal at `contacts.…` names its home sets on `p42-contacts.…`, the same site."""
    partitioned = counting_proxy(radicale.url, homes_at("http://p42-contacts.example.test"))
    proxy = Sites(
        {"contacts.example.test": Upstream(partitioned.url), "p42-contacts.example.test": Upstream(radicale.url)}
    ).start()
    sites.append(proxy)
    cfg = radicale.config(tmp_path, server={"url": "http://contacts.example.test/"})
    result = run_cli("--config", str(cfg), "check", env={"HTTP_PROXY": proxy.url})
    assert result.returncode == 0, result.stderr
    partition = proxy.hits_at("p42-contacts.example.test")
    assert partition and authorized(partition) == partition
    sent = {base64.b64decode(hit.authorization.split()[1]).decode() for hit in partition if hit.authorization}
    assert sent == {f"{radicale.username}:{radicale.password}"}


def test_https_account_never_follows_an_href_to_http(
    radicale: DavServer, counting_proxy: ProxyFactory, tmp_path: Path, sites: list[Sites]
) -> None:
    """The https server names its home sets on plain http (the same host name): nothing is sent there."""
    need("openssl")
    plain = Sites({"localhost": Upstream(radicale.url)}).start()
    sites.append(plain)
    downgrading = counting_proxy(radicale.url, homes_at(f"http://localhost:{plain.port}"))
    tls = Sites({"localhost": Upstream(downgrading.url)}, tls=self_signed(tmp_path)).start()
    sites.append(tls)
    cfg = radicale.config(
        tmp_path, server={"url": f"https://localhost:{tls.port}/", "verify_tls": str(tmp_path / "cert.pem")}
    )
    result = run_cli("--config", str(cfg), "check")
    assert tls.hits_at("localhost"), result.stderr
    assert plain.hits == []
    assert result.returncode == 69, result.stderr
    assert f"https://localhost:{tls.port} named http://localhost:{plain.port} in its answer" in result.stderr
    assert "never takes an https account to plain http" in result.stderr


def test_verify_tls_path_wins_over_a_ca_bundle_in_the_environment(
    radicale: DavServer, tmp_path: Path, sites: list[Sites]
) -> None:
    """`server.verify_tls` naming a certificate is what the client trusts, even where REQUESTS_CA_BUNDLE (as
    many distributions and containers set it) names the system's bundle, which requests would otherwise prefer."""
    need("openssl")
    tls = Sites({"localhost": Upstream(radicale.url)}, tls=self_signed(tmp_path)).start()
    sites.append(tls)
    cfg = radicale.config(
        tmp_path, server={"url": f"https://localhost:{tls.port}/", "verify_tls": str(tmp_path / "cert.pem")}
    )
    bundle = certifi.where()  # a bundle that does not hold the test's certificate
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        result = run_cli("--config", str(cfg), "check", env={name: bundle})
        assert result.returncode == 0, (name, result.stderr)
