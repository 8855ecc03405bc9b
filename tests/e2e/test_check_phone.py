"""`syncd check` tells what the phone will see, against real Radicale and Xandikos: a VTODO-only list of the
user's own shows in iPhone Reminders, a mixed one does not; a list owned by someone else, a change feed without
deletions and a server that drops unknown X- properties (injected through the proxy where the real servers do
not do it) are named. `check --probe` writes a scratch card and task, reads them back and leaves nothing."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from syncd.app.cli import main
from tests.factories import contact_card
from tests.proxy import Forward, ProxyFactory, Respond, when
from tests.servers import DavServer


def setup(dav: DavServer, tmp_path: Path, components: tuple[str, ...], url: str = "") -> tuple[Path, str, str]:
    """An address book with one tracked contact and a task list of these components; the config for both."""
    book, book_url = dav.make_addressbook()
    dav.put(book_url + "ada.vcf", contact_card(f"ada-{uuid.uuid4().hex[:6]}", "Ada Lovelace", "1", None))
    task_list, list_url = dav.make_calendar(components=components)
    server = {"url": url} if url else {}
    cfg = dav.config(tmp_path, server=server, contacts={"addressbooks": [book]}, reminders={"task_list": task_list})
    return cfg, book_url, list_url


def check(cfg: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    capsys.readouterr()
    assert main(["--config", str(cfg), "check", *extra]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_a_vtodo_only_list_shows_in_reminders(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _, _ = setup(dav, tmp_path, ("VTODO",))
    out = check(cfg, capsys)
    assert "VTODO only: it shows as a list in iPhone Reminders" in out
    assert "does NOT show" not in out
    # Radicale names the owner (the user's principal); Xandikos does not say.
    assert ("your own, not shared" if dav.kind == "radicale" else "owner not announced") in out
    assert "change feed (sync-collection) supported" in out


def test_a_list_that_also_holds_events_does_not(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _, _ = setup(dav, tmp_path, ("VEVENT", "VTODO"))
    out = check(cfg, capsys)
    assert "holds VEVENT, VTODO: a list that is not VTODO-only does NOT show in iPhone Reminders" in out
    assert "VTODO only" not in out


def test_a_list_owned_by_someone_else_is_named(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A list shared with the user (iCloud, a family member's list): its owner is another principal."""
    proxy = counting_proxy(radicale.url)
    cfg, _, list_url = setup(radicale, tmp_path, ("VTODO",), url=proxy.url)
    path = urlsplit(list_url).path

    def other_owner(body: bytes) -> bytes:
        return re.sub(rb"<owner><href>[^<]*</href></owner>", b"<owner><href>/bob/</href></owner>", body)

    proxy.fault = when(Forward(edit=other_owner), method="PROPFIND", path=lambda p: p.rstrip("/") == path.rstrip("/"))
    out = check(cfg, capsys)
    assert "owned by" in out and "/bob/, not by you: a list shared with you does NOT show" in out


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (  # a list the user shares with others (calendarserver.org sharing, as iCloud and Nextcloud announce it)
            (rb"<prop>", b'<prop><CS:invite><CS:user><href>mailto:bob@example.org</href></CS:user></CS:invite>'),
            "shared: a shared list does NOT show in iPhone Reminders",
        ),
        (  # a list the user may only read
            (rb"<current-user-privilege-set>.*?</current-user-privilege-set>",
             b"<current-user-privilege-set><privilege><read /></privilege></current-user-privilege-set>"),
            "read-only for you: syncd cannot write its reminders there",
        ),
    ],
)  # fmt: skip
def test_a_shared_or_read_only_list_is_named(
    radicale: DavServer,
    tmp_path: Path,
    counting_proxy: ProxyFactory,
    capsys: pytest.CaptureFixture[str],
    edit: tuple[bytes, bytes],
    said: str,
) -> None:
    proxy = counting_proxy(radicale.url)
    cfg, _, list_url = setup(radicale, tmp_path, ("VTODO",), url=proxy.url)
    path = urlsplit(list_url).path
    pattern, replacement = edit

    def rewrite(body: bytes) -> bytes:
        changed = re.sub(pattern, replacement, body, count=1)
        assert changed != body
        return changed

    proxy.fault = when(
        Forward(edit=rewrite), method="PROPFIND", path=lambda p: p.rstrip("/") == path.rstrip("/"), body=b"owner"
    )
    out = check(cfg, capsys)
    assert said in out


def test_probe_leaves_nothing_behind_and_says_what_the_server_kept(
    dav: DavServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, book_url, list_url = setup(dav, tmp_path, ("VTODO",))
    cards, tasks = sorted(dav.list_hrefs(book_url)), sorted(dav.list_hrefs(list_url))
    out = check(cfg, capsys, "--probe")
    assert sorted(dav.list_hrefs(book_url)) == cards and sorted(dav.list_hrefs(list_url)) == tasks
    assert "- X-SYNCD-PROBE: kept as written" in out
    assert "- X-SYNCD-PROBE-UNKNOWN: kept as written" in out
    assert out.count("the change feed reports deletions") == 2  # the address book's and the task list's
    assert "NOT" not in out


def test_probe_names_x_properties_the_server_drops(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = counting_proxy(radicale.url)
    cfg, book_url, _ = setup(radicale, tmp_path, ("VTODO",), url=proxy.url)
    cards = sorted(radicale.list_hrefs(book_url))

    def drop_unknown(body: bytes) -> bytes:
        return re.sub(rb"X-SYNCD-PROBE-UNKNOWN[^\r\n]*\r?\n", b"", body)

    proxy.fault = when(Forward(edit=drop_unknown), method="GET", path="syncd-probe-")
    out = check(cfg, capsys, "--probe")
    assert "- X-SYNCD-PROBE: kept as written" in out
    assert "- X-SYNCD-PROBE-UNKNOWN: NOT kept" in out
    assert sorted(radicale.list_hrefs(book_url)) == cards


def test_probe_names_a_change_feed_without_deletions(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    proxy = counting_proxy(radicale.url)
    cfg, _, _ = setup(radicale, tmp_path, ("VTODO",), url=proxy.url)

    def no_deletions(body: bytes) -> bytes:
        return re.sub(rb"<response><href>[^<]*</href><status>[^<]*404[^<]*</status></response>", b"", body)

    proxy.fault = when(Forward(edit=no_deletions), method="REPORT", body=b"sync-collection")
    out = check(cfg, capsys, "--probe")
    assert out.count("the change feed does NOT report deletions") == 2


def test_probe_deletes_its_card_even_when_a_step_fails(
    radicale: DavServer, tmp_path: Path, counting_proxy: ProxyFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first DELETE of the scratch card fails (a 500): the probe says so, and deletes it after all."""
    proxy = counting_proxy(radicale.url)
    cfg, book_url, _ = setup(radicale, tmp_path, ("VTODO",), url=proxy.url)
    cards = sorted(radicale.list_hrefs(book_url))
    proxy.fault = when(Respond(500), method="DELETE", path=".vcf", times=1)
    out = check(cfg, capsys, "--probe")
    assert "not made:" in out and "500" in out
    assert "could NOT delete" not in out
    assert sorted(radicale.list_hrefs(book_url)) == cards
    assert [r.method for r in proxy.records if r.method == "DELETE" and ".vcf" in r.path] == ["DELETE", "DELETE"]
