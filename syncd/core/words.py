"""Counted nouns in what users read: `counted(1, "card")` is "1 card", `counted(2, "card")` is "2 cards"."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun, singular for exactly one; `plural` when adding "s" is wrong ("person", "people")."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
