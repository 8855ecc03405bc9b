"""Host names that do not resolve here, served by one HTTP forward proxy (standard library only).

syncd reaches them through `HTTP_PROXY` (requests sends `GET http://contacts.example.test/path` to the proxy),
so a test can use real names of real sites: `contacts.example.test` and `p42-contacts.example.test` are one
site, `elsewhere.example.org` another. Each name is given a route:

    sites = Sites({"contacts.example.test": Redirect("http://p42-contacts.example.test"),
                   "p42-contacts.example.test": Upstream(radicale.url)}).start()
    env = {"HTTP_PROXY": sites.url, "NO_PROXY": ""}

`Redirect(base, status)` answers every request with `status` and `Location: base + path`; `Upstream(url)`
forwards the request (method, headers, body) to that server and passes its answer back, with a `Location`
that names the upstream rewritten to the name asked for. Every request is recorded as a `Hit(host, method,
path, authorization)`: the Authorization header exactly as it arrived, or None.
"""

from __future__ import annotations

import http.client
import ssl
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

_NOT_FORWARDED = frozenset(
    [
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    ]
)


@dataclass(frozen=True)
class Redirect:
    base: str  # scheme://host[:port], the path of the request is appended
    status: int = 301


@dataclass(frozen=True)
class Upstream:
    url: str


Route = Redirect | Upstream


@dataclass(frozen=True)
class Hit:
    host: str
    method: str
    path: str
    authorization: str | None


class Sites:
    def __init__(self, routes: dict[str, Route], tls: tuple[Path, Path] | None = None) -> None:
        """`tls`: (certificate, key) to serve https instead, to clients that ask for the names directly."""
        self.routes = routes
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        sites = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                sites._handle(self)

            do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = do_OPTIONS = do_HEAD = _any
            do_MKCOL = do_MKCALENDAR = do_PROPPATCH = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.scheme = "http" if tls is None else "https"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Sites:
        self._thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def hits_at(self, host: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.host == host]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        target = urlsplit(handler.path)  # absolute form (http://host[:port]/path?query) through a proxy
        host = target.hostname or urlsplit("//" + handler.headers.get("Host", "")).hostname or ""
        path = target.path + (f"?{target.query}" if target.query else "")
        length = int(handler.headers.get("Content-Length", "0") or 0)
        body = handler.rfile.read(length) if length else b""
        with self._lock:
            self.hits.append(Hit(host, handler.command, path, handler.headers.get("Authorization")))
        route = self.routes.get(host)
        if isinstance(route, Redirect):
            handler.send_response(route.status)
            handler.send_header("Location", route.base.rstrip("/") + path)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if route is None:
            handler.send_response(502)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        upstream = urlsplit(route.url)
        connection = http.client.HTTPConnection(upstream.hostname or "", upstream.port or 80, timeout=30)
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in _NOT_FORWARDED}
            connection.request(handler.command, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            handler.send_response(response.status, response.reason)
            origin = f"{upstream.scheme}://{upstream.netloc}"
            for name, value in response.getheaders():
                if name.lower() in _NOT_FORWARDED:
                    continue
                if name.lower() in ("location", "content-location") and value.startswith(origin):
                    value = f"{self.scheme}://{handler.headers.get('Host', host)}" + value[len(origin) :]
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(data)
        finally:
            connection.close()


def self_signed(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    """A certificate for `name` (and 127.0.0.1) that is its own CA, and its key: (certificate, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    names = f"subjectAltName=DNS:{name},IP:127.0.0.1"
    argv = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}"]
    subprocess.run(
        [*argv, "-addext", names, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key
