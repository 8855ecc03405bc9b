"""The memo of a cycle that wrote nothing (see syncd.engine.quiet): kept in the state's meta table."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from syncd.store.state import State

log = logging.getLogger("syncd")

MEMO_KEY = "quiet-cycle"


@dataclass(slots=True)
class Memo:
    digest: str
    summary: dict[str, int]  # Summary fields that describe the outcome (counts)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (logger name, message)
    tokens: dict[str, str] = field(default_factory=dict)  # collections outside the read cache (events): url -> token


def load(state: State) -> Memo | None:
    raw = state.get_meta(MEMO_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return Memo(
            str(data["digest"]),
            {str(k): int(v) for k, v in data["summary"].items()},
            [(str(name), str(message)) for name, message in data["warnings"]],
            {str(url): str(token) for url, token in data.get("tokens", {}).items()},
        )
    except (ValueError, TypeError, KeyError) as err:
        log.debug("the quiet-cycle memo does not decode (%s); ignored", err)
        return None


def save(state: State, memo: Memo | None) -> None:
    """Keep the memo (None: forget any earlier one, the next cycle runs in full)."""
    if memo is None:
        if state.get_meta(MEMO_KEY) is not None:
            state.delete_meta(MEMO_KEY)
        return
    data = {"digest": memo.digest, "summary": memo.summary, "warnings": memo.warnings, "tokens": memo.tokens}
    state.set_meta(MEMO_KEY, json.dumps(data))
