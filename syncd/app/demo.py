"""`syncd demo`: a local Radicale with ~300 generated contacts, and the whole job run against it."""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType

from syncd.app.config_file import LoadedConfig
from syncd.app.daemon import Daemon
from syncd.app.localserver import LocalRadicale
from syncd.app.output.tables import print_today
from syncd.app.wiring import open_session, parse_now
from syncd.config import Settings
from syncd.core.contacts import format_instant
from syncd.dav.client import DavClient
from syncd.engine import commands, insights
from syncd.engine.cycle import Cycle
from syncd.engine.writing import Writer
from syncd.insight.audit import headline

FIRST = [
    "Anna",
    "Ben",
    "Chloé",
    "David",
    "Elif",
    "Farah",
    "Gustav",
    "Hana",
    "Igor",
    "Jana",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Olu",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tomás",
    "Ursula",
    "Vikram",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoë",
    "Amara",
    "Björn",
    "Carmen",
    "Dmitri",
    "Emma",
    "Felix",
    "Grace",
    "Henrik",
    "Inés",
    "Jonas",
    "Kaito",
    "Laila",
    "Marek",
    "Noor",
    "Oscar",
    "Paula",
    "Rahul",
    "Sofia",
    "Theo",
    "Uma",
    "Valentina",
    "William",
    "Yara",
]
LAST = [
    "Andersson",
    "Bauer",
    "Chen",
    "Díaz",
    "Eriksen",
    "Fischer",
    "García",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "López",
    "Müller",
    "Nakamura",
    "Okafor",
    "Petrović",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Underwood",
    "Vargas",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zimmermann",
    "O'Brien",
    "Nguyen",
    "Dubois",
    "Novak",
    "Costa",
    "Larsen",
    "Moreau",
    "Singh",
    "Kim",
    "Silva",
    "Hoffmann",
    "Fernández",
    "Berg",
    "Ahmed",
]
ORGS = [
    ("Northwind Ventures", "Partner"),
    ("Acme Robotics", "CTO"),
    ("Blue Harbor Capital", "Investor"),
    ("City Hospital", "Cardiologist"),
    ("Lumen Labs", "Head of Product"),
    ("Open Source Foundation", "Maintainer"),
    ("Greenfield School", "Teacher"),
    ("Studio Nord", "Designer"),
    ("Fjord Analytics", "Data Scientist"),
    ("Helix Bio", "Founder"),
    ("", ""),
]
CATEGORIES = ["Friends", "Family", "Investors", "Mentors", "Clients", "Alumni", "Founders", "Neighbours"]
NOTES = [
    "Met at the Lisbon conference; loves sailing.",
    "Ask about the new job, started in spring.",
    "Introduced me to my first investor.",
    "Kids: Mia and Leo. Runs marathons.",
    "Wants to hear how the book is going.",
    "",
    "",
]

DEMO_CALENDAR = "Keep in touch — agenda"

# They end the demo (closing its terminal sends SIGHUP): it has no config to reload.
STOP_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)

# The demo's temporary folder: its name, and the file in it that names the demo's process and its server's.
FOLDER_PREFIX = "syncd-demo-"
OWNERS = "owners"

# (circle, share of contacts, interval days)
CIRCLES = [("1", 15, 14), ("2", 45, 30), ("3", 150, 90)]


def generate_cards(count: int, today: date, seed: int = 7) -> list[str]:
    """`count` realistic vCard 3.0 cards: 15/45/150 in circles 1/2/3, the rest untracked."""
    rng = random.Random(seed)
    cards = []
    plan: list[tuple[str, int] | None] = []
    for circle, size, days in CIRCLES:
        plan.extend([(circle, days)] * size)
    plan.extend([None] * max(count - len(plan), 0))
    for i, slot in enumerate(plan[:count]):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        org, title = rng.choice(ORGS)
        uid = f"demo-{i:04d}-{rng.getrandbits(32):08x}"
        lines = [
            "BEGIN:VCARD",
            "VERSION:3.0",
            "PRODID:-//syncd//demo//EN",
            f"UID:{uid}",
            f"FN:{first} {last}",
            f"N:{last};{first};;;",
            f"EMAIL;TYPE=INTERNET:{first.lower()}.{last.lower()}@example.org".replace("'", ""),
            f"TEL;TYPE=CELL:+49 151 {rng.randint(1000000, 9999999)}",
        ]
        if org:
            lines += [f"ORG:{org}", f"TITLE:{title}"]
        cats = rng.sample(CATEGORIES, rng.choice([0, 1, 1, 2]))
        if cats:
            lines.append("CATEGORIES:" + ",".join(cats))
        note = rng.choice(NOTES)
        if note:
            lines.append("NOTE:" + note.replace(",", "\\,").replace(";", "\\;"))
        if slot is not None:
            circle, days = slot
            lines.append(f"X-SYNCD-CIRCLE:{circle}")
            roll = rng.random()
            if roll < 0.15:
                pass  # never contacted
            else:
                ago = rng.randint(0, int(days * 2.2))
                when = datetime.combine(today - timedelta(days=ago), datetime.min.time(), tzinfo=UTC)
                when += timedelta(hours=rng.randint(8, 20))
                lines.append(f"X-SYNCD-LAST-CONTACT:{format_instant(when)}")
            if rng.random() < 0.03:
                lines.append(f"X-SYNCD-SNOOZE:{(today + timedelta(days=rng.randint(3, 30))).isoformat()}")
        lines.append("END:VCARD")
        cards.append("\r\n".join(lines) + "\r\n")
    return cards


def upload_addressbook(server: LocalRadicale, name: str, cards: list[str]) -> str:
    """Create the address book with all cards in one request (Radicale accepts a whole .vcf on PUT)."""
    url = f"{server.principal_url}contacts/"
    with DavClient(username=server.username, password=server.password, servers=(server.url,)) as client:
        client.request(
            "PUT",
            url,
            body="".join(cards).encode("utf-8"),
            headers={"Content-Type": "text/vcard; charset=utf-8"},
            ok=(201,),
        )
        body = (
            '<?xml version="1.0" encoding="utf-8"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop>'
            f"<d:displayname>{name}</d:displayname></d:prop></d:set></d:propertyupdate>"
        ).encode()
        client.request("PROPPATCH", url, body=body, headers={"Content-Type": "application/xml"}, ok=(207,))
    return url


def local_zone_name() -> str:
    if os.environ.get("TZ", "").count("/") == 1:
        return os.environ["TZ"]
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"


class Interrupted(BaseException):
    """A stop signal arrived before the demo's loop runs (the loop handles its own): unwind, clean up, exit."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process has that number now
        return True
    try:  # on Linux, a process that has ended but was not reaped yet (a zombie) is gone too
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def remove_stale_folders(parent: Path) -> list[Path]:
    """The temporary folders of earlier demos that ended with their server both killed outright (when only the
    demo is, its server removes the folder): this user's, whose processes are all gone. A folder without the
    owners file, or whose processes may still run, is left alone."""
    removed: list[Path] = []
    for folder in sorted(parent.glob(FOLDER_PREFIX + "*")):
        try:
            info = folder.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
                continue
            pids = [int(word) for word in (folder / OWNERS).read_text(encoding="ascii").split()]
        except (OSError, ValueError):
            continue
        if pids and not any(running(pid) for pid in pids):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextmanager
def first_cycle_quiet() -> Iterator[None]:
    """The first cycle's INFO lines (its summary, the reminders it created) are what the demo prints next, as a
    table: they are held back, unless --verbose asked for everything."""
    logger = logging.getLogger("syncd")
    level = logger.level
    if logger.getEffectiveLevel() == logging.INFO:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def run_demo(*, once: bool, host: str, port: int, count: int, now_arg: str | None) -> int:
    """The demo's server is its own child and never outlives it (syncd.app.localserver); SIGHUP, SIGTERM and
    SIGINT end the demo, its server and its temporary folder: exit 0 once it syncs in its loop (as `syncd run`),
    128 + the signal's number when it arrives while the demo is still starting."""
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)
    workdir: tempfile.TemporaryDirectory[str] | None = None
    server: LocalRadicale | None = None
    try:
        remove_stale_folders(Path(tempfile.gettempdir()))
        workdir = tempfile.TemporaryDirectory(prefix=FOLDER_PREFIX)
        root = Path(workdir.name)
        (root / OWNERS).write_text(f"{os.getpid()}\n", encoding="ascii")
        server = LocalRadicale(root / "radicale", host=host, port=port, remove_when_orphaned=root)
        return _run(server, root, once=once, host=host, count=count, now_arg=now_arg)
    except Interrupted as stop:
        return 128 + stop.signum
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)  # the cleanup is not cut short by a second signal
        if server is not None:
            server.stop()
        if workdir is not None:
            workdir.cleanup()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(server: LocalRadicale, root: Path, *, once: bool, host: str, count: int, now_arg: str | None) -> int:
    zone_name = local_zone_name()
    out = sys.stdout
    out.write(f"Starting a local Radicale on {host}:{server.port} ...\n")
    server.start()
    with (root / OWNERS).open("a", encoding="ascii") as owners:
        owners.write(f"{server.pid}\n")
    settings = Settings.model_validate(
        {
            "state_dir": root / "state",
            "server": {"url": server.url, "username": server.username, "password": server.password},
            "schedule": {"timezone": zone_name, "sync_every": "PT1M"},
            "reminders": {"calendar": DEMO_CALENDAR},
        }
    )
    now = parse_now(now_arg, settings.schedule.zone)
    today = now.astimezone(settings.schedule.zone).date()
    upload_addressbook(server, "Contacts", generate_cards(count, today))
    out.write(f"Loaded {count} sample contacts (15 in circle 1, 45 in circle 2, 150 in circle 3).\n\n")
    session = open_session(settings)
    try:
        with first_cycle_quiet():
            summary = Cycle(session, Writer(session)).run(now)
        items = commands.today(session, now)
        network = insights.run_audit(session, now)
    finally:
        session.close()
    out.write(f"One sync: {summary.line()}.\n\nToday ({today.isoformat()}, {zone_name}):\n")
    print_today(items, today, settings.schedule.zone, False, out)
    out.write(f"\nYour network: {headline(network)}\n{network.capacity.summary()}\n")
    shown = server.url if host in ("127.0.0.1", "localhost") else f"http://<this machine's address>:{server.port}/"
    out.write(
        '\nThe reminders are in the task list "Keep in touch", today\'s digest and the weekly and monthly\n'
        f'reviews in the calendar "{DEMO_CALENDAR}" on the demo server:\n'
        f"  CalDAV/CardDAV server  {shown}\n"
        f"  username               {server.username}\n"
        f"  password               {server.password}\n"
        "Add it as a CalDAV account in Thunderbird or DAVx5 (or on an iPhone: Settings > Calendar >\n"
        "Accounts > Add Account > Other > Add CalDAV Account) to see them"
        + (" — start with --host 0.0.0.0 to reach it from your LAN.\n" if host == "127.0.0.1" else ".\n")
    )
    if once:
        return 0
    out.write("\nsyncd keeps syncing every minute; tick reminders off and watch. Ctrl-C stops the demo.\n")
    out.flush()
    loaded = LoadedConfig(settings, None)
    return Daemon(lambda: loaded, now_arg, hangup_stops=True).run()
