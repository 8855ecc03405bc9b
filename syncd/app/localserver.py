"""A local Radicale on 127.0.0.1 with its own temporary store, as `syncd demo` runs it.

Radicale is an optional dependency (`pip install 'syncd[demo]'`); it runs as a child process so that its
logging and threads stay out of syncd's. The child never outlives the process that started it:

- it runs in a session of its own, so a terminal's SIGHUP or Ctrl-C reaches only its parent, which stops it;
- its standard input is a pipe whose other end only the parent holds. When the parent ends in any way (even
  SIGKILL) the pipe reaches end-of-file, and the child removes the folder it was given (`remove_when_orphaned`:
  the demo's temporary folder) and exits.

`start()` returns only once the server on the port is this one: the port must be free before it starts (a port
in use is an error naming it, nothing is sent to whatever listens there), and the server must refuse anonymous
access and accept this instance's random password — a server that does not know the password is not ours.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

import requests

from syncd.errors import ConfigError, ServerError

# How long `start()` waits for the server to answer on its port.
START_TIMEOUT = 20.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"the local server exited at start (code {process.returncode})")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerError(f"the local server did not start listening on {host}:{port}")


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on `port` at one of `host`'s addresses already (a bind, as the server would do it,
    fails with EADDRINUSE). Sends nothing to whatever listens there."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False  # the server reports the host it cannot resolve
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Radicale: a TIME_WAIT is no obstacle
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as err:
                if err.errno == errno.EADDRINUSE:
                    return True
    return False


def in_use_error(host: str, port: int) -> ServerError:
    return ServerError(
        f"port {port} on {host} is already in use by another program; the demo writes only to a server it "
        "starts itself: choose another --port, or leave --port out to use a free one"
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `timeout` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class LocalRadicale:
    """`with LocalRadicale() as server:` — a Radicale with one user and htpasswd (plain) auth."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "demo",
        password: str | None = None,
        log_path: Path | None = None,
        remove_when_orphaned: Path | None = None,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if root is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="syncd-radicale-")
            root = Path(self._tmp.name)
        self.root = root
        self.host = host
        self.port = port or free_port(host)
        self.username = username
        self.password = password or secrets.token_urlsafe(12)
        self.log_path = log_path or root / "radicale.log"
        # The folder the child removes when its parent ends without stopping it (default: its own temporary one).
        self.remove_when_orphaned = remove_when_orphaned or (root if self._tmp is not None else None)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{shown}:{self.port}/"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the local server is not running")
        return self.process.pid

    @property
    def principal_url(self) -> str:
        return f"{self.url}{self.username}/"

    def start(self) -> LocalRadicale:
        try:
            import radicale  # noqa: F401
        except ImportError as err:
            raise ConfigError("the demo needs Radicale: pip install 'syncd[demo]' (or pip install radicale)") from err
        self.root.mkdir(parents=True, exist_ok=True)
        users = self.root / "users"
        users.write_text(f"{self.username}:{self.password}\n", encoding="utf-8")
        os.chmod(users, 0o600)
        config = self.root / "radicale.conf"
        config.write_text(
            "[server]\n"
            f"hosts = {self.host}:{self.port}\n"
            "[auth]\n"
            "type = htpasswd\n"
            f"htpasswd_filename = {users}\n"
            "htpasswd_encryption = plain\n"
            "delay = 0\n"
            "[storage]\n"
            f"filesystem_folder = {self.root / 'collections'}\n"
            "[rights]\n"
            "type = owner_only\n"
            "[logging]\n"
            "level = warning\n"
            "mask_passwords = True\n",
            encoding="utf-8",
        )
        if port_in_use(self.host, self.port):
            raise in_use_error(self.host, self.port)
        command = [sys.executable, "-m", "syncd.app.localserver", str(config)]
        if self.remove_when_orphaned is not None:
            command.append(str(self.remove_when_orphaned))
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,  # the parent holds the only write end: end-of-file tells the child it is gone
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's signals go to the parent alone, which stops the child
        )
        log.close()
        try:
            self._wait_until_ours(self.process)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ours(self, process: subprocess.Popen[bytes], timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                if port_in_use(self.host, self.port):  # taken between the check and the server's own bind
                    raise in_use_error(self.host, self.port)
                raise ServerError(f"the local server exited at start (code {process.returncode})")
            answer = self.is_ours()
            if answer is True:
                return
            if answer is False:
                raise in_use_error(self.host, self.port)
            time.sleep(0.05)
        raise ServerError(f"the local server did not start listening on {self.host}:{self.port}")

    def is_ours(self) -> bool | None:
        """None while nothing answers on the port; True when the server there is this one: it refuses anonymous
        access and accepts this instance's random password; False for any other server (it is sent no
        credentials unless it refused anonymous access, and never a write)."""
        headers = {"Depth": "0", "User-Agent": "syncd"}
        with requests.Session() as http:
            try:
                anonymous = http.request("PROPFIND", self.url, headers=headers, timeout=5, allow_redirects=False)
                if anonymous.status_code != 401:
                    return False
                http.auth = (self.username, self.password)
                ours = http.request("PROPFIND", self.url, headers=headers, timeout=5, allow_redirects=False)
            except requests.ConnectionError:
                return None
            except requests.RequestException:
                return False
        return ours.status_code == 207

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            if self.process.stdin is not None:
                self.process.stdin.close()
        self.process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalRadicale:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# The child process ----------------------------------------------------------------------------------------


def _remove(folder: str) -> None:
    # A request that was still being answered may create a file behind rmtree: try again.
    for _ in range(5):
        shutil.rmtree(folder, ignore_errors=True)
        if not os.path.exists(folder):
            return
        time.sleep(0.1)


def _watch_parent(folder: str) -> None:
    """Block until standard input (the pipe from the parent) reaches end-of-file: the parent is gone. Then remove
    `folder` and end the process, server threads and all."""
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    if folder:
        _remove(folder)
    os._exit(0)


def child_main(argv: list[str]) -> int:
    """`python -m syncd.app.localserver CONFIG [FOLDER]`: Radicale, ended (and FOLDER removed) with its parent."""
    config = argv[0]
    folder = argv[1] if len(argv) > 1 else ""
    threading.Thread(target=_watch_parent, args=(folder,), daemon=True, name="parent").start()
    sys.argv = ["radicale", "-C", config]
    from radicale.__main__ import run

    run()
    return 0


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
