"""A recording HTTP reverse proxy for tests, with optional fault injection (standard library only).

    proxy = CountingProxy("http://127.0.0.1:5232/").start()
    ... point syncd at proxy.url (or proxy.to_proxy(some_upstream_url)) ...
    assert proxy.writes() == []
    proxy.close()

or, in a test, the `counting_proxy` fixture factory from tests/conftest.py (closes every proxy it made at
teardown):

    from tests.proxy import ProxyFactory

    def test_x(dav: DavServer, counting_proxy: ProxyFactory) -> None:
        proxy = counting_proxy(dav.url)

The proxy listens on 127.0.0.1 with a random port and forwards every request (any method, with its body and
headers) to the same path on the upstream origin. The upstream sees its own host in `Host`; `Location` and
`Content-Location` headers that point at the upstream origin are rewritten to the proxy's origin. Bodies
are passed through unchanged (DAV servers return path-only hrefs, which stay valid).

Every request is recorded as a `Record(method, path, status, headers)` (status 0 when no response was sent).

Fault injection: `fault` is a callable `(Request) -> Action | None`, called for each request before it is
forwarded (it may run any code there: that is the "hook before forwarding"). It returns None to forward the
request normally, or one of the actions below. `when(...)` builds a fault that only fires for matching
requests, a given number of times.

    Respond(503)                  answer with this status (and optional body/headers) without forwarding
    Reset()                       drop the connection without an answer (TCP RST)
    Stall(5.0)                    wait 5 s (cut short when the proxy closes), then forward (or do `then`)
    Truncate(10)                  forward, but send only the first 10 bytes of the response body, then close
    Forward(after=f, drop=True)   forward, call f(request, status) (the "hook after forwarding"), then answer,
                                  or with drop=True close the connection instead: the server did the work and
                                  the client never hears of it; edit=g answers with g(body) instead of body;
                                  strip=("If-Match",) forwards the request without those headers

`homes_at(origin)` is one for a principal whose home sets are absolute hrefs on another host.
`unique_uids()` is a ready-made fault for a server that keeps iCalendar UIDs unique across all the calendars of
an account (Cyrus, RFC 6638 scheduling): a PUT of an object whose UID is already stored in another calendar is
refused with 403 and the CalDAV precondition `unique-scheduling-object-resource`.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import re
import socket
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple, Protocol
from urllib.parse import urlsplit

WRITE_METHODS = frozenset({"PUT", "DELETE", "MKCOL", "MKCALENDAR", "PROPPATCH", "MOVE", "COPY", "POST", "PATCH"})

# Hop-by-hop headers (RFC 9110 §7.6.1) are never forwarded; Host and Content-Length are set anew.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED = _HOP_BY_HOP | {"host", "content-length"}


class Record(NamedTuple):
    """One request the proxy received, and the status it answered with (0: no answer)."""

    method: str
    path: str
    status: int
    headers: dict[str, str]


@dataclass(frozen=True)
class Request:
    """What a fault sees: the request as received (path includes the query string)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    index: int  # 0-based position among all requests this proxy has received since the last reset()


# Actions a fault can return --------------------------------------------------------------------------


@dataclass(frozen=True)
class Respond:
    """Answer with `status` without forwarding the request."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Reset:
    """Drop the connection without sending anything (the client sees a connection reset)."""


@dataclass(frozen=True)
class Stall:
    """Wait `seconds` (or until the proxy closes), then do `then`, or forward the request when None."""

    seconds: float
    then: Action | None = None


@dataclass(frozen=True)
class Truncate:
    """Forward, then send the status, the headers (with the full Content-Length) and only the first
    `keep` bytes of the body, and close the connection."""

    keep: int = 0


@dataclass(frozen=True)
class Forward:
    """Forward the request; then call `after(request, status)` if given; then answer normally, or with
    `drop` close the connection without an answer (a response lost after the server applied the request)."""

    after: Callable[[Request, int], object] | None = None
    drop: bool = False
    edit: Callable[[bytes], bytes] | None = None  # rewrites the response body (e.g. to inject hostile items)
    strip: tuple[str, ...] = ()  # request headers not forwarded (e.g. "If-Match", for a server that ignores it)


Action = Respond | Reset | Stall | Truncate | Forward
Fault = Callable[[Request], Action | None]


def when(
    action: Action | Callable[[Request], Action | None] | None,
    *,
    method: str | Iterable[str] | None = None,
    path: str | Callable[[str], bool] | None = None,
    times: int | None = None,
    skip: int = 0,
    body: bytes | None = None,
) -> Fault:
    """A fault that applies `action` to matching requests.

    `method`: a method name or several (case-insensitive); `path`: a substring of the request path, or a
    predicate on it; `body`: bytes the request body must contain (say, a UID inside a PUT); `skip`: let this
    many matching requests through first; `times`: fire at most this often (None: always). `action` may be a
    callable (the hook): it runs before forwarding and returns an action or None (forward).
    """
    methods = None if method is None else {method.upper()} if isinstance(method, str) else {m.upper() for m in method}
    lock = threading.Lock()
    seen = 0
    fired = 0

    def matches(request: Request) -> bool:
        if methods is not None and request.method.upper() not in methods:
            return False
        if body is not None and body not in request.body:
            return False
        if path is None:
            return True
        return path(request.path) if callable(path) else path in request.path

    def fault(request: Request) -> Action | None:
        nonlocal seen, fired
        if not matches(request):
            return None
        with lock:
            seen += 1
            if seen <= skip or (times is not None and fired >= times):
                return None
            fired += 1
        if action is None or isinstance(action, Respond | Reset | Stall | Truncate | Forward):
            return action
        return action(request)

    return fault


def before(
    callback: Callable[[Request], object],
    *,
    method: str | Iterable[str] | None = None,
    path: str | Callable[[str], bool] | None = None,
    times: int | None = None,
    skip: int = 0,
) -> Fault:
    """A fault that runs `callback` before forwarding each matching request (arguments as for `when`),
    then forwards it."""

    def hook(request: Request) -> None:
        callback(request)

    return when(hook, method=method, path=path, times=times, skip=skip)


def chain(*faults: Fault) -> Fault:
    """The first fault that returns an action wins; all are consulted until then."""

    def fault(request: Request) -> Action | None:
        for one in faults:
            action = one(request)
            if action is not None:
                return action
        return None

    return fault


# A server quirk as a fault ---------------------------------------------------------------------------

UNIQUE_UID_ERROR = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:">'
    b'<C:unique-scheduling-object-resource xmlns:C="urn:ietf:params:xml:ns:caldav"/></D:error>'
)


def unique_uids() -> Fault:
    """Cyrus's rule: one UID per account, whatever calendar holds it. The proxy learns the UID of every
    iCalendar object PUT through it (and forgets it when that object is deleted); a PUT of a UID that
    another collection holds is answered 403 with the `unique-scheduling-object-resource` precondition."""
    lock = threading.Lock()
    where: dict[str, str] = {}  # UID -> path of the object that holds it
    uid_at: dict[str, str] = {}  # path -> UID

    def collection(path: str) -> str:
        return path.split("?", 1)[0].rsplit("/", 1)[0]

    def stored(request: Request, status: int) -> None:
        path = request.path.split("?", 1)[0]
        with lock:
            if request.method == "DELETE" and status in (200, 204):
                uid = uid_at.pop(path, None)
                if uid is not None and where.get(uid) == path:
                    del where[uid]
            elif request.method == "PUT" and status in (200, 201, 204):
                found = re.search(rb"^UID:(.+?)\r?$", request.body, re.MULTILINE)
                if found is not None:
                    uid = found.group(1).decode("utf-8").strip()
                    where[uid], uid_at[path] = path, uid

    def fault(request: Request) -> Action | None:
        if request.method == "PUT" and b"BEGIN:VCALENDAR" in request.body:
            found = re.search(rb"^UID:(.+?)\r?$", request.body, re.MULTILINE)
            if found is not None:
                with lock:
                    held = where.get(found.group(1).decode("utf-8").strip())
                if held is not None and collection(held) != collection(request.path):
                    return Respond(403, UNIQUE_UID_ERROR, (("Content-Type", "application/xml; charset=utf-8"),))
        if request.method in ("PUT", "DELETE"):
            return Forward(after=stored)
        return None

    return fault


def ignores_if_match() -> Fault:
    """Google's CardDAV: a PUT's If-Match is not enforced (carddavclient QUIRKS: BUG_ETAGPRECOND_NOTCHECKED).
    Every PUT that carries one is forwarded without it, so a stale write overwrites what is there."""

    def fault(request: Request) -> Action | None:
        if request.method == "PUT" and any(name.lower() == "if-match" for name in request.headers):
            return Forward(strip=("If-Match",))
        return None

    return fault


_HOME_SET_HREF = re.compile(rb"(-home-set>\s*<(?:[\w-]+:)?href>)\s*/")


def homes_at(origin: str) -> Fault:
    """A server whose principal names its address book and calendar home sets on another host: each
    path-only href inside a `*-home-set` of a PROPFIND answer becomes `origin` + the path (iCloud names a
    partition host `pNN-contacts.icloud.com` there; a hostile or misconfigured server may name any host)."""
    prefix = origin.rstrip("/").encode()

    def edit(body: bytes) -> bytes:
        return _HOME_SET_HREF.sub(lambda m: m.group(1) + prefix + b"/", body)

    return when(Forward(edit=edit), method="PROPFIND")


# The proxy ------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    proxy: CountingProxy

    def __init__(self, proxy: CountingProxy) -> None:
        self.proxy = proxy
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._handler_threads: list[threading.Thread] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True, name="proxy-conn"
        )
        with self._lock:
            self._connections.add(request)
            self._handler_threads = [t for t in self._handler_threads if t.is_alive()]
            self._handler_threads.append(thread)
        thread.start()

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self, timeout: float = 5.0) -> None:
        """Wake every handler waiting on a kept-alive client connection, and wait for them to finish."""
        with self._lock:
            connections = list(self._connections)
            threads = list(self._handler_threads)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle_one_request(self) -> None:
        try:
            self.raw_requestline = self.rfile.readline(65537)
        except OSError:
            self.close_connection = True
            return
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        self.server.proxy._handle(self)
        with contextlib.suppress(OSError):
            self.wfile.flush()

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""


@dataclass
class CountingProxy:
    """A reverse proxy in front of `upstream` that records every request; see the module docstring."""

    upstream: str
    fault: Fault | None = None
    timeout: float = 30.0
    records: list[Record] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream must be an http(s) URL, not {self.upstream!r}")
        self._scheme = parts.scheme
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port or (443 if parts.scheme == "https" else 80)
        self._upstream_origin = f"{parts.scheme}://{parts.netloc}"
        self._base_path = parts.path or "/"
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Life cycle -------------------------------------------------------------------------------------

    def start(self) -> CountingProxy:
        if self._server is not None:
            return self
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="proxy"
        )
        self._thread.start()
        return self

    def close(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._closing.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Addresses --------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The upstream base URL, as seen through the proxy."""
        return self.origin + self._base_path

    def to_proxy(self, url: str) -> str:
        """An absolute upstream URL rewritten to go through the proxy (other URLs unchanged)."""
        if url == self._upstream_origin or url.startswith(self._upstream_origin + "/"):
            return self.origin + url[len(self._upstream_origin) :]
        return url

    # What was seen ----------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the recorded requests (the fault stays)."""
        with self._lock:
            self.records.clear()

    def snapshot(self) -> list[Record]:
        with self._lock:
            return list(self.records)

    def methods(self) -> list[str]:
        """The methods of the recorded requests, in order."""
        return [record.method for record in self.snapshot()]

    def writes(self) -> list[Record]:
        """The recorded requests that would change data on the server (PUT, DELETE, MKCOL, ...)."""
        return [record for record in self.snapshot() if record.method in WRITE_METHODS]

    def counts(self) -> Counter[str]:
        return Counter(self.methods())

    # Forwarding -------------------------------------------------------------------------------------

    def _record(self, method: str, path: str, headers: dict[str, str]) -> tuple[Record, int]:
        record = Record(method, path, 0, headers)
        with self._lock:
            self.records.append(record)
            return record, len(self.records) - 1

    def _set_status(self, record: Record, status: int) -> None:
        with self._lock:
            # reset() may have run meanwhile: only update the record if it is still there.
            for i in range(len(self.records) - 1, -1, -1):
                if self.records[i] is record:
                    self.records[i] = record._replace(status=status)
                    return

    def _handle(self, handler: _Handler) -> None:
        method = handler.command
        headers = {name: value for name, value in handler.headers.items()}
        try:
            body = handler.read_body()
        except (OSError, ValueError):
            handler.close_connection = True
            return
        record, index = self._record(method, handler.path, headers)
        request = Request(method, handler.path, headers, body, index)
        action = self.fault(request) if self.fault is not None else None
        while isinstance(action, Stall):
            self._closing.wait(action.seconds)
            action = action.then
            if self._closing.is_set():
                action = Reset()
        if isinstance(action, Reset):
            self._abort(handler)
            return
        if isinstance(action, Respond):
            self._set_status(record, action.status)  # before answering: the client may look at once
            self._send(handler, action.status, list(action.headers), action.body, method)
            return
        if isinstance(action, Forward) and action.strip:
            gone = {name.lower() for name in action.strip}
            kept = {k: v for k, v in request.headers.items() if k.lower() not in gone}
            request = Request(request.method, request.path, kept, request.body, request.index)
        try:
            status, reason, response_headers, response_body = self._forward(request)
        except (OSError, http.client.HTTPException) as err:
            message = f"proxy: upstream failed: {err}".encode()
            self._set_status(record, 502)
            self._send(handler, 502, [("Content-Type", "text/plain")], message, method)
            return
        self._set_status(record, status)
        if isinstance(action, Forward):
            if action.after is not None:
                action.after(request, status)
            if action.drop:
                self._abort(handler)
                return
            if action.edit is not None:
                encoding = next((v for k, v in response_headers if k.lower() == "content-encoding"), "").lower()
                if encoding == "gzip":
                    response_body = gzip.decompress(response_body)
                elif encoding == "deflate":
                    response_body = zlib.decompress(response_body)
                response_headers = [(k, v) for k, v in response_headers if k.lower() != "content-encoding"]
                response_body = action.edit(response_body)
        if isinstance(action, Truncate):
            self._send(handler, status, response_headers, response_body, method, reason, keep=action.keep)
            return
        self._send(handler, status, response_headers, response_body, method, reason)

    def _forward(self, request: Request) -> tuple[int, str, list[tuple[str, str]], bytes]:
        connection: http.client.HTTPConnection
        if self._scheme == "https":
            connection = http.client.HTTPSConnection(self._upstream_host, self._upstream_port, timeout=self.timeout)
        else:
            connection = http.client.HTTPConnection(self._upstream_host, self._upstream_port, timeout=self.timeout)
        try:
            headers = {k: v for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED}
            if request.body or request.method in ("PUT", "POST", "PATCH", "PROPFIND", "PROPPATCH", "REPORT"):
                headers["Content-Length"] = str(len(request.body))
            # http.client sets Host to the upstream's host:port.
            connection.request(request.method, request.path, body=request.body or None, headers=headers)
            response = connection.getresponse()
            body = response.read()
            out: list[tuple[str, str]] = []
            for name, value in response.getheaders():
                if name.lower() in _HOP_BY_HOP or name.lower() == "content-length":
                    continue
                if name.lower() in ("location", "content-location"):
                    value = self.to_proxy(value)
                out.append((name, value))
            if request.method == "HEAD" and response.getheader("Content-Length") is not None:
                out.append(("Content-Length", str(response.getheader("Content-Length"))))
            return response.status, response.reason, out, body
        finally:
            connection.close()

    @staticmethod
    def _send(
        handler: _Handler,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        method: str,
        reason: str | None = None,
        keep: int | None = None,
    ) -> None:
        try:
            handler.send_response_only(status, reason)
            for name, value in headers:
                handler.send_header(name, value)
            no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
            if not no_body:
                handler.send_header("Content-Length", str(len(body)))
            if keep is not None:
                handler.send_header("Connection", "close")
                handler.close_connection = True
            handler.end_headers()
            if not no_body:
                handler.wfile.write(body if keep is None else body[:keep])
        except OSError:
            handler.close_connection = True

    @staticmethod
    def _abort(handler: _Handler) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.connection.close()  # really closed (RST) once the handler's files are closed


# The `counting_proxy` fixture's type (the fixture is in tests/conftest.py) --------------------------


class ProxyFactory(Protocol):
    def __call__(self, upstream: str, fault: Fault | None = None) -> CountingProxy: ...
