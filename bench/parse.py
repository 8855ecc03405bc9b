"""How long reading one card takes: parse, cache encode and decode, per card at 5,000 generated contacts.

    python bench/parse.py [--count 5000] [--repeat 5]

The cards are `bench/bench.py`'s (vCard 3.0, ~10% with ~20 KB photos). Rows, each the best of `--repeat`
runs, in µs per card:
- contact_from_card on the whole text, photos included
- contact_from_card on the text without binary properties (what a sync parses: `members.without_binary`)
- members.parse_card (without_binary + contact_from_card, as a sync calls it)
- codec.encode / codec.decode of the parsed contact
It is a benchmark, not a test: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench import cards  # noqa: E402
from syncd.core.contacts import Card, contact_from_card  # noqa: E402
from syncd.store import codec, members  # noqa: E402


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    texts = cards(args.count)
    whole = [Card(f"/ab/{i}.vcf", f'"{i}"', t, "Contacts") for i, t in enumerate(texts)]
    stripped = [Card(c.href, c.etag, members.without_binary(c.text), c.addressbook) for c in whole]
    parsed = [members.parse_card(c.href, c.etag, c.text, c.addressbook) for c in whole]
    encoded = [codec.encode(p) for p in parsed]
    rows = [
        ("contact_from_card, photos included", lambda: [contact_from_card(c) for c in whole]),
        ("contact_from_card, binary stripped", lambda: [contact_from_card(c) for c in stripped]),
        (
            "members.parse_card (strip + parse)",
            lambda: [members.parse_card(c.href, c.etag, c.text, "C") for c in whole],
        ),
        ("codec.encode", lambda: [codec.encode(p) for p in parsed]),
        ("codec.decode", lambda: [codec.decode(members.CARD, "/h", "e", e) for e in encoded]),
    ]
    photos = sum(1 for t in texts if "PHOTO" in t)
    print(f"{args.count} cards ({photos} with photos), best of {args.repeat}")
    print(f"{'step':<40} {'µs/card':>9} {'total s':>9}")
    for label, fn in rows:
        seconds = best(fn, args.repeat)
        print(f"{label:<40} {seconds / args.count * 1e6:>9.1f} {seconds:>9.3f}")


if __name__ == "__main__":
    main()
