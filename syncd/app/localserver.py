"""A local Radicale on 127.0.0.1 with its own temporary store, as `syncd demo` runs it.

Radicale is an optional dependency (`pip install 'syncd[demo]'`); it runs as a child process so that its
logging and threads stay out of syncd's.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from syncd.errors import ConfigError, ServerError


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
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{shown}:{self.port}/"

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
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "-C", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        wait_for_port(self.host if self.host not in ("0.0.0.0", "::") else "127.0.0.1", self.port, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
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
