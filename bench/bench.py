"""How fast is syncd at 500 / 2,000 / 5,000 contacts, against the physical floor and against vdirsyncer?

    python bench/bench.py                      # all sizes, both servers (the first run uploads; cached after)
    python bench/bench.py --sizes 500 --servers radicale

For each server (Radicale and Xandikos on 127.0.0.1) and size it builds an address book of generated vCard
3.0 contacts, some with ~20 KB photos, once: the populated server store is kept in bench/.cache/ and copied
for every run, because uploading is slow. Then it measures, and prints one table:

- floor: PROPFIND getetag + one addressbook-multiget of every card, plain HTTP (what any client must pay)
- REPORTs: one sync-collection REPORT per collection with a current token (what a no-change check must pay),
  best of three
- first: syncd's first cycle on a fresh state, in-process (time, requests) and its whole process's peak RSS
- quiet: a no-change cycle in-process (a new session, as the daemon makes one per cycle; the best of the
  three that follow the cycle which reads syncd's own first writes) and as a whole `syncd sync` process
  (interpreter start, imports, config, state, network). The server's own answer to the same REPORT varies
  from run to run by more than syncd adds (Xandikos: 0.045-0.12 s at 5,000 cards), so both sides are the
  best of several.
- 10 changed: a cycle after 10 cards were edited on the server
- idle RSS: a `syncd run` daemon after its first cycle: a quiet one (nothing changed since the last), and
  one that read 10 changed cards
- vdirsyncer first and no-change sync of the same address book to a local directory, when installed
  (`pip install -e '.[bench]'`)

Each time is the best of `--repeat` runs (default 3). It is a benchmark, not a test: figures depend on the
machine and its load.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from syncd.app.demo import generate_cards  # noqa: E402
from syncd.app.localserver import LocalRadicale, free_port, stop_process, wait_for_port  # noqa: E402

CACHE = ROOT / "bench" / ".cache"
TODAY = date(2026, 11, 22)
NOW = "2026-11-22T09:00"
PHOTO_SHARE = 0.1
PHOTO_BYTES = 15_000  # ~20 KB once base64-encoded
USER, PASSWORD = "bench", "bench-Pa55word"


# Data ---------------------------------------------------------------------------------------------


def fold(line: str) -> str:
    out, rest = [], line
    while len(rest) > 75:
        out.append(rest[:75])
        rest = " " + rest[75:]
    out.append(rest)
    return "\r\n".join(out)


def cards(count: int) -> list[str]:
    rng = random.Random(count)
    out = []
    for text in generate_cards(count, TODAY, seed=count):
        if rng.random() < PHOTO_SHARE:
            photo = base64.b64encode(rng.randbytes(PHOTO_BYTES)).decode()
            text = text.replace("END:VCARD", fold(f"PHOTO;ENCODING=b;TYPE=JPEG:{photo}") + "\r\nEND:VCARD")
        out.append(text)
    return out


# Servers ------------------------------------------------------------------------------------------


@dataclass
class Server:
    kind: str
    root: Path
    url: str = ""
    ab_url: str = ""
    auth: tuple[str, str] | None = None
    process: Any = None

    def start(self) -> Server:
        if self.kind == "radicale":
            server = LocalRadicale(self.root, username=USER, password=PASSWORD).start()
            self.process, self.url, self.auth = server, server.url, (USER, PASSWORD)
            self.ab_url = f"{server.url}{USER}/contacts/"
        else:
            port = free_port()
            args = [
                sys.executable,
                "-m",
                "xandikos",
                "serve",
                "-d",
                str(self.root / "store"),
                "--defaults",
                "--no-detect-systemd",
                "-l",
                "127.0.0.1",
                "-p",
                str(port),
                "--current-user-principal",
                "/user/",
            ]
            log = open(self.root / "xandikos.log", "ab")  # noqa: SIM115
            proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()
            wait_for_port("127.0.0.1", port, proc)
            self.process, self.url = proc, f"http://127.0.0.1:{port}/"
            self.ab_url = f"{self.url}user/contacts/bench/"
        return self

    def stop(self) -> None:
        if isinstance(self.process, LocalRadicale):
            self.process.stop()
        elif self.process is not None:
            stop_process(self.process)
        self.process = None

    def http(self, method: str, url: str, body: bytes | str | None = None, **headers: str) -> requests.Response:
        data = body.encode() if isinstance(body, str) else body
        return requests.request(method, url, data=data, headers=headers, auth=self.auth, timeout=600)


def populate(kind: str, size: int) -> Path:
    """The server store with `size` cards, made once and kept in bench/.cache."""
    store = CACHE / f"{kind}-{size}"
    if (store / "ready").exists():
        return store
    shutil.rmtree(store, ignore_errors=True)
    store.mkdir(parents=True)
    server = Server(kind, store).start()
    started = time.monotonic()
    try:
        mkcol = (
            '<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set>'
            "<d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype>"
            "<d:displayname>Bench</d:displayname></d:prop></d:set></d:mkcol>"
        )
        if kind == "radicale":  # one PUT of the whole address book
            r = server.http("PUT", server.ab_url, "".join(cards(size)), **{"Content-Type": "text/vcard"})
            assert r.status_code == 201, r.text
            prop = "<d:set><d:prop><d:displayname>Bench</d:displayname></d:prop></d:set>"
            server.http("PROPPATCH", server.ab_url, f'<d:propertyupdate xmlns:d="DAV:">{prop}</d:propertyupdate>')
        else:
            r = server.http("MKCOL", server.ab_url, mkcol, **{"Content-Type": "application/xml"})
            assert r.status_code == 201, r.text
            with requests.Session() as session:
                for i, text in enumerate(cards(size)):
                    r = session.put(
                        f"{server.ab_url}c{i:05d}.vcf",
                        data=text.encode(),
                        headers={"Content-Type": "text/vcard"},
                        timeout=600,
                    )
                    assert r.status_code in (201, 204), r.text
        # A server that clients sync with has its sync-token history built already; build it once here
        # too (Radicale writes it on the first token request), so that every run does not pay for it.
        sync = '<d:sync-collection xmlns:d="DAV:"><d:sync-token/><d:sync-level>1</d:sync-level>'
        sync += "<d:prop/></d:sync-collection>"
        server.http("REPORT", server.ab_url, sync, Depth="0", **{"Content-Type": "application/xml"})
    finally:
        server.stop()
    (store / "ready").write_text(f"{time.monotonic() - started:.0f} s to upload\n")
    return store


# Measuring ----------------------------------------------------------------------------------------


class RssPopen(subprocess.Popen):  # type: ignore[type-arg]
    """A Popen that keeps the child's peak RSS (KiB, from wait4) when it is reaped."""

    peak_rss = 0

    def _try_wait(self, wait_flags: int) -> tuple[int, int]:
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return self.pid, 0
        if pid:
            self.peak_rss = usage.ru_maxrss
        return pid, status


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """Wall time, peak RSS (KiB) and stdout of a child process."""
    started = time.monotonic()
    proc = RssPopen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out, err = proc.communicate()
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{args[:4]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return seconds, proc.peak_rss, out.decode()


def floor(server: Server) -> tuple[float, float]:
    """(PROPFIND + one multiget of everything, one sync-collection REPORT with a current token)."""
    with requests.Session() as s:
        s.auth = server.auth
        t0 = time.monotonic()
        r = s.request(
            "PROPFIND",
            server.ab_url,
            headers={"Depth": "1", "Content-Type": "application/xml"},
            data=b'<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>',
        )
        hrefs = [h for h in re.findall(r"<(?:\w+:)?href>([^<]+)</", r.text) if h.endswith(".vcf")]
        body = (
            '<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav">'
            "<d:prop><d:getetag/><c:address-data/></d:prop>"
            + "".join(f"<d:href>{h}</d:href>" for h in hrefs)
            + "</c:addressbook-multiget>"
        )
        r = s.request(
            "REPORT", server.ab_url, data=body.encode(), headers={"Depth": "1", "Content-Type": "application/xml"}
        )
        assert r.status_code == 207 and len(r.content) > 1000
        full = time.monotonic() - t0
        sync = (
            '<d:sync-collection xmlns:d="DAV:"><d:sync-token>{}</d:sync-token><d:sync-level>1</d:sync-level>'
            "<d:prop><d:getetag/></d:prop></d:sync-collection>"
        )
        r = s.request(
            "REPORT",
            server.ab_url,
            data=sync.format("").encode(),
            headers={"Depth": "0", "Content-Type": "application/xml"},
        )
        token = re.findall(r"sync-token>([^<]+)</", r.text)[-1]
        t0 = time.monotonic()
        r = s.request(
            "REPORT",
            server.ab_url,
            data=sync.format(token).encode(),
            headers={"Depth": "0", "Content-Type": "application/xml"},
        )
        assert r.status_code == 207
        report = time.monotonic() - t0
    return full, report


def bare_reports(server: Server, work: Path) -> float:
    """One sync-collection REPORT per collection syncd reads, with the tokens syncd stored: the least a
    no-change cycle can cost."""
    import sqlite3

    db = sqlite3.connect(work / "state" / "state.sqlite3")
    rows = db.execute("SELECT url, token FROM sync_collections WHERE token IS NOT NULL").fetchall()
    db.close()
    body = (
        '<d:sync-collection xmlns:d="DAV:"><d:sync-token>{}</d:sync-token><d:sync-level>1</d:sync-level>'
        "<d:prop><d:getetag/></d:prop></d:sync-collection>"
    )
    total = 0.0
    with requests.Session() as s:
        s.auth = server.auth
        for url, token in rows:
            t0 = time.monotonic()
            r = s.request(
                "REPORT",
                url,
                data=body.format(token).encode(),
                headers={"Depth": "0", "Content-Type": "application/xml"},
            )
            assert r.status_code == 207, r.status_code
            total += time.monotonic() - t0
    return total


def config(server: Server, work: Path) -> Path:
    lines = [f'state_dir = "{work / "state"}"', "[server]", f'url = "{server.url}"']
    if server.auth:
        lines += [f'username = "{server.auth[0]}"', f'password = "{server.auth[1]}"']
    lines += [
        "timeout = 120",
        "[contacts]",
        'addressbooks = ["Bench"]',
        "[reminders]",
        'task_list = "Keep in touch"',
        "[schedule]",
        'timezone = "Europe/Berlin"',
        'sync_every = "PT1H"',
    ]
    path = work / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


CHILD = """
import json, sys, time
from syncd.app.wiring import open_session, parse_now
from syncd.app.config_file import load_config
from syncd.engine.cycle import Cycle
from syncd.engine.writing import Writer
settings = load_config(sys.argv[1]).settings
now = parse_now(sys.argv[2], settings.schedule.zone)
cycles = int(sys.argv[3])
out = []
for _ in range(cycles):
    session = open_session(settings)
    t0 = time.monotonic()
    summary = Cycle(session, Writer(session)).run(now)
    out.append({"seconds": time.monotonic() - t0, "requests": dict(session.clients.counts())})
    session.close()
print(json.dumps(out))
"""


def in_process(cfg: Path, cycles: int) -> tuple[list[dict[str, Any]], int]:
    """`cycles` sync cycles in one process (a new session each, as the daemon does); peak RSS of it."""
    _, rss, out = run([sys.executable, "-c", CHILD, str(cfg), NOW, str(cycles)])
    return json.loads(out.strip().splitlines()[-1]), rss


def whole_process(cfg: Path) -> tuple[float, int]:
    seconds, rss, _ = run([sys.executable, "-m", "syncd", "--config", str(cfg), "--now", NOW, "sync"])
    return seconds, rss


def idle_rss(cfg: Path) -> int:
    """VmRSS of `syncd run` once its first cycle is done (KiB)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "syncd", "--config", str(cfg), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "sync:" in line:
                break
        time.sleep(0.5)
        status = Path(f"/proc/{proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.wait()


def change_cards(server: Server, n: int) -> None:
    with requests.Session() as s:
        s.auth = server.auth
        r = s.request(
            "PROPFIND",
            server.ab_url,
            headers={"Depth": "1", "Content-Type": "application/xml"},
            data=b'<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>',
        )
        hrefs = sorted(h for h in re.findall(r"<(?:\w+:)?href>([^<]+)</", r.text) if h.endswith(".vcf"))
        origin = server.url.rstrip("/")
        for href in random.Random(n).sample(hrefs, n):
            got = s.get(origin + href)
            text = got.text.replace("\r\nEND:VCARD", f"\r\nNOTE:changed {time.time()}\r\nEND:VCARD")
            text = re.sub(r"\r\nNOTE:[^\r]*(?=\r\nNOTE:changed)", "", text)
            put = s.put(
                origin + href,
                data=text.encode(),
                headers={"If-Match": got.headers["ETag"], "Content-Type": "text/vcard"},
            )
            assert put.status_code in (200, 201, 204), put.text


def vdirsyncer(server: Server, work: Path) -> tuple[float, float, int] | None:
    exe = shutil.which("vdirsyncer") or str(Path(sys.executable).parent / "vdirsyncer")
    if not Path(exe).exists():
        return None
    vdir = work / "vdir"
    vdir.mkdir()
    auth = f'username = "{server.auth[0]}"\npassword = "{server.auth[1]}"\n' if server.auth else ""
    (work / "vdirsyncer.conf").write_text(
        f'[general]\nstatus_path = "{work / "vstatus"}"\n\n'
        '[pair bench]\na = "local"\nb = "remote"\ncollections = null\n\n'
        f'[storage local]\ntype = "filesystem"\npath = "{vdir}"\nfileext = ".vcf"\n\n'
        f'[storage remote]\ntype = "carddav"\nurl = "{server.ab_url}"\n{auth}'
    )
    env = dict(os.environ, VDIRSYNCER_CONFIG=str(work / "vdirsyncer.conf"))
    run([exe, "discover", "bench"], env)
    first, rss, _ = run([exe, "sync"], env)
    quiet, _, _ = run([exe, "sync"], env)
    return first, quiet, rss


@dataclass
class Row:
    kind: str
    size: int
    values: dict[str, Any] = field(default_factory=dict)


def measure(kind: str, size: int, repeat: int) -> Row:
    store = populate(kind, size)
    row = Row(kind, size)
    best: dict[str, float] = {}

    def keep(key: str, value: float) -> None:
        best[key] = min(best.get(key, value), value)

    for _ in range(repeat):
        work = Path(tempfile.mkdtemp(prefix="syncd-bench-"))
        try:
            shutil.copytree(store, work / "server", ignore=shutil.ignore_patterns("ready", "*.log"))
            server = Server(kind, work / "server").start()
            try:
                full, report = floor(server)
                keep("floor", full)
                keep("ab_report", report)
                cfg = config(server, work)
                [first], first_rss = in_process(cfg, 1)
                keep("first", first["seconds"])
                row.values["first_rss"] = max(row.values.get("first_rss", 0), first_rss)
                cycles, quiet_rss = in_process(cfg, 4)
                for quiet in cycles[1:]:
                    keep("quiet", quiet["seconds"])
                for _ in range(3):
                    keep("report", bare_reports(server, work))
                row.values["quiet_requests"] = cycles[-1]["requests"]
                seconds, whole_rss = whole_process(cfg)
                keep("whole", seconds)
                change_cards(server, 10)
                [changed], _ = in_process(cfg, 1)
                keep("changed", changed["seconds"])
                row.values["changed_requests"] = changed["requests"]
                row.values["idle_rss"] = max(row.values.get("idle_rss", 0), idle_rss(cfg))
                change_cards(server, 10)
                row.values["idle_rss_changed"] = max(row.values.get("idle_rss_changed", 0), idle_rss(cfg))
                row.values["peak_rss"] = max(row.values.get("peak_rss", 0), first_rss, quiet_rss, whole_rss)
                vs = vdirsyncer(server, work)
                if vs is not None:
                    keep("v_first", vs[0])
                    keep("v_quiet", vs[1])
                    row.values["v_rss"] = max(row.values.get("v_rss", 0), vs[2])
            finally:
                server.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    row.values.update(best)
    return row


def table(rows: list[Row]) -> str:
    def s(v: float | None) -> str:
        return "—" if v is None else f"{v:.2f} s"

    def mb(v: int | None) -> str:
        return "—" if not v else f"{v / 1024:.0f} MB"

    def reqs(counts: dict[str, int]) -> str:
        return "+".join(f"{n} {m}" for m, n in sorted(counts.items()))

    head = [
        "server",
        "cards",
        "floor",
        "first (×floor)",
        "no-change in-process (×bare REPORTs, requests)",
        "no-change `syncd sync`",
        "10 changed",
        "peak RSS",
        "idle RSS (quiet / after a change)",
        "vdirsyncer first / no-change / RSS",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        v = row.values
        vd = "not installed"
        if "v_first" in v:
            vd = f"{s(v['v_first'])} / {s(v['v_quiet'])} / {mb(v['v_rss'])}"
            vd += f" (syncd first {v['first'] / v['v_first']:.2f}×, no-change process {v['whole'] / v['v_quiet']:.2f}×)"
        lines.append(
            "| "
            + " | ".join(
                [
                    row.kind,
                    str(row.size),
                    s(v["floor"]),
                    f"{s(v['first'])} ({v['first'] / v['floor']:.2f}×)",
                    f"{s(v['quiet'])} ({v['quiet'] / v['report']:.2f}× of {s(v['report'])}, "
                    f"{reqs(v['quiet_requests'])})",
                    s(v["whole"]),
                    f"{s(v['changed'])} ({reqs(v['changed_requests'])})",
                    mb(v["peak_rss"]),
                    f"{mb(v['idle_rss'])} / {mb(v.get('idle_rss_changed'))}",
                    vd,
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="500,2000,5000")
    parser.add_argument("--servers", default="radicale,xandikos")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    args = parser.parse_args()
    rows = []
    for kind in args.servers.split(","):
        for size in [int(n) for n in args.sizes.split(",")]:
            print(f"measuring {kind} with {size} cards ...", file=sys.stderr, flush=True)
            rows.append(measure(kind, size, args.repeat))
    print(table(rows))
    if args.json:
        print(json.dumps([{"server": r.kind, "cards": r.size, **r.values} for r in rows], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
