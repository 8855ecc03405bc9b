"""How a real server's refusal of a write reaches syncd: `Refused` with the server's reason, never taken for a
lost race. Radicale refuses a card it cannot read with 400; Xandikos with 412 and a DAV:error naming
`valid-address-data`, the same status it gives a stale ETag, which stays a `PreconditionFailed` (re-read)."""

from __future__ import annotations

import pytest

from syncd.dav.client import DavClient, Refused
from syncd.errors import PreconditionFailed
from tests.factories import contact_card
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
