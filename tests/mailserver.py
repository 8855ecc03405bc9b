"""A real IMAP server for the `[mail]` tests: Dovecot (Debian `dovecot-imapd`) in a temp dir on 127.0.0.1, a
maildir per user, one user `me` with password `secret`; and a byte-level recorder in front of it that keeps
every command a client sends (`Recorder.commands`) and can refuse connections (`Recorder.down`)."""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.system_packages import need

USER, PASSWORD = "me", "secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dovecot:
    process: subprocess.Popen[bytes]
    port: int
    root: Path

    @property
    def url(self) -> str:
        return f"imap://127.0.0.1:{self.port}"

    def connect(self) -> imaplib.IMAP4:
        conn = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        conn.login(USER, PASSWORD)
        return conn

    def append(self, folder: str, message: bytes, when: str = '"01-Mar-2027 10:00:00 +0000"') -> None:
        conn = self.connect()
        try:
            conn.create(f'"{folder}"')  # NO when it exists
            typ, data = conn.append(f'"{folder}"', None, when, message)
            assert typ == "OK", data
        finally:
            conn.logout()

    def arrivals(self, folder: str) -> list[datetime]:
        """Each message's INTERNALDATE (Dovecot keeps the current time for one given in the future)."""
        conn = self.connect()
        try:
            conn.select(f'"{folder}"', readonly=True)
            typ, data = conn.fetch("1:*", "(INTERNALDATE)")
            assert typ == "OK", data
            stamps = [re.search(rb'INTERNALDATE "([^"]+)"', d).group(1).decode().strip() for d in data if d]  # type: ignore[union-attr]
            return [datetime.strptime(s, "%d-%b-%Y %H:%M:%S %z").astimezone(UTC) for s in stamps]
        finally:
            conn.logout()

    def uidvalidity(self, folder: str) -> int:
        conn = self.connect()
        try:
            typ, data = conn.status(f'"{folder}"', "(UIDVALIDITY)")
            assert typ == "OK", data
            return int(data[0].rsplit(b" ", 1)[1].rstrip(b")"))
        finally:
            conn.logout()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def start_dovecot(*, special_use: bool = True, sent: str = "Sent Messages") -> Dovecot:
    """Dovecot serving a new temp dir (its config, runtime files and maildirs; its own, outside pytest's
    owner-only temp dirs, which Dovecot's unprivileged processes could not enter), IMAP without TLS on 127.0.0.1
    only. The folder `sent` is marked \\Sent where `special_use`."""
    binary = need("dovecot")
    root = Path(tempfile.mkdtemp(prefix="syncd-dovecot-"))
    port = _free_port()
    if os.geteuid() == 0:  # as root, Dovecot runs its processes as the unprivileged users its package made
        user, login_user = "dovecot", "dovenull"
    else:
        user = login_user = pwd.getpwuid(os.getuid()).pw_name
    account = pwd.getpwnam(user)
    for name in ("run", "home"):
        (root / name).mkdir(parents=True, exist_ok=True)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    special = f'mailbox "{sent}" {{\n    special_use = \\Sent\n  }}\n' if special_use else ""
    (root / "dovecot.conf").write_text(
        f"""
base_dir = {root}/run
state_dir = {root}/run
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {user}
default_internal_group = {grp.getgrgid(account.pw_gid).gr_name}
default_login_user = {login_user}
first_valid_uid = {account.pw_uid}
first_valid_gid = {account.pw_gid}
mail_location = maildir:{root}/home/%u/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={account.pw_uid} gid={account.pw_gid} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  {special}
}}
"""
    )
    if os.geteuid() == 0:
        for path in [root, root / "home"]:
            os.chown(path, account.pw_uid, account.pw_gid)
        os.chmod(root, 0o755)
    process = subprocess.Popen(
        [binary, "-F", "-c", str(root / "dovecot.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            raise RuntimeError(f"dovecot exited: {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(100).startswith(b"* OK"):
                    return Dovecot(process, port, root)
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("dovecot did not start")


@dataclass
class Recorder:
    """A TCP relay to `upstream` on 127.0.0.1 that records what clients send, line by line."""

    upstream: int
    port: int = 0
    down: bool = False  # refuse every connection (a mail server that is not there)
    sent: list[bytes] = field(default_factory=list)
    _server: socket.socket | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Recorder:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        self.port = int(server.getsockname()[1])
        self._server = server
        self._thread = threading.Thread(target=self._accept, daemon=True, name="mail-recorder")
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"imap://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, record: bool) -> None:
        try:
            while data := source.recv(65536):
                if record:
                    self.sent.append(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def commands(self) -> list[str]:
        """Each command a client sent, without its tag, upper-cased up to the first argument."""
        lines = b"".join(self.sent).decode("utf-8", "replace").split("\r\n")
        out = []
        for line in lines:
            parts = line.split(" ", 1)
            if len(parts) == 2 and parts[0]:
                out.append(parts[1])
        return out

    def clear(self) -> None:
        self.sent.clear()

    def stop(self) -> None:
        """Stop accepting, and wait until the accepting thread has ended: closing alone does not wake a thread
        blocked in accept(), which could then take a connection meant for a later listener given the same
        descriptor number."""
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)  # wakes accept() with an error
            self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
