"""Logging: formats for a terminal and for journald; secrets masked in messages and tracebacks alike."""

from __future__ import annotations

import io
import logging
import re

from syncd.app import logs


def emit(formatter: logging.Formatter, message: str, *args: object, level: int = logging.ERROR) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(logs.SECRETS)
    logger = logging.getLogger(f"test-logs-{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("server said: Authorization: Basic YWxpY2U6cGFzc3dvcmQtaW4tdHJhY2U= and pw-in-trace-42")
        except RuntimeError:
            logger.log(level, message, *args, exc_info=True)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_terminal_format_has_timestamps_and_no_traceback_without_verbose() -> None:
    out = emit(logs.NoTracebackFormatter("%(asctime)s %(levelname)-7s %(message)s", False, "%Y-%m-%d %H:%M:%S"), "x")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ERROR   x\n", out), out


def test_journal_format_prefixes_every_line_and_masks_the_traceback() -> None:
    logs.add_secret("pw-in-trace-42")
    out = emit(logs.JournalFormatter("%(message)s", True), "failed for %s", "pw-in-trace-42")
    lines = out.splitlines()
    assert lines[0] == "<3>failed for ***"
    assert all(line.startswith("<3>") for line in lines)
    assert "Traceback" in out, "with --verbose the traceback is shown"
    assert "pw-in-trace-42" not in out and "YWxpY2U6" not in out
    assert "Authorization: ***" in out


def test_mask_covers_header_values_and_tokens() -> None:
    text = logs.mask("{'Authorization': 'Basic dXNlcjpzZWNyZXQ=', 'Accept': '*/*'} Bearer abc.def.ghi123 done")
    assert text == "{'Authorization': '***', 'Accept': '*/*'} Bearer *** done"
