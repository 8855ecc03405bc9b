"""How a real server's refusal of a write reaches syncd: `Refused` with the server's reason, never taken for a
lost race. Radicale refuses a card it cannot read with 400; Xandikos with 412 and a DAV:error naming
`valid-address-data`, the same status it gives a stale ETag, which stays a `PreconditionFailed` (re-read);
SabreDAV with 415 and its reason in its own `<s:message>`."""

from __future__ import annotations

import pytest

from syncd.dav.client import DavClient, Refused
from syncd.errors import PreconditionFailed
from tests.factories import CORPUS, contact_card
from tests.servers import DavServer

NOT_A_CARD = "BEGIN:VCARD\rVERSION:3.0\rUID:r-1\rFN:Refused Card\rEND:VCARD\r"  # CR-only line endings


def test_a_refused_card_is_refused_and_a_stale_etag_a_race(dav: DavServer) -> None:
    _, ab_url = dav.make_addressbook()
    href = ab_url + "r-1.vcf"
    etag = dav.put(href, contact_card("r-1", "Refused Card", None, None)).headers["ETag"]
    with DavClient(username=dav.username, password=dav.password, deadline=5) as client:
        with pytest.raises(Refused) as refused:
            client.put(href, NOT_A_CARD, "text/vcard", etag=etag)
        assert refused.value.status in (400, 412)
        if dav.kind == "xandikos":
            assert refused.value.reason.startswith("valid-address-data") and "(HTTP 412)" in refused.value.reason
        assert "refused by the server" in str(refused.value)
        with pytest.raises(PreconditionFailed):
            client.put(href, contact_card("r-1", "Edited Elsewhere", None, None), "text/vcard", etag='"stale"')
        assert client.counts["PUT"] == 2, "neither is sent again"
    assert "Refused Card" in dav.get(href).text


def test_sabredav_says_why_it_refused(sabredav: DavServer) -> None:
    # SabreDAV answers a card it cannot parse with 415 and its reason in <s:message> (Nextcloud and Baïkal too);
    # SabreDAV 1.8 cannot parse vCard 2.1 quoted-printable soft line breaks (later versions can).
    _, ab_url = sabredav.make_addressbook()
    href = ab_url + "r-2.vcf"
    etag = sabredav.put(href, contact_card("r-2", "Refused Later", None, None)).headers["ETag"]
    with DavClient(username=sabredav.username, password=sabredav.password, auth="digest", deadline=5) as client:
        with pytest.raises(Refused) as refused:
            client.put(href, (CORPUS / "outlook-21.vcf").read_bytes(), "text/vcard", etag=etag)
        assert refused.value.status == 415
        assert refused.value.reason.startswith("This resource only supports valid vcard data"), refused.value.reason
        assert refused.value.reason.endswith("(HTTP 415)") and "\n" not in refused.value.reason
        assert client.counts["PUT"] == 1, "not sent again"
    assert "Refused Later" in sabredav.get(href).text
