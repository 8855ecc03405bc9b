"""Messages in IMAP folders, read for their header fields only (the standard library's imaplib).

Private by construction: each folder is opened with EXAMINE (read-only), and messages are read with
`UID FETCH … (BODY.PEEK[HEADER.FIELDS (DATE TO CC BCC)])` (FROM too with `count_received`): never a body, and
PEEK sets no \\Seen flag (the few messages dated in the future are asked their INTERNALDATE, their arrival, in
one more FETCH). Nothing is ever stored, copied, moved or expunged. The connection is TLS (`imaps://`) or STARTTLS
(`imap://`), which may be left out only on a loopback address.

Incremental: per folder the state keeps UIDVALIDITY and the highest UID read (and HIGHESTMODSEQ where the server
offers CONDSTORE). A cycle first asks `STATUS (UIDVALIDITY UIDNEXT)`; when neither moved, the folder is not even
opened. New messages are those above the last UID; a new UIDVALIDITY reads the folder afresh. A first read (or
a fresh one) asks `UID SEARCH SENTSINCE` (by the Date header, which is what counts) the first day the longest
interval reaches back to, not the whole folder.

A folder named "Sent" that does not exist by that name is the folder marked `\\Sent` (RFC 6154 SPECIAL-USE),
when the server marks one (found by LIST once; the next scans ask STATUS of the folders found). A folder that
cannot be found is a warning naming it; the other folders are read.
"""

from __future__ import annotations

import contextlib
import imaplib
import io
import ipaddress
import json
import logging
import re
import ssl
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

from syncd.config import MailConfig
from syncd.core import mail
from syncd.store.state import MailFolder, State

log = logging.getLogger("syncd.imap")


def headers(count_received: bool) -> str:
    """The FETCH item: the header fields needed, never a body (PEEK: no \\Seen flag set)."""
    return f"BODY.PEEK[HEADER.FIELDS ({' '.join(mail.WITH_SENDERS if count_received else mail.RECIPIENTS)})]"


RUNS = 500  # runs of UIDs per FETCH command
BATCH = 1000  # messages read before they are parsed (a few hundred KB at most)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class MailError(Exception):
    """The mail server cannot be reached, refuses the login or answers an error: the mail part of a cycle fails,
    the rest goes on."""


@dataclass
class Scan:
    """What one scan did."""

    folders: list[str] = field(default_factory=list)  # the folders read (server names)
    missing: list[str] = field(default_factory=list)  # configured names not found
    fetched: int = 0  # messages whose header fields were fetched
    counted: int = 0  # messages that counted
    skipped: Counter[str] = field(default_factory=Counter)  # why others were skipped (keys of mail.SKIPS)


def account_key(config: MailConfig) -> str:
    """What the state's mail rows belong to: the server, the user, and whether From is read (switching
    `count_received` on reads the folders afresh, From included; without it From is never fetched)."""
    return f"{config.url.rstrip('/')}|{config.username}|{'from' if config.count_received else 'to'}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)


def connect(config: MailConfig, password: str | None) -> imaplib.IMAP4:
    """A logged-in connection; MailError saying why not."""
    parts = urlsplit(config.url)
    host = parts.hostname or ""
    secure = parts.scheme == "imaps"
    try:
        port = parts.port or (993 if secure else 143)
    except ValueError as err:
        raise MailError(f"mail.url: {err}") from err
    try:
        if secure:
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                host, port, ssl_context=_context(config.verify_tls), timeout=config.timeout
            )
        else:
            conn = imaplib.IMAP4(host, port, timeout=config.timeout)
    except (OSError, imaplib.IMAP4.error) as err:
        raise MailError(f"cannot reach {host}:{port}: {_text(err)}") from err
    try:
        if not secure:
            if "STARTTLS" in conn.capabilities:
                conn.starttls(_context(config.verify_tls))
            elif not _loopback(host):
                raise MailError(f"{host}:{port} offers no STARTTLS; syncd sends a password only over TLS")
        conn.login(config.username, password or "")
        # After the login a server may offer more (CONDSTORE): most say so in the answer to LOGIN, which
        # imaplib keeps as an untagged CAPABILITY.
        said = conn.untagged_responses.pop("CAPABILITY", None)
        if said and isinstance(said[-1], bytes):
            conn.capabilities = tuple(said[-1].decode("ascii", "replace").upper().split())
        else:
            typ, data = conn.capability()
            if typ == "OK" and data and isinstance(data[0], bytes):
                conn.capabilities = tuple(data[0].decode("ascii", "replace").upper().split())
    except (OSError, imaplib.IMAP4.error, MailError) as err:
        with contextlib.suppress(OSError):
            conn.shutdown()
        if isinstance(err, MailError):
            raise
        raise MailError(f"cannot log in to {host}:{port}: {_text(err)}") from err
    return conn


def _text(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text[2:-1] if text.startswith("b'") and text.endswith("'") else text


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


_LIST = re.compile(rb'^\((?P<flags>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$')


def _folders(conn: imaplib.IMAP4) -> dict[str, set[str]]:
    """Every folder's name -> its flags (lower-cased, with the RFC 6154 special-use ones where offered)."""
    typ, data = conn.list()
    if typ != "OK":
        raise MailError(f"LIST failed: {data!r}")
    out: dict[str, set[str]] = {}
    for item in data:
        if isinstance(item, tuple):  # a name sent as a literal: (b'(flags) "/" {5}', b'name')
            match = _LIST.match(item[0])
            name = item[1].decode("utf-8", "replace")
        elif isinstance(item, bytes):
            match = _LIST.match(item)
            name = match.group("name").decode("utf-8", "replace") if match else ""
            if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        else:
            continue
        if match is not None and name:
            out[name] = {f.lower() for f in match.group("flags").decode("ascii", "replace").split()}
    return out


def resolve_folders(conn: imaplib.IMAP4, names: Iterable[str], scan: Scan) -> list[str]:
    """The server's folders for the configured names ("Sent" also finds the folder marked \\Sent)."""
    found = _folders(conn)
    out: list[str] = []
    for name in names:
        if name in found:
            chosen: str | None = name
        else:
            chosen = next((f for f in found if f.lower() == name.lower()), None)
            if chosen is None and name.lower() == "sent":
                chosen = next((f for f, flags in found.items() if "\\sent" in flags), None)
        if chosen is None or "\\noselect" in found.get(chosen, set()):
            scan.missing.append(name)
            special = " (and no folder is marked \\Sent)" if name.lower() == "sent" else ""
            log.warning("mail.folders: no folder %r on the mail server%s; its messages are not counted", name, special)
            continue
        if chosen not in out:
            out.append(chosen)
    return out


def _status(conn: imaplib.IMAP4, folder: str, condstore: bool) -> dict[str, int] | None:
    """UIDVALIDITY, UIDNEXT (and HIGHESTMODSEQ) of a folder; None when the server says there is no such folder."""
    items = "(UIDVALIDITY UIDNEXT HIGHESTMODSEQ)" if condstore else "(UIDVALIDITY UIDNEXT)"
    typ, data = conn.status(_quote(folder), items)
    if typ == "NO":
        return None
    if typ != "OK" or not data or not isinstance(data[0], bytes):
        raise MailError(f"STATUS {folder!r} failed: {data!r}")
    found = {k.decode().upper(): int(v) for k, v in re.findall(rb"([A-Za-z]+) (\d+)", data[0].rsplit(b"(", 1)[-1])}
    if "UIDVALIDITY" not in found or "UIDNEXT" not in found:
        raise MailError(f"STATUS {folder!r}: no UIDVALIDITY or UIDNEXT in {data[0]!r}")
    return found


def _statuses(
    conn: imaplib.IMAP4, config: MailConfig, state: State, account: str, scan: Scan
) -> dict[str, dict[str, int]]:
    """The STATUS of each configured folder. Which server folders the names mean is kept from the last scan
    that found them all (a cycle with no new mail sends no LIST); a kept folder that is gone is looked for anew."""
    key = f"mail-folders:{account}:{json.dumps(config.folders)}"
    condstore = "CONDSTORE" in conn.capabilities
    kept = state.get_meta(key)
    if kept is not None:
        found = {folder: _status(conn, folder, condstore) for folder in json.loads(kept)}
        if all(status is not None for status in found.values()):
            return {folder: status for folder, status in found.items() if status is not None}
        state.delete_meta(key)
    folders = resolve_folders(conn, config.folders, scan)
    out: dict[str, dict[str, int]] = {}
    for folder in folders:
        status = _status(conn, folder, condstore)
        if status is None:
            scan.missing.append(folder)
            log.warning("mail.folders: %r cannot be read; its messages are not counted", folder)
            continue
        out[folder] = status
    if not scan.missing:
        state.set_meta(key, json.dumps(list(out)))
    return out


def _ranges(uids: list[int]) -> Iterator[str]:
    """UID sets, runs written as a:b, of at most RUNS runs each (a command line stays short; the answers are
    read as they arrive, so one set may hold any number of messages)."""
    if not uids:
        return
    ordered = sorted(set(uids))
    parts: list[str] = []
    first = last = ordered[0]
    for uid in [*ordered[1:], None]:
        if uid is not None and uid == last + 1:
            last = uid
            continue
        parts.append(f"{first}:{last}" if last > first else str(first))
        if len(parts) == RUNS:
            yield ",".join(parts)
            parts = []
        if uid is not None:
            first = last = uid
    if parts:
        yield ",".join(parts)


_FETCHED = re.compile(rb"UID (\d+)")
_COMMON = re.compile(rb"\* \d+ FETCH \(UID (\d+) BODY\[HEADER\.FIELDS \([A-Z ]*\)\] \{(\d+)\}\r\n")
_INTERNALDATE = re.compile(rb'UID (\d+).*INTERNALDATE "([^"]+)"|INTERNALDATE "([^"]+)".*UID (\d+)')


def _fetch(conn: imaplib.IMAP4, uid_set: str, item: str) -> Iterator[list[tuple[int, bytes]]]:
    """(UID, header fields) of each message of `uid_set`, in batches of about BATCH, read off the connection as
    the answers arrive: imaplib's reader would cost more than the server's answer at tens of thousands of
    messages, and would hold all of them at once. The command is sent with a tag of its own; every answer up to
    its tagged completion is read (a literal wherever one is announced), untagged ones that are no FETCH are
    passed over. The answers of the common form (`* n FETCH (UID u BODY[...] {size}` and the literal) are read
    whole out of what the connection has buffered, by one match each; any other, and one cut by the end of the
    buffer, line by line. Nothing past the tagged completion is read."""
    global _TAGS
    _TAGS += 1
    tag = b"SY%d" % _TAGS
    conn.send(tag + b" UID FETCH " + uid_set.encode("ascii") + b" (" + item.encode("ascii") + b")\r\n")
    batch: list[tuple[int, bytes]] = []
    reader = conn.file if isinstance(conn.file, io.BufferedReader) else None
    common = _COMMON.match
    while True:
        if reader is not None:
            buffered = reader.peek(1)  # what has arrived (waits for some when nothing has)
            at = 0
            while (found := common(buffered, at)) is not None:
                end = found.end() + int(found[2])
                if buffered[end : end + 3] != b")\r\n":
                    break
                batch.append((int(found[1]), buffered[found.end() : end]))
                at = end + 3
            if at:
                reader.read(at)  # exactly the answers read
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
                continue
        line = conn.readline()
        if not line:
            raise MailError("the server closed the connection during FETCH")
        literal: bytes | None = None
        while line.endswith(b"}\r\n"):  # a literal follows: its bytes, then the rest of the answer
            start = line.rfind(b"{", 0, -3)
            size = line[start + 1 : -3].rstrip(b"+")
            if start < 0 or not size.isdigit():
                break
            literal = conn.read(int(size))
            rest = conn.readline()
            if not rest:
                raise MailError("the server closed the connection during FETCH")
            line = line[:start] + rest
        if line.startswith(tag + b" "):
            if line[len(tag) + 1 : len(tag) + 3] != b"OK":
                raise MailError(f"FETCH failed: {line.decode('utf-8', 'replace').strip()}")
            if batch:
                yield batch
            return
        if literal is None or not line.startswith(b"* ") or b" FETCH " not in line:
            continue
        match = _FETCHED.search(line)
        if match is not None:
            batch.append((int(match.group(1)), literal))
            if len(batch) >= BATCH:
                yield batch
                batch = []


_TAGS = 0


def _arrivals(conn: imaplib.IMAP4, uids: list[int]) -> dict[int, datetime]:
    """The INTERNALDATE of a few messages (those dated in the future)."""
    out: dict[int, datetime] = {}
    for uid_set in _ranges(uids):
        typ, data = conn.uid("FETCH", uid_set, "(INTERNALDATE)")
        if typ != "OK":
            raise MailError(f"FETCH failed: {data!r}")
        for item in data:
            match = _INTERNALDATE.search(item if isinstance(item, bytes) else b"")
            if match is None:
                continue
            uid, text = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
            when = mail.internaldate(text.decode("ascii", "replace"))
            if when is not None:
                out[int(uid)] = when
    return out


def _since(day: date) -> str:
    return f"{day.day}-{_MONTHS[day.month - 1]}-{day.year}"


def read_folder(
    conn: imaplib.IMAP4,
    folder: str,
    known: MailFolder | None,
    status: dict[str, int],
    since: date,
    now: datetime,
    item: str,
) -> tuple[mail.Tally, MailFolder, int]:
    """The messages new in one folder since `known` (all since `since` when unknown or its UIDVALIDITY changed):
    (what they say, the folder's new row, messages fetched)."""
    typ, data = conn.select(_quote(folder), readonly=True)  # EXAMINE: nothing in the folder can change
    if typ != "OK":
        raise MailError(f"EXAMINE {folder!r} failed: {_text(Exception(data[0] if data else ''))}")
    validity = status["UIDVALIDITY"]
    if known is None or known.uidvalidity != validity:
        if known is not None:
            log.info("mail: %r has a new UIDVALIDITY; reading it afresh", folder)
        typ, data = conn.uid("SEARCH", "SENTSINCE", _since(since))
        if typ != "OK":
            raise MailError(f"SEARCH {folder!r} failed: {data!r}")
        uids = [int(u) for u in (data[0] or b"").split()]
        last = 0
    else:
        last = known.last_uid
        typ, data = conn.uid("SEARCH", "UID", f"{last + 1}:*")
        if typ != "OK":
            raise MailError(f"SEARCH {folder!r} failed: {data!r}")
        uids = [int(u) for u in (data[0] or b"").split() if int(u) > last]  # n:* always matches the last one
    tally = mail.Tally(now)
    fetched = 0
    top = max([last, *uids])
    for uid_set in _ranges(uids):
        for batch in _fetch(conn, uid_set, item):
            fetched += len(batch)
            top = max(top, max(uid for uid, _header in batch))
            tally.add_all(batch)
    if tally.ahead:
        tally.arrive(_arrivals(conn, sorted(tally.ahead)))
    conn.close()  # CLOSE after EXAMINE expunges nothing
    # Every UID below the UIDNEXT that STATUS gave was searched: an old message filed later is not read again.
    row = MailFolder(validity, max(top, status.get("UIDNEXT", 1) - 1), status.get("HIGHESTMODSEQ"))
    return tally, row, fetched


def scan(config: MailConfig, password: str | None, state: State, since: date, now: datetime) -> Scan:
    """Read what is new in the configured folders into the state (mail_folders, mail_addresses)."""
    out = Scan()
    account = account_key(config)
    conn = connect(config, password)
    try:
        for folder, status in _statuses(conn, config, state, account, out).items():
            known = state.mail_folder(account, folder)
            if (
                known is not None
                and known.uidvalidity == status.get("UIDVALIDITY")
                and (status.get("UIDNEXT", 0) <= known.last_uid + 1)
            ):
                continue  # nothing new: the folder is not opened
            tally, row, fetched = read_folder(conn, folder, known, status, since, now, headers(config.count_received))
            out.folders.append(folder)
            out.fetched += fetched
            out.counted += tally.counted
            out.skipped.update(tally.skipped)
            with state.transaction():
                state.see_mail(account, _seen(tally))
                state.save_mail_folder(account, folder, row)
    except (OSError, imaplib.IMAP4.error) as err:
        raise MailError(f"{urlsplit(config.url).hostname}: {_text(err)}") from err
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()
    for reason, count in sorted(out.skipped.items()):
        log.warning("mail: %d message%s %s skipped", count, "" if count == 1 else "s", mail.SKIPS[reason])
    return out


def _seen(tally: mail.Tally) -> list[tuple[str, str, str]]:
    def iso(at: int) -> str:
        return datetime.fromtimestamp(at, UTC).isoformat()

    return [(address, "to", iso(at)) for address, at in tally.sent.items()] + [
        (address, "from", iso(at)) for address, at in tally.received.items()
    ]
