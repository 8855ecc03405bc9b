"""The provider table: which provider a server URL belongs to, and what `check` says about it."""

from __future__ import annotations

import pytest

from syncd.core.providers import BAIKAL, FASTMAIL, GOOGLE, ICLOUD, NEXTCLOUD, advice, provider, verify_writes


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://contacts.icloud.com/", ICLOUD),
        ("https://p42-contacts.icloud.com/123456/carddavhome/card/", ICLOUD),
        ("https://caldav.icloud.com", ICLOUD),
        ("https://www.googleapis.com/carddav/v1/principals/alice@gmail.com/lists/default/", GOOGLE),
        ("https://apidata.googleusercontent.com/caldav/v2/alice@gmail.com/events", GOOGLE),
        ("https://carddav.fastmail.com/dav/addressbooks/user/alice@fastmail.com/Default/", FASTMAIL),
        ("https://caldav.messagingengine.com/", FASTMAIL),
        ("https://cloud.example.org/remote.php/dav/addressbooks/users/alice/contacts/", NEXTCLOUD),
        ("https://dav.example.org/baikal/html/dav.php/", BAIKAL),
        ("https://dav.example.org/", None),
        ("https://icloud.com.example.org/", None),  # a look-alike host is not iCloud
        ("https://notgoogle.com/", None),
        ("", None),
    ],
)
def test_provider_by_url(url: str, expected: object) -> None:
    assert provider(url) is expected


def test_only_servers_that_ignore_if_match_get_their_writes_verified() -> None:
    assert verify_writes("https://www.googleapis.com/carddav/v1/principals/a/lists/default/x.vcf")
    assert not verify_writes("https://p42-contacts.icloud.com/1/carddavhome/card/x.vcf")
    assert not verify_writes("http://127.0.0.1:5232/alice/contacts/x.vcf")


def test_check_explains_the_split_setup_when_reminders_are_in_icloud() -> None:
    lines = advice("https://p42-contacts.icloud.com/1/carddavhome/", "https://p42-caldav.icloud.com/1/calendars/")
    split = [line for line in lines if "Reminders" in line]
    assert len(split) == 1
    assert "reminders.account" in split[0] and "[accounts.home]" in split[0]
    # iCloud contacts with reminders at home: nothing to warn about beyond how cards are kept.
    home = advice("https://p42-contacts.icloud.com/1/carddavhome/", "https://dav.home.example/alice/")
    assert not [line for line in home if "Reminders" in line or "read-mostly" in line]


def test_check_says_google_is_best_used_read_mostly() -> None:
    lines = advice("https://www.googleapis.com/carddav/v1/principals/alice@gmail.com/lists/default/", "")
    assert any("read-mostly" in line and "If-Match" in line for line in lines)
    tasks = advice("https://dav.example.org/", "https://apidata.googleusercontent.com/caldav/v2/alice/events")
    assert any("Google has no CalDAV task lists" in line for line in tasks)


def test_fastmail_calendars_hold_one_kind_of_item() -> None:
    assert any("separate calendars" in line for line in advice("", "https://caldav.fastmail.com/dav/"))
    assert advice("https://dav.example.org/", "https://dav.example.org/") == []
