"""`syncd init --account NAME`, the second run of a split setup, against two real Radicale servers (each with its
own user and password, each behind a counting proxy): it appends `[accounts.NAME]` and points `reminders.account`
(or `contacts.account`) at it, leaving the rest of the user's file as it was; `check` and `sync` take the result as
it is. What it refuses (an account already there, a wrong password, a layout its line edits cannot follow) writes
nothing."""

from __future__ import annotations

import tomllib
import uuid
from pathlib import Path

import pytest

from syncd.app.cli import main
from tests.e2e.test_accounts import HOME_PASSWORD, HOME_USER, home
from tests.e2e.test_init import clean, mode
from tests.factories import contact_card
from tests.proxy import ProxyFactory
from tests.servers import DavServer
from tests.world import card_values, find_list, tasks_by_contact

__all__ = ["clean", "home"]  # fixtures


def first_init(cfg: Path, contacts: DavServer, url: str, addressbook: str, task_list: str) -> list[str]:
    return ["--config", str(cfg), "init", "--url", url, "--username", contacts.username,
            "--addressbook", addressbook, "--task-list", task_list, "--timezone", "Europe/Berlin"]  # fmt: skip


def test_split_setup_in_two_runs_contacts_here_reminders_at_home(
    radicale: DavServer,
    home: DavServer,
    counting_proxy: ProxyFactory,
    clean: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ab_name, ab_url = radicale.make_addressbook()
    uid = f"split-{uuid.uuid4().hex[:6]}"
    radicale.put(ab_url + f"{uid}.vcf", contact_card(uid, "Ada Lovelace", "1", None))
    icloud, at_home = counting_proxy(radicale.url), counting_proxy(home.url)
    task_list = f"Touch {uuid.uuid4().hex[:8]}"
    cfg = clean / "conf" / "config.toml"

    monkeypatch.setenv("SYNCD_SERVER__PASSWORD", radicale.password)
    assert main(first_init(cfg, radicale, icloud.url, ab_name, task_list)) == 0
    monkeypatch.delenv("SYNCD_SERVER__PASSWORD")
    first = cfg.read_bytes()
    icloud.reset()
    capsys.readouterr()

    monkeypatch.setenv("SYNCD_ACCOUNTS__HOME__PASSWORD", HOME_PASSWORD)
    second = ["--config", str(cfg), "init", "--account", "home", "--url", at_home.url, "--username", HOME_USER]
    assert main(second) == 0
    monkeypatch.delenv("SYNCD_ACCOUNTS__HOME__PASSWORD")  # the files alone must do from now on
    out = capsys.readouterr().out
    assert at_home.snapshot(), "the home server was reached"
    # The check that follows lists both accounts.
    assert f"accounts   [server] {icloud.url} as 'alice': contacts\n" in out
    assert f"           [accounts.home] {at_home.url} as 'bob': reminders\n" in out
    assert "[accounts.home] reached" in out

    written = cfg.read_bytes()
    assert mode(cfg) == 0o600
    # One line added in [reminders]; the rest of the first run's file byte for byte, the new table after it.
    assert written.count(b'\naccount = "home"\n') == 1
    assert written.replace(b'account = "home"\n', b"", 1).startswith(first)
    data = tomllib.loads(written.decode())
    password = cfg.parent / "home.password"
    assert data["accounts"] == {"home": {"url": at_home.url, "username": HOME_USER, "password_file": str(password)}}
    assert data["reminders"] == {"task_list": task_list, "account": "home"}
    assert "account" not in data["contacts"]
    assert mode(password) == 0o600 and password.read_text() == HOME_PASSWORD + "\n"
    assert HOME_PASSWORD.encode() not in written and HOME_PASSWORD not in out

    monkeypatch.delenv("SYNCD_SERVER__PASSWORD", raising=False)
    icloud.reset()
    at_home.reset()
    assert main(["--config", str(cfg), "sync"]) == 0
    # The task list is made at home only, and the reminder written there; the card stays on the contacts server.
    assert at_home.methods().count("MKCALENDAR") == 1
    assert "MKCALENDAR" not in icloud.methods()
    assert not [r for r in icloud.writes() if not r.path.endswith(".vcf")]
    assert not [r for r in at_home.writes() if r.path.endswith(".vcf")]
    assert sorted(tasks_by_contact(home, find_list(home, task_list))) == [uid]
    with pytest.raises(AssertionError, match="no task list"):
        find_list(radicale, task_list)
    assert card_values(radicale, ab_url, uid)
    assert cfg.read_bytes() == written

    # Again without --force: refused, nothing written.
    at_home.reset()
    assert main([*second, "--password-file", str(password)]) == 73
    assert "[accounts.home] is already in" in capsys.readouterr().err
    assert cfg.read_bytes() == written
    assert not at_home.snapshot(), "refused before reaching the server"

    # A wrong password for another account: exit 77, nothing written.
    monkeypatch.setenv("SYNCD_ACCOUNTS__OTHER__PASSWORD", "wrong-Secret-123")
    other = ["--config", str(cfg), "init", "--account", "other", "--url", at_home.url, "--username", HOME_USER]
    assert main(other) == 77
    assert "wrong-Secret-123" not in "".join(capsys.readouterr())
    assert cfg.read_bytes() == written and not (cfg.parent / "other.password").exists()

    # With --force the table is replaced (here: the password file named instead of copied), the rest kept.
    monkeypatch.delenv("SYNCD_ACCOUNTS__OTHER__PASSWORD")
    secret = clean / "home secret"
    secret.write_text(HOME_PASSWORD + "\n")
    assert main([*second, "--password-file", str(secret), "--force"]) == 0
    forced = cfg.read_bytes()
    assert forced.replace(b'account = "home"\n', b"", 1).startswith(first)
    assert tomllib.loads(forced.decode())["accounts"]["home"]["password_file"] == str(secret)
    assert forced.count(b"[accounts.home]") == 1


def test_reminders_table_absent_or_key_set_elsewhere(
    home: DavServer, clean: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hand-written config: no [reminders] table gets one appended; a `reminders.account` already set has only
    its line replaced; a layout the line edits cannot follow (an inline table) is refused, nothing written."""
    monkeypatch.setenv("SYNCD_ACCOUNTS__HOME__PASSWORD", HOME_PASSWORD)
    monkeypatch.setenv("SYNCD_SERVER__PASSWORD", HOME_PASSWORD)  # [server]: the same server, for the check
    add = ["init", "--account", "home", "--url", home.url, "--username", HOME_USER, "--task-list", "Home list"]
    mine = f'# mine\n[server]\nurl = "{home.url}"\nusername = "{HOME_USER}"\n\n[schedule]\ntimezone = "UTC"'
    cfg = clean / "a" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text(mine)  # no final newline
    assert main(["--config", str(cfg), *add]) == 0
    text = cfg.read_text()
    assert text.startswith(mine + "\n")
    assert tomllib.loads(text)["reminders"] == {"account": "home", "task_list": "Home list"}

    cfg = clean / "b" / "config.toml"
    cfg.parent.mkdir()
    before = f'[server]\nurl = "{home.url}"\nusername = "{HOME_USER}"\n'
    before += f'[reminders]\naccount = "old"  # was\ndaily_limit = 3\n[accounts.old]\nurl = "{home.url}"\n'
    cfg.write_text(before)
    assert main(["--config", str(cfg), *add]) == 0
    after = cfg.read_text()
    assert after.startswith(before.replace('account = "old"  # was\n', 'task_list = "Home list"\naccount = "home"\n'))

    cfg = clean / "c" / "config.toml"
    cfg.parent.mkdir()
    inline = f'reminders = {{ task_list = "x" }}\n[server]\nurl = "{home.url}"\nusername = "{HOME_USER}"\n'
    cfg.write_text(inline)
    assert main(["--config", str(cfg), *add]) == 78
    assert "[accounts.home]" in capsys.readouterr().err
    assert cfg.read_text() == inline and not (cfg.parent / "home.password").exists()


def test_role_contacts_moves_the_address_books_to_the_new_account(
    radicale: DavServer,
    home: DavServer,
    clean: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The other way round: the reminders stay on [server] (home), the contacts move to `--account icloud`,
    with the address book chosen there."""
    ab_name, ab_url = radicale.make_addressbook()
    radicale.make_addressbook()  # not chosen
    uid = f"role-{uuid.uuid4().hex[:6]}"
    radicale.put(ab_url + f"{uid}.vcf", contact_card(uid, "Ada Lovelace", "1", None))
    task_list = f"Touch {uuid.uuid4().hex[:8]}"
    cfg = clean / "config.toml"
    monkeypatch.setenv("SYNCD_SERVER__PASSWORD", HOME_PASSWORD)
    assert main(["--config", str(cfg), "init", "--url", home.url, "--username", HOME_USER,
                 "--task-list", task_list, "--timezone", "UTC"]) == 0  # fmt: skip
    monkeypatch.delenv("SYNCD_SERVER__PASSWORD")
    first = cfg.read_bytes()
    secret = clean / "icloud secret"
    secret.write_text(radicale.password + "\n")
    icloud = ["--account", "icloud", "--role", "contacts", "--url", radicale.url, "--username", radicale.username]
    icloud += ["--password-file", str(secret), "--addressbook", ab_name]
    assert main(["--config", str(cfg), "init", *icloud]) == 0
    assert "Reached" in capsys.readouterr().out
    written = cfg.read_text()
    data = tomllib.loads(written)
    assert data["contacts"] == {"addressbooks": [ab_name], "account": "icloud"}
    assert "account" not in data["reminders"]
    assert data["accounts"]["icloud"]["password_file"] == str(secret)
    assert not (clean / "icloud.password").exists()
    restored = written.replace('account = "icloud"\n', "", 1).replace(
        f'addressbooks = ["{ab_name}"]', "addressbooks = []"
    )
    assert restored.startswith(first.decode())
    assert main(["--config", str(cfg), "sync"]) == 0
    assert sorted(tasks_by_contact(home, find_list(home, task_list))) == [uid]
