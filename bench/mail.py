"""How fast does syncd read a Sent folder of 50,000 messages (`[mail]`), against the floor?

    python bench/mail.py                  # 50,000 messages, best of 3
    python bench/mail.py --messages 5000 --repeat 5

It starts Dovecot (Debian `dovecot-imapd`; the test suite's server, tests/mailserver.py) on 127.0.0.1 and
writes the messages as maildir files into its Sent folder (headers as a mail client writes them: Date, From, To,
sometimes Cc, Subject, Message-ID, and a short body), addressed to 5,000 people over the last 80 days. Dovecot
indexes the folder once before anything is measured. Then, each the best of `--repeat` runs:

- floor: one `EXAMINE` and one raw `UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (DATE TO CC BCC)])` over the folder
  from plain Python (imaplib: login, fetch, logout), the answer read and not parsed
- first scan: syncd's scan (`syncd.imap.mailbox.scan`) on a fresh state, in a child process: STATUS, EXAMINE,
  UID SEARCH SENTSINCE, the header fields read as they stream in, each message parsed, the addresses kept in the state;
  and that process's peak RSS (the interpreter and syncd's imports included)
- bare STATUS: login, one `STATUS (UIDVALIDITY UIDNEXT)`, logout, plain imaplib: what asking "anything new?" costs
- no new mail: syncd's scan again on that state (nothing is fetched: login, STATUS, logout), in the benchmark's
  own process like the bare STATUS (the daemon's case: a process that has connected before)

It is a benchmark, not a test: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import imaplib
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import run  # noqa: E402  (bench/bench.py, beside this file)
from tests.mailserver import PASSWORD, USER, Dovecot, start_dovecot  # noqa: E402

SENT = "Sent Messages"
NOW = datetime(2026, 11, 22, 9, tzinfo=UTC)
PEOPLE = 5000

CHILD = """
import json, sys, time
from datetime import datetime, timedelta
from pathlib import Path
from syncd.config import MailConfig
from syncd.imap import mailbox
from syncd.store.state import State
config = MailConfig(url=sys.argv[1], username=sys.argv[2], password=sys.argv[3])
now = datetime.fromisoformat(sys.argv[5])
state = State.in_dir(Path(sys.argv[4]))
since = now.date() - timedelta(days=91)
started = time.perf_counter()
scan = mailbox.scan(config, config.resolve_password(), state, since, now)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "fetched": scan.fetched, "counted": scan.counted}))
"""


def populate(server: Dovecot, count: int) -> None:
    folder = server.root / "home" / USER / "Maildir" / f".{SENT}"
    for sub in ("cur", "new", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "maildirfolder").touch()
    rng = random.Random(count)
    for i in range(count):
        when = NOW - timedelta(seconds=rng.randrange(80 * 86400))
        to = rng.randrange(PEOPLE)
        lines = [
            f"Date: {format_datetime(when)}",
            "From: Me <me@example.org>",
            f"To: Person {to} <person{to}@example.org>",
        ]
        if rng.random() < 0.2:
            lines.append(f"Cc: person{rng.randrange(PEOPLE)}@example.org")
        lines += [f"Subject: message {i}", f"Message-ID: <{i}.bench@example.org>", "", "Hello,", "", "see you.", ""]
        path = folder / "cur" / f"{int(when.timestamp())}.{i}.bench:2,S"
        path.write_bytes("\r\n".join(lines).encode())
        os.utime(path, (when.timestamp(), when.timestamp()))
    if os.geteuid() == 0:
        owner = server.root.stat()
        for dirpath, _dirs, files in os.walk(server.root / "home"):
            os.chown(dirpath, owner.st_uid, owner.st_gid)
            for name in files:
                os.chown(os.path.join(dirpath, name), owner.st_uid, owner.st_gid)


def floor(server: Dovecot) -> float:
    started = time.perf_counter()
    conn = imaplib.IMAP4("127.0.0.1", server.port)
    conn.login(USER, PASSWORD)
    conn.select(f'"{SENT}"', readonly=True)
    typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (DATE TO CC BCC)])")
    assert typ == "OK" and data
    conn.logout()
    return time.perf_counter() - started


def bare_status(server: Dovecot) -> float:
    started = time.perf_counter()
    conn = imaplib.IMAP4("127.0.0.1", server.port)
    conn.login(USER, PASSWORD)
    typ, _ = conn.status(f'"{SENT}"', "(UIDVALIDITY UIDNEXT)")
    assert typ == "OK"
    conn.logout()
    return time.perf_counter() - started


def scan(server: Dovecot, state_dir: Path) -> tuple[dict[str, float], int]:
    _, rss, out = run([sys.executable, "-c", CHILD, server.url, USER, PASSWORD, str(state_dir), NOW.isoformat()])
    return json.loads(out.strip().splitlines()[-1]), rss


def quiet_scan(server: Dovecot, state_dir: Path) -> float:
    """syncd's scan with nothing new, in this process (as the daemon's cycles run, and as bare_status is)."""
    from syncd.config import MailConfig
    from syncd.imap import mailbox
    from syncd.store.state import State

    config = MailConfig(url=server.url, username=USER, password=PASSWORD)
    state = State.in_dir(state_dir)
    try:
        started = time.perf_counter()
        found = mailbox.scan(config, PASSWORD, state, (NOW - timedelta(days=91)).date(), NOW)
        seconds = time.perf_counter() - started
    finally:
        state.close()
    assert found.fetched == 0, found
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    server = start_dovecot()
    try:
        print(f"writing {args.messages} messages ...", file=sys.stderr, flush=True)
        populate(server, args.messages)
        floor(server)  # Dovecot indexes the folder once
        figures: dict[str, float] = {}

        def best(key: str, value: float) -> None:
            figures[key] = min(figures.get(key, value), value)

        rss = 0
        for _ in range(args.repeat):
            best("floor", floor(server))
            with tempfile.TemporaryDirectory() as work:
                first, first_rss = scan(server, Path(work))
                assert first["fetched"] == args.messages, first
                best("first", first["seconds"])
                rss = max(rss, first_rss)
                for _ in range(3):
                    best("status", bare_status(server))
                    best("quiet", quiet_scan(server, Path(work)))
        figures["first_rss_mb"] = rss / 1024
    finally:
        server.stop()
    print(
        "| messages | floor (raw UID FETCH) | first scan | ratio | bare STATUS | no new mail | ratio | "
        "first scan peak RSS |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.messages:,} | {figures['floor']:.2f} s | {figures['first']:.2f} s | "
        f"{figures['first'] / figures['floor']:.2f}× | {figures['status'] * 1000:.1f} ms | "
        f"{figures['quiet'] * 1000:.1f} ms | {figures['quiet'] / figures['status']:.2f}× | "
        f"{figures['first_rss_mb']:.0f} MB |"
    )
    if args.json:
        print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
