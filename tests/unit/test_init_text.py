"""What `syncd init` writes, without a server: TOML strings that read back as given, a config text that the
schema takes, the machine's time zone."""

from __future__ import annotations

import tomllib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from syncd.app.init import Answers, config_text, machine_zone, set_key, toml_string, without_table
from syncd.config import Settings


@given(st.text())
def test_a_toml_string_reads_back_as_written(value: str) -> None:
    assert tomllib.loads(f"key = {toml_string(value)}\n")["key"] == value


def test_the_config_text_is_what_the_schema_reads() -> None:
    answers = Answers(
        url="https://dav.example.org/dav/",
        username='ada "the first" \\ lovelace',
        addressbooks=["Friends", 'Work "old"', "/dav/ab\x7f/"],
        task_list="Keep in touch \u2014 \U0001f600\n",
        timezone="Europe/Berlin",
    )
    data = tomllib.loads(config_text(answers, Path("/home/ada/.config/syncd/password")))
    settings = Settings(**data)
    assert settings.server.username == answers.username
    assert settings.server.password_file == Path("/home/ada/.config/syncd/password")
    assert settings.contacts.addressbooks == answers.addressbooks
    assert settings.reminders.task_list == answers.task_list
    assert settings.schedule.timezone == "Europe/Berlin"
    assert "password" not in tomllib.loads(config_text(answers, None))["server"]


def test_the_machine_zone(tmp_path: Path) -> None:
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/America/Sao_Paulo")
    nothing = tmp_path / "no-timezone-file"
    assert machine_zone({"TZ": ":Asia/Tokyo"}, link, nothing) == "Asia/Tokyo"
    assert machine_zone({}, link, nothing) == "America/Sao_Paulo"
    assert machine_zone({"TZ": "Not/AZone"}, link, nothing) == "America/Sao_Paulo"
    (tmp_path / "timezone").write_text("Europe/Oslo\n")
    assert machine_zone({}, tmp_path / "no-link", tmp_path / "timezone") == "Europe/Oslo"
    assert machine_zone({}, tmp_path / "no-link", nothing) == "UTC"


def test_set_key_edits_one_line_of_the_table_and_nothing_else() -> None:
    text = '# mine\r\n[contacts]\r\naccount = "a"  # old\r\n\r\n[reminders]\r\ntask_list = "L"\r\n[schedule]\r\n'
    replaced = set_key(text, "contacts", "account", '"home"')
    assert replaced == text.replace('account = "a"  # old', 'account = "home"')
    added = set_key(text, "reminders", "account", '"home"')
    assert added == text.replace("[reminders]\r\n", '[reminders]\r\naccount = "home"\n')
    assert tomllib.loads(added)["reminders"] == {"account": "home", "task_list": "L"}
    appended = set_key("[server]\nurl = 'x'", "reminders", "account", '"home"')
    assert appended == "[server]\nurl = 'x'\n\n[reminders]\naccount = \"home\"\n"
    assert (
        set_key('[ "reminders" ]  # here', "reminders", "account", '"h"') == '[ "reminders" ]  # here\naccount = "h"\n'
    )


def test_without_table_takes_out_its_lines_only() -> None:
    text = '[server]\nurl = "x"\n[accounts."home"]\nurl = "y"\n\n[accounts.homes]\nurl = "z"\n'
    assert without_table(text, "accounts.home") == '[server]\nurl = "x"\n[accounts.homes]\nurl = "z"\n'
    assert without_table(text, "accounts.away") == text
