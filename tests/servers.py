"""Real DAV servers for the tests: Radicale (htpasswd auth, Basic), Xandikos (no auth) and SabreDAV (the library
under Nextcloud and Baïkal; Digest auth, no sync-collection), each started once per test run on 127.0.0.1 with a
random port and a temporary store.

Every test makes its own collections (unique names), so tests never see each other's data.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from syncd.app.localserver import LocalRadicale, free_port, stop_process, wait_for_port

# For `@pytest.mark.parametrize("dav", EVERY_SERVER, indirect=True)`: a test that runs against SabreDAV too.
EVERY_SERVER = ["radicale", "xandikos", "sabredav"]

VCARD = "text/vcard; charset=utf-8"
ICAL = "text/calendar; charset=utf-8"


@dataclass
class DavServer:
    """What a test needs to know about one running server."""

    kind: str  # "radicale", "xandikos" or "sabredav"
    url: str  # base URL, as a user would put in server.url
    username: str
    password: str
    addressbook_home: str  # absolute URL
    calendar_home: str  # absolute URL
    digest: bool = False  # the server answers only Digest authentication

    @property
    def auth(self) -> tuple[str, str] | requests.auth.HTTPDigestAuth | None:
        if not self.username:
            return None
        if self.digest:
            return requests.auth.HTTPDigestAuth(self.username, self.password)
        return (self.username, self.password)

    def http(self, method: str, url: str, body: bytes | str | None = None, **headers: str) -> requests.Response:
        data = body.encode() if isinstance(body, str) else body
        return requests.request(method, url, data=data, headers=headers, auth=self.auth, timeout=30)

    def make_addressbook(self, name: str | None = None) -> tuple[str, str]:
        """Create an address book; returns (display name, URL)."""
        name = name or f"Contacts {uuid.uuid4().hex[:8]}"
        url = urljoin(self.addressbook_home, f"ab-{uuid.uuid4().hex[:12]}/")
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop>'
            "<d:resourcetype><d:collection/><card:addressbook/></d:resourcetype>"
            f"<d:displayname>{name}</d:displayname></d:prop></d:set></d:mkcol>"
        )
        r = self.http("MKCOL", url, body, **{"Content-Type": "application/xml"})
        assert r.status_code == 201, (r.status_code, r.text)
        return name, url

    def make_calendar(self, name: str | None = None, components: tuple[str, ...] = ("VTODO",)) -> tuple[str, str]:
        name = name or f"Tasks {uuid.uuid4().hex[:8]}"
        url = urljoin(self.calendar_home, f"cal-{uuid.uuid4().hex[:12]}/")
        comps = "".join(f'<cal:comp name="{c}"/>' for c in components)
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<cal:mkcalendar xmlns:d="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:set><d:prop>'
            f"<d:displayname>{name}</d:displayname>"
            f"<cal:supported-calendar-component-set>{comps}</cal:supported-calendar-component-set>"
            "</d:prop></d:set></cal:mkcalendar>"
        )
        r = self.http("MKCALENDAR", url, body, **{"Content-Type": "application/xml"})
        assert r.status_code == 201, (r.status_code, r.text)
        return name, url

    def put(self, url: str, text: str | bytes, content_type: str = VCARD, **headers: str) -> requests.Response:
        r = self.http("PUT", url, text, **{"Content-Type": content_type, **headers})
        assert r.status_code in (200, 201, 204), (r.status_code, r.text)
        return r

    def get(self, url: str) -> requests.Response:
        r = self.http("GET", url)
        assert r.status_code == 200, (r.status_code, r.text)
        return r

    def list_hrefs(self, collection_url: str) -> list[str]:
        r = self.http(
            "PROPFIND",
            collection_url,
            '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>',
            Depth="1",
            **{"Content-Type": "application/xml"},
        )
        from syncd.core.account import same_resource
        from syncd.dav.multistatus import parse_multistatus

        found = parse_multistatus(r.content, collection_url)
        return [res.href for res in found.resources if not same_resource(res.href, collection_url)]

    def config(self, tmp_path: Path, **sections: dict[str, Any]) -> Path:
        """Write a config.toml for this server into tmp_path; `sections` override or add keys."""
        data: dict[str, dict[str, Any]] = {
            "server": {"url": self.url, "username": self.username, "timeout": 10},
            "schedule": {"timezone": "Europe/Berlin"},
        }
        if self.password:
            data["server"]["password"] = self.password
        top: dict[str, Any] = {"state_dir": str(tmp_path / "state")}
        for section, values in sections.items():
            if isinstance(values, dict):
                data.setdefault(section, {}).update(values)
            else:
                top[section] = values
        path = tmp_path / "config.toml"
        path.write_text(to_toml(top, data), encoding="utf-8")
        path.chmod(0o600)
        return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def to_toml(top: dict[str, Any], sections: dict[str, dict[str, Any]]) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in top.items()]
    for section, values in sections.items():
        nested = {k: v for k, v in values.items() if isinstance(v, dict)}
        lines.append(f"\n[{section}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in values.items() if not isinstance(v, dict))
        for key, sub in nested.items():
            lines.append(f'\n[{section}."{key}"]')
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in sub.items())
    return "\n".join(lines) + "\n"


class RunningXandikos:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RunningXandikos:
        self.root.mkdir(parents=True, exist_ok=True)
        args = [
            sys.executable,
            "-m",
            "xandikos",
            "serve",
            "-d",
            str(self.root / "store"),
            "--state-dir",
            str(self.root / "state"),
            "--defaults",
            "--no-detect-systemd",
            "-l",
            "127.0.0.1",
            "-p",
            str(self.port),
            "--current-user-principal",
            "/user/",
        ]
        log = open(self.root / "xandikos.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        wait_for_port("127.0.0.1", self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def radicale_server(root: Path) -> tuple[LocalRadicale, DavServer]:
    server = LocalRadicale(root, username="alice", password="s3cret-Pa55word").start()
    return server, DavServer(
        kind="radicale",
        url=server.url,
        username="alice",
        password=server.password,
        addressbook_home=server.principal_url,
        calendar_home=server.principal_url,
    )


def xandikos_server(root: Path) -> tuple[RunningXandikos, DavServer]:
    server = RunningXandikos(root).start()
    base = f"http://127.0.0.1:{server.port}/"
    return server, DavServer(
        kind="xandikos",
        url=base,
        username="",
        password="",
        addressbook_home=base + "user/contacts/",
        calendar_home=base + "user/calendars/",
    )


SABRE_DIR = Path(__file__).parent / "sabredav"
SABRE_REALM = "SabreDAV"  # as tests/sabredav/server.php sets it


class RunningSabreDAV:
    """tests/sabredav/server.php (SabreDAV from Debian's php-sabre-dav) served by `php -S`, on a fresh SQLite
    database with one user, who has Digest credentials and a principal."""

    def __init__(self, root: Path, php: str, username: str, password: str) -> None:
        self.root = root
        self.php = php
        self.username = username
        self.password = password
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RunningSabreDAV:
        self.root.mkdir(parents=True, exist_ok=True)
        database = self.root / "sabredav.sqlite"
        digest = hashlib.md5(f"{self.username}:{SABRE_REALM}:{self.password}".encode()).hexdigest()
        principal = f"principals/{self.username}"
        with sqlite3.connect(database) as db:
            db.executescript((SABRE_DIR / "schema.sql").read_text(encoding="utf-8"))
            db.execute("INSERT INTO users (username, digesta1) VALUES (?, ?)", (self.username, digest))
            db.executemany(
                "INSERT INTO principals (uri, email, displayname) VALUES (?, ?, ?)",
                [
                    (principal, f"{self.username}@example.org", self.username.title()),
                    (f"{principal}/calendar-proxy-read", None, None),
                    (f"{principal}/calendar-proxy-write", None, None),
                ],
            )
        db.close()
        args = [self.php, "-S", f"127.0.0.1:{self.port}", str(SABRE_DIR / "server.php")]
        env = {**os.environ, "SYNCD_SABRE_DB": str(database)}
        log = open(self.root / "sabredav.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=self.root
        )
        log.close()
        wait_for_port("127.0.0.1", self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def sabredav_server(root: Path, php: str) -> tuple[RunningSabreDAV, DavServer]:
    server = RunningSabreDAV(root, php, username="alice", password="s3cret-Pa55word").start()
    base = f"http://127.0.0.1:{server.port}/"
    return server, DavServer(
        kind="sabredav",
        url=base,
        username=server.username,
        password=server.password,
        addressbook_home=base + f"addressbooks/{server.username}/",
        calendar_home=base + f"calendars/{server.username}/",
        digest=True,
    )
