"""The redirect rule (`syncd.dav.redirects`): which hop may carry the credentials, and which is refused."""

from __future__ import annotations

import pytest

from syncd.dav.redirects import RedirectRefused, check_redirect, credentials_follow, origin, site, without_userinfo


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("contacts.icloud.com", "icloud.com"),
        ("p42-contacts.icloud.com", "icloud.com"),
        ("P42-Contacts.iCloud.COM.", "icloud.com"),
        ("icloud.com", "icloud.com"),
        ("dav.example.co.uk", "example.co.uk"),
        ("example.co.uk", "example.co.uk"),
        ("cloud.example.com.au", "example.com.au"),
        ("dav.fastmail.com", "fastmail.com"),
        ("a.b.c.example.org", "example.org"),
        ("localhost", "localhost"),
        ("a.localhost", "a.localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("192.168.1.20", "192.168.1.20"),
    ],
)
def test_site(host: str, expected: str) -> None:
    assert site(host) == expected


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("https://contacts.icloud.com/", "https://p42-contacts.icloud.com/123/carddavhome/"),
        ("https://contacts.icloud.com:443/", "https://p42-contacts.icloud.com/"),
        ("https://dav.example.org/", "https://dav.example.org/other/"),
        ("https://dav.example.org/", "https://DAV.example.org./"),
        ("http://dav.example.org/", "https://dav.example.org/"),  # upgraded, default ports
        ("http://dav.example.org:80/", "https://www.example.org:443/"),
        ("http://127.0.0.1:5232/", "http://127.0.0.1:5232/alice/"),
        ("https://dav.example.co.uk/", "https://p1.example.co.uk/"),
    ],
)
def test_credentials_follow_within_the_site(source: str, target: str) -> None:
    check_redirect(source, target)
    assert credentials_follow(source, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("https://contacts.icloud.com/", "https://icloud.com.evil.example/"),  # another site
        ("https://contacts.icloud.com/", "https://evil-icloud.com/"),
        ("https://dav.example.co.uk/", "https://dav.other.co.uk/"),  # co.uk is not a site
        ("https://example.co.uk/", "https://other.co.uk/"),
        ("http://localhost:5232/", "http://127.0.0.1:5232/"),  # another name: another site
        ("http://127.0.0.1:5232/", "http://127.0.0.2:5232/"),
        ("https://dav.example.org/", "https://dav.example.org:8443/"),  # another port
        ("http://dav.example.org:5232/", "http://dav.example.org:5233/"),
        ("http://dav.example.org:5232/", "https://dav.example.org:5232/"),  # upgraded, but not 80 -> 443
        ("http://dav.example.org/", "ftp://dav.example.org/"),
        ("https://dav.example.org/", "/relative/never/joined"),
    ],
)
def test_credentials_stay_behind(source: str, target: str) -> None:
    assert not credentials_follow(source, target)


@pytest.mark.parametrize(
    "target", ["http://dav.example.org/", "http://dav.example.org:443/", "ftp://dav.example.org/", "//x/"]
)
def test_https_to_anything_else_is_refused(target: str) -> None:
    with pytest.raises(RedirectRefused, match=r"^https://dav\.example\.org redirected to .*never followed"):
        check_redirect("https://dav.example.org/", target)


def test_refusal_exits_69() -> None:
    assert RedirectRefused("x").exit_code == 69


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://alice:s3cret@dav.example.org/x?y", "https://dav.example.org/x?y"),
        ("https://a%40b:p@ss@dav.example.org:8443/", "https://dav.example.org:8443/"),
        ("https://dav.example.org/a@b/", "https://dav.example.org/a@b/"),
        ("https://dav.example.org/", "https://dav.example.org/"),
    ],
)
def test_without_userinfo(url: str, expected: str) -> None:
    assert without_userinfo(url) == expected


def test_origin_has_no_userinfo() -> None:
    assert origin("https://alice:s3cret@dav.example.org:8443/x") == "https://dav.example.org:8443"
    assert origin("http://[::1]:5232/") == "http://[::1]:5232"
