"""Writing X-SYNCD values through real servers (Radicale, Xandikos, SabreDAV) loses nothing of the user's card.

For every corpus card: upload it, take what the server *serves* as the user's card (Radicale re-serializes
uploads; Xandikos and SabreDAV store bytes verbatim), then let `syncd.dav.carddav.write_xsyncd` set, change and remove
X-SYNCD values. The text syncd PUTs must keep every non-X-SYNCD byte of what was served, in order.
Xandikos and SabreDAV must then serve exactly what syncd PUT; Radicale re-serializes syncd's PUT too, and the tests pin
down that this second pass changes nothing but the X-SYNCD lines' position (it is a fixpoint), so syncd's
writes never make Radicale drift the card further.

Also: a real 412 (the phone edits the card, including its X-SYNCD-CIRCLE, between syncd's GET and PUT)
keeps both edits and makes syncd decide again on the phone's values; syncd never sends a PUT without
If-Match; `read_addressbook` returns every card, even one the server cannot put into a multiget.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlsplit

import pytest
import requests

from syncd.core.account import Collection
from syncd.core.contacts import Card, Contact, contact_from_card
from syncd.core.vcard import logical_lines, parse_card
from syncd.core.xsyncd import patch_xsyncd, xsyncd_values
from syncd.dav.carddav import Compute, read_addressbook, write_xsyncd
from syncd.dav.client import DavClient
from tests.factories import CORPUS, GOOD_CARDS, read_corpus
from tests.servers import EVERY_SERVER, DavServer
from tests.vcard_reference import without_xsyncd

# Cards a server will not take from a client (so there is nothing for syncd to write), and why. Every other
# corpus card must be accepted.
REFUSED = {
    "radicale": {
        "cr-only.vcf": "vobject reads only LF/CRLF line endings (HTTP 400)",
        "outlook-21.vcf": "vobject cannot re-serialize the vCard 2.1 base64 PHOTO (HTTP 400)",
    },
    "xandikos": {
        "cr-only.vcf": "no CR-only line endings (HTTP 412 valid-address-data)",
        "outlook-21.vcf": "its parser does not know vCard 2.1 quoted-printable soft line breaks (HTTP 412)",
        # Stored all the same (GET serves the exact bytes), but every PUT and every multiget that includes
        # it fails with 500: see test_read_addressbook_survives_a_card_the_server_cannot_multiget.
        "nonascii-split-utf8.vcf": "answers 500 to a body that is not valid UTF-8",
    },
    "sabredav": {
        # SabreDAV 1.8 (sabre/vobject 2.1) only; sabre/vobject 3 and later, under Nextcloud and Baïkal, read it.
        "outlook-21.vcf": "vobject 2.1 cannot parse vCard 2.1 quoted-printable soft line breaks (HTTP 415)",
    },
}
# Servers that store a card's bytes as they were PUT, and serve exactly those.
VERBATIM = {"xandikos", "sabredav"}
# Except a body that is not valid UTF-8: SabreDAV (1.8 as today, `StringUtil::ensureUTF8`) and Radicale take it
# for Latin-1 and store it as UTF-8 mojibake.
NOT_UTF8 = "nonascii-split-utf8.vcf"


def verbatim(dav: DavServer, name: str) -> bool:
    return dav.kind in VERBATIM and not (dav.kind == "sabredav" and name == NOT_UTF8)


Headers = Mapping[str, str] | None


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    status: int


class RecordingClient(DavClient):
    """A DavClient that remembers every request it sent (method, headers, status)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.sent: list[Sent] = []

    def _send(self, method: str, url: str, body: bytes | None, headers: Headers) -> requests.Response:
        response = super()._send(method, url, body, headers)
        self.sent.append(Sent(method, url, dict(headers or {}), response.status_code))
        return response

    def __enter__(self) -> Self:
        return self

    def puts(self) -> list[Sent]:
        return [s for s in self.sent if s.method == "PUT"]


def always(updates: dict[str, str | None]) -> Compute:
    """A compute function that wants the same updates whatever the card holds."""

    def compute(current: dict[str, str]) -> dict[str, str | None]:
        return updates

    return compute


def client_for(dav: DavServer) -> RecordingClient:
    return RecordingClient(username=dav.username, password=dav.password)


def served(dav: DavServer, href: str) -> str:
    return dav.get(href).content.decode("utf-8", "surrogateescape")


def put_new(dav: DavServer, href: str, name: str) -> requests.Response:
    """PUT a corpus card's exact bytes as a new resource, as a client would."""
    headers = {"Content-Type": "text/vcard; charset=utf-8", "If-None-Match": "*"}
    return dav.http("PUT", href, (CORPUS / name).read_bytes(), **headers)


def upload(dav: DavServer, addressbook: str, name: str) -> str | None:
    """PUT a corpus card as a new resource. Returns its href if the server now has it (even when it answered
    the PUT with an error), None if it does not."""
    href = f"{addressbook}{uuid.uuid4().hex}.vcf"
    response = put_new(dav, href, name)
    if response.status_code in (200, 201, 204):
        return href
    refusal = f"{dav.kind} refused {name}: HTTP {response.status_code} {response.text}"
    assert name in REFUSED[dav.kind], refusal
    return href if dav.http("GET", href).status_code == 200 else None


def content_lines(text: str) -> Counter[str]:
    """Non-X-SYNCD logical lines (unfolded), as a multiset: what a card says, regardless of layout."""
    return Counter(
        content
        for content, _, _ in logical_lines(text)
        if content.strip() and not re.match(r"(?i)^(?:[A-Za-z0-9-]+\.)?X-SYNCD-", content)
    )


def assert_no_unconditional_put(client: RecordingClient) -> None:
    assert client.puts(), "syncd sent no PUT at all"
    for put in client.puts():
        assert put.headers.get("If-Match"), f"PUT {put.url} without If-Match: {put.headers}"
        assert "If-None-Match" not in put.headers


CIRCLE_LONG = "Familie & Freunde – weit weg 🎉 " * 3 + "Ende"  # non-ASCII, long enough to be folded
STEPS: list[dict[str, str | None]] = [
    {"CIRCLE": "1", "INTERVAL": "P2W", "LAST-CONTACT": "2024-05-01T10:00:00Z"},  # set
    {"CIRCLE": CIRCLE_LONG, "INTERVAL": "P1M", "SNOOZE": "2024-07-01"},  # change (and add)
    {"INTERVAL": None, "SNOOZE": None},  # remove
]


@pytest.mark.parametrize("dav", EVERY_SERVER, indirect=True)
@pytest.mark.parametrize("name", GOOD_CARDS)
def test_write_xsyncd_keeps_every_other_byte(dav: DavServer, name: str) -> None:
    _, addressbook = dav.make_addressbook()
    if name in REFUSED[dav.kind]:
        response = put_new(dav, f"{addressbook}{uuid.uuid4().hex}.vcf", name)
        assert response.status_code >= 400, f"{dav.kind} now takes {name}: drop it from REFUSED"
        pytest.skip(f"{dav.kind} refuses {name}: {REFUSED[dav.kind][name]}")
    href = upload(dav, addressbook, name)
    assert href is not None
    original = served(dav, href)
    if verbatim(dav, name):
        assert original.encode("utf-8", "surrogateescape") == (CORPUS / name).read_bytes()  # stored verbatim
    expected = xsyncd_values(original)
    with client_for(dav) as client:
        for step in STEPS:
            before = served(dav, href)
            write = write_xsyncd(client, href, always(step))
            assert write is not None
            for key, value in step.items():
                full = "X-SYNCD-" + key
                if value is None:
                    expected.pop(full, None)
                else:
                    expected[full] = value
            # What syncd PUT is what was served, with only X-SYNCD lines changed.
            assert without_xsyncd(write.text) == without_xsyncd(before)
            assert xsyncd_values(write.text) == expected
            assert write.text == patch_xsyncd(before, step)
            after = served(dav, href)
            assert xsyncd_values(after) == expected
            if dav.kind in VERBATIM:  # also the mojibake SabreDAV made, now valid UTF-8
                assert after == write.text
                assert write.etag and write.etag == dav.get(href).headers["ETag"]
            else:
                # Radicale re-serializes syncd's PUT, but it is a fixpoint: no line of the card changes again.
                assert content_lines(after) == content_lines(before)
            # Nothing to do when the values are already there: no PUT.
            puts = len(client.puts())
            assert write_xsyncd(client, href, always(step)) is None
            assert len(client.puts()) == puts
        assert_no_unconditional_put(client)
    final = served(dav, href)
    assert content_lines(final) == content_lines(original)
    if dav.kind in VERBATIM:
        assert without_xsyncd(final) == without_xsyncd(original)


PHONE_TEL = "+1 555 0100 999"


def _phone_edit(text: str) -> str:
    """What 'the phone' does to the card: a new NOTE and another TEL (as text, before END:VCARD), and the
    circle set by someone else."""
    eol = "\n" if "\r\n" not in text else "\r\n"
    end = re.search(r"(?im)^END:VCARD", text)
    assert end is not None
    added = f"NOTE:edited on the phone{eol}TEL;TYPE=CELL:{PHONE_TEL}{eol}"
    text = text[: end.start()] + added + text[end.start() :]
    return patch_xsyncd(text, {"CIRCLE": "2"})


class PhoneEditsFirst(RecordingClient):
    """Before syncd's first PUT reaches the server, the phone writes the card (a real 412 follows)."""

    def __init__(self, edit: Callable[[], None], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.edit: Callable[[], None] | None = edit

    def put(
        self, url: str, text: str | bytes, content_type: str, *, etag: str | None = None, create: bool = False
    ) -> str:
        if self.edit is not None:
            edit, self.edit = self.edit, None
            edit()
        return super().put(url, text, content_type, etag=etag, create=create)


@pytest.mark.parametrize("dav", EVERY_SERVER, indirect=True)
@pytest.mark.parametrize("name", ["apple-iphone.vcf", "thunderbird.vcf", "xsyncd-existing.vcf"])
def test_412_keeps_the_phones_edit_and_syncds(dav: DavServer, name: str) -> None:
    _, addressbook = dav.make_addressbook()
    href = upload(dav, addressbook, name)
    assert href is not None
    phone_text: list[str] = []

    def phone() -> None:
        response = dav.get(href)
        text = _phone_edit(response.content.decode("utf-8", "surrogateescape"))
        dav.put(href, text.encode("utf-8", "surrogateescape"), **{"If-Match": response.headers["ETag"]})
        phone_text.append(served(dav, href))

    seen: list[dict[str, str]] = []

    def compute(current: dict[str, str]) -> dict[str, str | None]:
        # syncd's decision depends on the card's current values, so after the 412 it must be made again.
        seen.append(dict(current))
        return {
            "LAST-CONTACT": "2024-05-01T10:00:00Z",
            "INTERVAL": "P1W" if current.get("X-SYNCD-CIRCLE") == "2" else "P9W",
        }

    with PhoneEditsFirst(phone, username=dav.username, password=dav.password) as client:
        write = write_xsyncd(client, href, compute)
        assert write is not None
        statuses = [p.status for p in client.puts()]
        assert statuses[0] == 412 and len(statuses) == 2 and statuses[1] in (200, 201, 204)
        assert_no_unconditional_put(client)
    assert len(seen) == 2 and seen[1].get("X-SYNCD-CIRCLE") == "2"
    final = served(dav, href)
    contact = contact_from_card(Card(href=href, etag="", text=final))
    assert "edited on the phone" in [p.text() for p in parse_card(final) if p.name == "NOTE"]
    assert PHONE_TEL in contact.phones
    assert contact.xsyncd["X-SYNCD-CIRCLE"] == "2"  # the phone's value survives
    assert contact.xsyncd["X-SYNCD-INTERVAL"] == "P1W"  # syncd decided on the phone's circle
    assert contact.xsyncd["X-SYNCD-LAST-CONTACT"] == "2024-05-01T10:00:00Z"
    # syncd patched the phone's version, not its own stale copy.
    [phones_version] = phone_text
    assert write.text == patch_xsyncd(phones_version, compute(xsyncd_values(phones_version)))
    if dav.kind in VERBATIM:
        assert final == write.text
    else:
        assert content_lines(final) == content_lines(phones_version)


def corpus_contact(name: str) -> Contact:
    return contact_from_card(Card(href="", etag="", text=read_corpus(name)))


@pytest.mark.parametrize("dav", EVERY_SERVER, indirect=True)
def test_read_addressbook_returns_every_card(dav: DavServer) -> None:
    name, url = dav.make_addressbook()
    uploaded: dict[str, str] = {}
    for corpus_file in GOOD_CARDS:
        href = upload(dav, url, corpus_file)
        if href is not None:
            uploaded[href] = corpus_file
    expected = {corpus_file: corpus_contact(corpus_file) for corpus_file in uploaded.values()}
    with client_for(dav) as client:
        cards = read_addressbook(client, Collection(url=url, name=name, kind="addressbook"))
    assert sorted(c.href for c in cards) == sorted(uploaded)
    for card in cards:
        corpus_name = uploaded[card.href]
        assert card.etag and card.addressbook == name
        contact = contact_from_card(card)
        wanted = expected[corpus_name]
        assert (contact.uid, contact.emails, contact.categories) == (
            wanted.uid,
            wanted.emails,
            wanted.categories,
        )
        assert (contact.is_group, contact.members, contact.xsyncd) == (
            wanted.is_group,
            wanted.members,
            wanted.xsyncd,
        )
        assert (contact.phones, contact.org, contact.title, contact.bday) == (
            wanted.phones,
            wanted.org,
            wanted.title,
            wanted.bday,
        )
        if dav.kind in ("radicale", "sabredav") and corpus_name == NOT_UTF8:
            # Radicale and SabreDAV decode a body that is not UTF-8 as Latin-1 and store the mojibake: "Ð¯Ñ\x80Ð¾..."
            assert contact.name != wanted.name and "Ð" in contact.name
            continue
        if dav.kind == "radicale":
            # Radicale decodes quoted-printable and writes a CR LF inside a value as a plain \n escape.
            assert (contact.name, contact.note) == (wanted.name, wanted.note.replace("\r\n", "\n"))
        else:
            assert (contact.name, contact.note) == (wanted.name, wanted.note)


def test_read_addressbook_survives_a_card_the_server_cannot_multiget(xandikos: DavServer) -> None:
    # Xandikos stores a card that is not valid UTF-8 but then fails every multiget that includes it (500).
    # syncd must still read the whole address book: split the batch, GET the one card.
    name, url = xandikos.make_addressbook()
    poison = upload(xandikos, url, "nonascii-split-utf8.vcf")
    assert poison is not None
    others: list[str] = []
    for card in ("apple-iphone.vcf", "google.vcf", "thunderbird.vcf"):
        href = upload(xandikos, url, card)
        assert href is not None
        others.append(href)
    multiget = xandikos.http(
        "REPORT",
        url,
        '<?xml version="1.0"?>'
        '<card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav">'
        f"<d:prop><card:address-data/></d:prop><d:href>{urlsplit(poison).path}</d:href></card:addressbook-multiget>",
        Depth="1",
        **{"Content-Type": "application/xml"},
    )
    assert multiget.status_code == 500  # the server quirk this test is about
    with client_for(xandikos) as client:
        cards = read_addressbook(client, Collection(url=url, name=name, kind="addressbook"))
    assert sorted(c.href for c in cards) == sorted([poison, *others])
    by_href = {c.href: c for c in cards}
    stored = (CORPUS / "nonascii-split-utf8.vcf").read_bytes()
    assert by_href[poison].text.encode("utf-8", "surrogateescape") == stored
    assert contact_from_card(by_href[poison]).name == "Ярослава Владимировна Кузнецова-Оболенская (Ярослава)"
