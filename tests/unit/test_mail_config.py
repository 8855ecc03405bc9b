"""`[mail]` in the config: the URL forms, and the password from the same sources as `[server]`'s."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from syncd.config import MailConfig
from syncd.errors import ConfigError


def test_urls() -> None:
    assert MailConfig().url == "" and MailConfig().folders == ["Sent"] and not MailConfig().count_received
    for url in ("imaps://imap.example.org", "imap://127.0.0.1:1143", "imaps://mail.example.org:993/"):
        assert MailConfig(url=url).url == url
    for url in ("https://imap.example.org", "imap://", "imaps://host/INBOX", "mail.example.org"):
        with pytest.raises(ValidationError):
            MailConfig(url=url)


def test_password_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert MailConfig().resolve_password() is None
    assert MailConfig(password="s3cret").resolve_password() == "s3cret"
    secret = tmp_path / "mail-password"
    secret.write_text("from-a-file\n")
    assert MailConfig(password_file=secret).resolve_password() == "from-a-file"
    command = [sys.executable, "-c", "print('from-a-command-for-mail')"]
    assert MailConfig(password_command=command).resolve_password() == "from-a-command-for-mail"
    with pytest.raises(ValidationError):
        MailConfig(password_command="pass show mail")
    with pytest.raises(ConfigError, match=r"mail\.password_file"):
        MailConfig(password_file=tmp_path / "missing").resolve_password()
    (tmp_path / "mail_password").write_text("from-systemd\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert MailConfig().resolve_password() == "from-systemd"
