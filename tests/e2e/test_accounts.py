"""Split accounts, the iPhone user's setup: contacts in one account (iCloud's CardDAV under [server]),
the task list and the events calendar in another ([accounts.home], the home server the phone has as its
CalDAV account). Two real Radicale servers, each with its own user and password, each behind a recording
proxy: each sees only its own credentials, and the contacts server gets no calendar and no task."""

from __future__ import annotations

import base64
import json
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from syncd.app.cli import main
from syncd.app.localserver import LocalRadicale
from tests.e2e.test_e2e import complete_like_iphone
from tests.factories import contact_card
from tests.proxy import CountingProxy, ProxyFactory, homes_at
from tests.servers import DavServer, to_toml
from tests.world import card_values, find_list, tasks_by_contact

HOME_USER, HOME_PASSWORD = "bob", "h0me-0nly-Pa55word"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    """A second Radicale: the home server, with its own user and password."""
    server = LocalRadicale(tmp_path_factory.mktemp("home"), username=HOME_USER, password=HOME_PASSWORD).start()
    yield DavServer(
        kind="radicale",
        url=server.url,
        username=HOME_USER,
        password=HOME_PASSWORD,
        addressbook_home=server.principal_url,
        calendar_home=server.principal_url,
    )
    server.stop()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def authorizations(proxy: CountingProxy) -> set[str]:
    return {value for r in proxy.snapshot() for name, value in r.headers.items() if name.lower() == "authorization"}


def syncd(config: Path, now: str, *args: str) -> int:
    return main(["--config", str(config), "--now", now, *args])


def split_config(
    contacts: DavServer, home_url: str, tmp_path: Path, addressbook: str, task_list: str, **reminders: object
) -> Path:
    """[server] for the contacts, [accounts.home] for the reminders; home's password only in the
    environment (SYNCD_ACCOUNTS__HOME__PASSWORD, set by the test)."""
    return contacts.config(
        tmp_path,
        contacts={"account": "", "addressbooks": [addressbook]},
        reminders={"account": "home", "task_list": task_list, "daily_limit": 2, **reminders},
        accounts={"home": {"url": home_url, "username": HOME_USER, "timeout": 10}},
    )


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_config(
    tmp_path: Path, contacts: DavServer, contacts_url: str, home_url: str, addressbook: str, **reminders: object
) -> Path:
    """The README's "contacts in iCloud, reminders at home" config, with the test servers' URLs, users and
    password files in place of the README's, and the test's own address book, lists and state folder."""
    text = README.read_text(encoding="utf-8").split("### Contacts in iCloud, reminders at home", 1)[1]
    data = tomllib.loads(text.split("```toml\n", 1)[1].split("```", 1)[0])
    server, home = data["server"], data["accounts"]["home"]
    assert (data["contacts"]["account"], data["reminders"]["account"]) == ("", "home")
    assert server["password_file"].startswith("/etc/syncd/") and home["password_file"].startswith("/etc/syncd/")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "icloud.password").write_text(contacts.password + "\n")
    (secrets / "home.password").write_text(HOME_PASSWORD + "\n")
    server.update(url=contacts_url, username=contacts.username, password_file=str(secrets / "icloud.password"))
    home.update(url=home_url, username=HOME_USER, password_file=str(secrets / "home.password"))
    data["contacts"]["addressbooks"] = [addressbook]
    data["reminders"].update(reminders)
    data["schedule"] = {"timezone": "Europe/Berlin"}
    path = tmp_path / "config.toml"
    path.write_text(to_toml({"state_dir": str(tmp_path / "state")}, data), encoding="utf-8")
    path.chmod(0o600)
    return path


def test_contacts_in_one_account_reminders_in_another(
    radicale: DavServer,
    home: DavServer,
    counting_proxy: ProxyFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ab_name, ab_url = radicale.make_addressbook()
    people = [
        ("acc-ada", "Ada Lovelace", "1", "2026-10-01T12:00:00Z"),
        ("acc-ben", "Ben Turing", "2", None),
        ("acc-cy", "Cy Hopper", "2", "2026-11-20T12:00:00Z"),  # not due
    ]
    for person in people:
        radicale.put(ab_url + f"{person[0]}.vcf", contact_card(*person))
    icloud, at_home = counting_proxy(radicale.url), counting_proxy(home.url)
    list_name, events = f"Keep in touch {tmp_path.name}", f"Digest {tmp_path.name}"
    cfg = readme_config(
        tmp_path, radicale, icloud.url, at_home.url, ab_name, task_list=list_name, calendar=events, daily_limit=2
    )

    # The first sync: the task list and the events calendar are made at home, the reminders written there.
    assert syncd(cfg, "2026-11-22T09:00", "sync") == 0
    list_url = find_list(home, list_name)
    found = tasks_by_contact(home, list_url)
    assert sorted(found) == ["acc-ada", "acc-ben"]
    assert find_list(home, events), "the events calendar is in the reminders account"

    # `today` reads both accounts.
    capsys.readouterr()
    assert syncd(cfg, "2026-11-22T09:05", "today", "--json") == 0
    assert {item["uid"] for item in json.loads(capsys.readouterr().out)} == {"acc-ada", "acc-ben"}

    # Ticked off on the phone (the home server): the card in the contacts account records it.
    complete_like_iphone(home, found["acc-ada"][0][0], "20261122T101500Z")
    assert syncd(cfg, "2026-11-22T18:00", "sync") == 0
    assert card_values(radicale, ab_url, "acc-ada")["X-SYNCD-LAST-CONTACT"] == "2026-11-22T10:15:00Z"

    # Each server saw only its own credentials, on every request.
    assert icloud.snapshot() and at_home.snapshot()
    assert authorizations(icloud) == {basic(radicale.username, radicale.password)}
    assert authorizations(at_home) == {basic(HOME_USER, HOME_PASSWORD)}
    # The contacts server got card patches only: no calendar made, no task written.
    assert icloud.writes() and {(r.method, r.path.endswith(".vcf")) for r in icloud.writes()} == {("PUT", True)}
    assert "MKCALENDAR" not in icloud.methods()
    # The home server got no card; its writes are the task list, the events calendar and their items.
    assert not [r for r in at_home.writes() if r.path.endswith(".vcf")]
    assert at_home.methods().count("MKCALENDAR") == 2
    for name in (list_name, events):
        with pytest.raises(AssertionError, match="no task list"):
            find_list(radicale, name)

    # A sync within the hour takes both accounts from the cache: no discovery on either server.
    icloud.reset()
    at_home.reset()
    assert syncd(cfg, "2026-11-22T18:30", "sync") == 0
    assert all(r.method != "PROPFIND" or "/.well-known/" not in r.path for r in icloud.snapshot() + at_home.snapshot())
    assert icloud.writes() == [] and at_home.writes() == []


@pytest.mark.parametrize("hostile", ["contacts", "home"])
def test_an_href_to_the_other_account_never_gets_this_accounts_credentials(
    radicale: DavServer,
    home: DavServer,
    counting_proxy: ProxyFactory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    hostile: str,
) -> None:
    """One server's principal names its home sets on the other account's server: the client of the first
    account asks there without its credentials, so each server still only ever sees its own account's."""
    ab_name, _ = radicale.make_addressbook()
    icloud, at_home = counting_proxy(radicale.url), counting_proxy(home.url)
    if hostile == "contacts":
        icloud.fault, target = homes_at(at_home.origin), at_home
    else:
        at_home.fault, target = homes_at(icloud.origin), icloud
    task_list = f"Keep in touch {tmp_path.name}"
    cfg = readme_config(tmp_path, radicale, icloud.url, at_home.url, ab_name, task_list=task_list)
    assert syncd(cfg, "2026-11-22T09:00", "sync") == 77
    err = capsys.readouterr().err
    assert f"{target.origin} asks for credentials (HTTP 401), but it is another site than the configured server" in err
    assert "syncd sends them only within the site of the server it was given" in err
    assert radicale.password not in err and HOME_PASSWORD not in err
    # The other account's server was asked, without any Authorization header.
    assert [r for r in target.snapshot() if not any(k.lower() == "authorization" for k in r.headers)]
    assert authorizations(icloud) <= {basic(radicale.username, radicale.password)}
    assert authorizations(at_home) <= {basic(HOME_USER, HOME_PASSWORD)}


def test_check_lists_each_account(
    radicale: DavServer,
    home: DavServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ab_name, ab_url = radicale.make_addressbook()
    radicale.put(ab_url + "chk-ada.vcf", contact_card("chk-ada", "Ada Lovelace", "1"))
    list_name = f"Keep in touch {tmp_path.name}"
    home.make_calendar(list_name)
    cfg = split_config(radicale, home.url, tmp_path, ab_name, list_name)
    monkeypatch.setenv("SYNCD_ACCOUNTS__HOME__PASSWORD", HOME_PASSWORD)
    assert syncd(cfg, "2026-11-22T09:00", "check") == 0
    out = capsys.readouterr().out
    assert f"accounts   [server] {radicale.url} as 'alice': contacts\n" in out
    assert f"           [accounts.home] {home.url} as 'bob': reminders\n" in out
    assert (
        f"           [server] reached; principal {radicale.url}alice/; address book home {radicale.addressbook_home}\n"
        in out
    )
    assert f"           [accounts.home] reached; principal {home.url}bob/; calendar home {home.calendar_home}\n" in out
    assert f"task list {list_name!r}" in out and "0 tasks" in out
    assert "1 contact, 1 tracked" in out


def test_unknown_account_name_is_a_config_error(
    radicale: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = radicale.config(tmp_path, reminders={"account": "hom"}, accounts={"home": {"url": "http://127.0.0.1:9/"}})
    assert syncd(cfg, "2026-11-22T09:00", "sync") == 78
    err = capsys.readouterr().err
    assert "reminders.account: 'hom' is not an account" in err
    assert "[server]" in err and "[accounts.home] ('home')" in err


@pytest.mark.parametrize("failure", ["password", "unreachable"])
def test_account_failing_discovery_is_named(
    radicale: DavServer,
    home: DavServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    failure: str,
) -> None:
    ab_name, _ = radicale.make_addressbook()
    home_url = home.url if failure == "password" else "http://127.0.0.1:9/"
    cfg = split_config(radicale, home_url, tmp_path, ab_name, f"Keep in touch {tmp_path.name}")
    monkeypatch.setenv("SYNCD_ACCOUNTS__HOME__PASSWORD", "not-the-password")
    assert syncd(cfg, "2026-11-22T09:00", "sync") == (77 if failure == "password" else 69)
    err = capsys.readouterr().err
    assert "[accounts.home] (reminders): " in err, err
    assert "not-the-password" not in err
    if failure == "password":
        assert "check accounts.home.username and the password" in err


def test_password_refused_after_a_cached_discovery_names_the_account(
    radicale: DavServer,
    home: DavServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Within the hour no discovery is made: the read that meets the refused password names the account."""
    ab_name, ab_url = radicale.make_addressbook()
    radicale.put(ab_url + "pw-ada.vcf", contact_card("pw-ada", "Ada Lovelace", "1"))
    cfg = split_config(radicale, home.url, tmp_path, ab_name, f"Keep in touch {tmp_path.name}")
    monkeypatch.setenv("SYNCD_ACCOUNTS__HOME__PASSWORD", HOME_PASSWORD)
    assert syncd(cfg, "2026-11-22T09:00", "sync") == 0
    monkeypatch.setenv("SYNCD_ACCOUNTS__HOME__PASSWORD", "changed-since")
    capsys.readouterr()
    assert syncd(cfg, "2026-11-22T09:10", "sync") == 77
    err = capsys.readouterr().err
    assert "[accounts.home] (reminders): " in err and "accounts.home.username" in err, err


MEETING = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//EN\r
BEGIN:VEVENT\r
UID:acc-meeting-1\r
DTSTAMP:20261101T000000Z\r
DTSTART:20261121T100000Z\r
DTEND:20261121T110000Z\r
SUMMARY:Lunch\r
ORGANIZER:mailto:me@example.org\r
ATTENDEE;PARTSTAT=ACCEPTED:mailto:ada@example.org\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_meetings_read_in_their_own_account(
    radicale: DavServer, home: DavServer, counting_proxy: ProxyFactory, tmp_path: Path
) -> None:
    """interactions.account = "" ([server], where the calendars are) while the reminders are at home: the
    meeting is read on the contacts server and recorded in the card there; nothing else is written there."""
    ab_name, ab_url = radicale.make_addressbook()
    radicale.put(ab_url + "mtg-ada.vcf", contact_card("mtg-ada", "Ada Lovelace", "1", "2026-10-01T12:00:00Z"))
    work, work_url = radicale.make_calendar(components=("VEVENT",))
    radicale.put(work_url + "lunch.ics", MEETING, "text/calendar; charset=utf-8")
    icloud, at_home = counting_proxy(radicale.url), counting_proxy(home.url)
    cfg = readme_config(
        tmp_path, radicale, icloud.url, at_home.url, ab_name, task_list=f"Keep in touch {tmp_path.name}"
    )
    cfg.write_text(cfg.read_text() + f'\n[interactions]\naccount = ""\ncalendars = ["{work}"]\n')
    assert syncd(cfg, "2026-11-22T09:00", "sync") == 0
    assert card_values(radicale, ab_url, "mtg-ada")["X-SYNCD-LAST-CONTACT"] == "2026-11-21T11:00:00Z"
    assert any(r.method == "REPORT" and r.path.startswith(urlsplit(work_url).path) for r in icloud.snapshot())
    assert {(r.method, r.path.endswith(".vcf")) for r in icloud.writes()} == {("PUT", True)}
    assert not any(urlsplit(work_url).path in r.path for r in at_home.snapshot())
    assert authorizations(icloud) == {basic(radicale.username, radicale.password)}
    assert authorizations(at_home) == {basic(HOME_USER, HOME_PASSWORD)}


def test_a_hanging_password_command_of_an_account_is_stopped(
    radicale: DavServer, counting_proxy: ProxyFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The home account's password_command hangs: stopped at its password_timeout, exit 78 naming the
    account's key; nothing was sent to either server."""
    icloud, at_home = counting_proxy(radicale.url), counting_proxy(radicale.url)
    hang = tmp_path / "hang.py"
    hang.write_text("import time\ntime.sleep(60)\n")
    cfg = radicale.config(
        tmp_path,
        server={"url": icloud.url},
        reminders={"account": "home"},
        accounts={
            "home": {
                "url": at_home.url,
                "username": HOME_USER,
                "password_command": [sys.executable, str(hang)],
                "password_timeout": 0.5,
            }
        },
    )
    started = time.monotonic()
    assert syncd(cfg, "2026-11-22T09:00", "sync") == 78
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert "accounts.home.password_command: " in err and "did not finish within 0.5 s and was stopped" in err
    assert icloud.snapshot() == [] and at_home.snapshot() == []
