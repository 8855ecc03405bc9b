"""A thin WebDAV client: PROPFIND, REPORT, GET, conditional PUT, DELETE, MKCALENDAR — and nothing else.

HTTP goes through `requests`; XML is parsed by lxml with entity expansion and network access off. Each
request has a timeout; idempotent requests and conditional writes are retried with backoff on connection
errors and 502/503/504 until a deadline (a one-shot command gives up within 30 seconds); a client made with
`retries=0` (the interactive commands) sends each request once. Statuses become
syncd errors here: 401 -> AuthError, unreachable/5xx -> ServerError, 412 -> PreconditionFailed, 404 ->
NotFound, any other 4xx to a write (and a 412 naming a DAV:error condition) -> Refused, carrying the
server's reason read from the answer's body (`explain`).
Authentication (`auth`): "basic" sends Basic credentials with every request; "digest" answers the server's Digest
challenge; "auto" sends Basic and, the first time a 401 asks for Digest, answers that instead for the rest of the
client's life (the request is sent once more, body and conditions unchanged).
Credentials go only to the site of the account's server (`servers`: its `url`, `carddav_url`, `caldav_url`),
by the rule of `syncd.dav.redirects`: a URL a server's answer names (a principal, a home set, a collection or
member href) on another site is requested without them, and one that would take an https account to plain
http is not requested at all. Redirects are followed here, at most five hops, by the same rule from hop to
hop. Neither the password, the Authorization header nor a URL's user:password part is ever logged.
"""

from __future__ import annotations

import logging
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from requests.auth import HTTPDigestAuth

from syncd.dav.multistatus import (
    NS,
    Multistatus,
    Resource,
    iter_multistatus,
    parse_multistatus,
    parse_xml,
    propfind_body,
)
from syncd.dav.redirects import check_redirect, credentials_follow, without_userinfo
from syncd.errors import AuthError, PreconditionFailed, ServerError

log = logging.getLogger("syncd.dav.client")

WRITE_METHODS = {"PUT", "DELETE", "MKCOL", "MKCALENDAR", "PROPPATCH", "MOVE", "COPY", "POST", "PATCH"}
_RETRY_STATUS = {502, 503, 504}
# Requests that may be sent again when the answer was lost: they change nothing, or (below) they carry a
# condition that makes a second arrival fail harmlessly with 412 instead of applying twice.
_IDEMPOTENT = {"GET", "HEAD", "OPTIONS", "PROPFIND", "REPORT"}
AUTH_SCHEMES = ("auto", "basic", "digest")
MAX_RESPONSE_BYTES = 256 * 1024 * 1024
RETRY_BACKOFF = 0.5  # seconds before the first retry; doubled for each further one (at most 8 s)
RETRIES = 4  # retries of one request at most (0.5 + 1 + 2 + 4 s of waiting), within the deadline


class NotFound(ServerError):
    def __init__(self, url: str) -> None:
        super().__init__(f"{url}: not found on the server")
        self.url = url


class ResponseTooLarge(ServerError):
    """The server's answer exceeded `MAX_RESPONSE_BYTES` (never read into memory in full)."""


class ReadOnlyViolation(RuntimeError):
    """A write was attempted through a read-only client (`syncd sync --dry-run`): a bug, never sent."""


def safe_to_retry(method: str, headers: Mapping[str, str] | None) -> bool:
    """Whether sending `method` a second time cannot apply it twice: a read, or a write conditional on an
    ETag (If-Match) or on absence (If-None-Match), whose repeat after a lost answer gets 412, not a copy."""
    if method.upper() in _IDEMPOTENT:
        return True
    names = {name.lower() for name in (headers or {})}
    return "if-match" in names or "if-none-match" in names


class HTTPStatusError(ServerError):
    def __init__(self, method: str, url: str, status: int, body: bytes = b"", reason: str = "") -> None:
        self.status = status
        self.body = body
        self.reason = reason or f"HTTP {status}"  # the server's own words where it gave any (`explain`)
        super().__init__(self._message(method, url))

    def _message(self, method: str, url: str) -> str:
        return f"{method} {url} failed: {self.reason}"


class Refused(HTTPStatusError):
    """The server answered a write with 4xx (other than 401 and 404; a 412 only when it names a DAV:error
    condition): it did not make it, and sending the same request again would not change that. `reason` is
    what the server gave as its reason."""

    def _message(self, method: str, url: str) -> str:
        return f"{method} {url} refused by the server: {self.reason}"


@dataclass(slots=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    raw: requests.Response | None = None  # the open response of a streamed request (body not read yet)

    @property
    def etag(self) -> str:
        return self.headers.get("ETag", "") or ""

    def text(self) -> str:
        """The body as text; bytes that are not UTF-8 survive a round trip (surrogateescape)."""
        return self.body.decode("utf-8", "surrogateescape")


class DavClient:
    def __init__(
        self,
        *,
        username: str = "",
        password: str | None = None,
        verify: bool | str = True,
        timeout: float = 10.0,
        deadline: float = 25.0,
        retries: int = RETRIES,
        auth: str = "auto",
        servers: Iterable[str] = (),
    ) -> None:
        """`servers`: the URLs the account's server was given as (`url`, `carddav_url`, `caldav_url`); the
        credentials go only where `credentials_follow` lets them go from one of these. None given: wherever
        the client is sent (a client made for one URL already chosen)."""
        if auth not in AUTH_SCHEMES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_SCHEMES)}, not {auth!r}")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "syncd"
        self.auth = auth
        self._password = password or ""
        if username:  # Basic as a tuple; "auto" changes it to Digest when a server asks (`_digest_instead`)
            digest = auth == "digest"
            self.session.auth = HTTPDigestAuth(username, self._password) if digest else (username, self._password)
        self.session.verify = verify
        self.username = username
        self.servers = tuple(without_userinfo(url) for url in servers if url)
        self.timeout = timeout
        self.deadline = deadline
        self.retries = retries
        self.counts: Counter[str] = Counter()
        self.read_only = False  # True: any write method raises ReadOnlyViolation before it is sent
        # Called after each successful PUT (url, body, new ETag or '') and DELETE (url, None, ''): the local
        # cache of parsed cards and tasks keeps itself current through this.
        self.write_listeners: list[Callable[[str, bytes | None, str], None]] = []
        self._leave_open: set[int] = set()  # statuses whose body `_send` leaves unread (streamed requests)
        self._credentials = True  # False: `_send` sends no credentials (a redirect took the request elsewhere)

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> DavClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def writes(self) -> int:
        return sum(n for method, n in self.counts.items() if method in WRITE_METHODS)

    # The one place a request is sent -------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Iterable[int] = (200, 201, 204, 207),
        stream: bool = False,
    ) -> Response:
        """Send one request. `stream`: an OK answer comes back unread in `Response.raw` (close it)."""
        ok = set(ok)
        if self.read_only and method.upper() in WRITE_METHODS:
            raise ReadOnlyViolation(f"{method} {url} attempted by a read-only (dry-run) client")
        retry_allowed = safe_to_retry(method, headers)
        started = time.monotonic()
        attempt = 0
        hops = 0
        first_url = url
        # Only to the account's own site; once a redirect leaves the site, no later hop carries them either.
        credentials = self._credentials_for(url)
        foreign = not credentials  # the URL itself (not a redirect) is on another site
        while True:
            attempt += 1
            try:
                self._leave_open = ok if stream else set()
                self._credentials = credentials
                response = self._send(method, url, body, headers)
            except requests.RequestException as err:  # refused, reset, timed out, truncated body, ...
                if retry_allowed and self._retry(started, attempt):
                    continue
                raise ServerError(f"cannot reach {_origin(url)}: {_reason(err)}") from err
            status = response.status_code
            if status in (301, 302, 307, 308) and "Location" in response.headers and hops < 5:
                hops += 1
                target = without_userinfo(urljoin(url, response.headers["Location"]))
                check_redirect(url, target)
                if credentials and not credentials_follow(url, target):
                    credentials = False
                    log.debug("redirected to %s, another site: no credentials sent there", _origin(target))
                url = target
                continue
            if status in ok:
                if stream:
                    return Response(status, response.headers, b"", url, raw=response)
                return Response(status, response.headers, response.content, url)
            if status == 401 and foreign:
                raise AuthError(
                    f"{_origin(url)} asks for credentials (HTTP 401), but it is another site than the configured "
                    f"server {_origin(self.servers[0])}: syncd sends them only within the site of the server it was "
                    "given"
                )
            if status == 401 and not credentials:
                raise AuthError(
                    f"{_origin(first_url)} redirected to {_origin(url)}, another site, which asks for credentials "
                    f"(HTTP 401): syncd sends them only within the site of the server it was given"
                )
            if status == 401:
                if self._digest_instead(response):
                    attempt -= 1  # not a retry: the same request, answered the way the server asks
                    continue
                raise self._auth_error(url, response)
            # 412: the ETag or absence a write was conditional on no longer holds, a race (re-read). A 412 that
            # names a DAV:error condition instead (Xandikos: `<C:valid-address-data/>`, `<C:no-uid-conflict/>`)
            # is the server refusing what was sent, which no re-read changes: below, `Refused`.
            if status == 412 and (method.upper() not in WRITE_METHODS or not _dav_error(response.content[:4096])[0]):
                raise PreconditionFailed(url)
            if status == 404:
                raise NotFound(url)
            if status in _RETRY_STATUS and retry_allowed and self._retry(started, attempt):
                continue
            body = response.content[:4096]
            reason = explain(status, response.reason or "", response.headers.get("Content-Type", ""), body)
            if 400 <= status < 500 and method.upper() in WRITE_METHODS:  # 412 here only with a condition
                raise Refused(method, url, status, body, reason)
            raise HTTPStatusError(method, url, status, body, reason)

    def _credentials_for(self, url: str) -> bool:
        """Whether a request to `url` carries the credentials: it is on the site of the account's server. A
        URL that would take an https account to plain http is refused (ServerError), never sent."""
        if not self.servers or any(credentials_follow(server, url) for server in self.servers):
            return True
        scheme = urlsplit(url).scheme.lower()
        if scheme != "https" and all(urlsplit(s).scheme.lower() == "https" for s in self.servers):
            raise ServerError(
                f"{_origin(self.servers[0])} named {_origin(url)} in its answer: syncd never takes an https "
                "account to plain http"
            )
        log.debug("%s is another site than the configured server: no credentials sent there", _origin(url))
        return False

    def _digest_instead(self, response: requests.Response) -> bool:
        """auto: the server refused Basic and asks for Digest: answer Digest from now on (True: send again)."""
        if self.auth != "auto" or not self.username or isinstance(self.session.auth, HTTPDigestAuth):
            return False
        if "digest" not in _challenges(response):
            return False
        log.debug("the server asks for Digest authentication: answering it from now on")
        self.session.auth = HTTPDigestAuth(self.username, self._password)
        return True

    def _auth_error(self, url: str, response: requests.Response) -> AuthError:
        who = f"user {self.username!r}" if self.username else "anonymous access"
        offered = _challenges(response)
        if self.auth == "basic" and "digest" in offered and "basic" not in offered:
            return AuthError(
                f"{_origin(url)} refused {who} (HTTP 401): the server asks for Digest authentication, "
                'and server.auth = "basic" sends Basic only: set server.auth = "auto" or "digest"'
            )
        if self.auth == "digest" and "basic" in offered and "digest" not in offered:
            return AuthError(
                f"{_origin(url)} refused {who} (HTTP 401): the server asks for Basic authentication, "
                'and server.auth = "digest" answers Digest only: set server.auth = "auto" or "basic"'
            )
        return AuthError(f"{_origin(url)} refused {who} (HTTP 401): check server.username and the password")

    def _send(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str] | None) -> requests.Response:
        self.counts[method] += 1
        t0 = time.monotonic()
        response = self.session.request(
            method,
            url,
            data=body,
            headers=dict(headers or {}),
            auth=None if self._credentials else _no_credentials,  # None: the session's (or the URL's) own
            verify=self.session.verify,  # given per request, or REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE would win
            timeout=self.timeout,
            allow_redirects=False,
            stream=True,
        )
        if response.status_code in self._leave_open:
            log.debug("%s %s -> %s (streaming)", method, without_userinfo(url), response.status_code)
            return response
        try:
            length = int(response.headers.get("Content-Length", "0") or 0)
            if length > MAX_RESPONSE_BYTES:
                raise ResponseTooLarge(f"{method} {url}: the server's answer is too large ({length} bytes)")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(65536):
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise ResponseTooLarge(
                        f"{method} {url}: the server's answer is larger than {MAX_RESPONSE_BYTES} bytes"
                    )
                chunks.append(chunk)
            response._content = b"".join(chunks)
        finally:
            response.close()
        elapsed = (time.monotonic() - t0) * 1000
        log.debug("%s %s -> %s (%.0f ms)", method, without_userinfo(url), response.status_code, elapsed)
        return response

    def _retry(self, started: float, attempt: int) -> bool:
        delay = min(RETRY_BACKOFF * 2 ** (attempt - 1), 8.0)
        if attempt > self.retries or time.monotonic() - started + delay > self.deadline:
            return False
        log.debug("retrying in %.1f s", delay)
        time.sleep(delay)
        return True

    # WebDAV verbs --------------------------------------------------------------------------------

    def propfind(self, url: str, props: Iterable[str], depth: int = 0) -> Multistatus:
        response = self.request(
            "PROPFIND",
            url,
            body=propfind_body(list(props)),
            headers={"Depth": str(depth), "Content-Type": "application/xml; charset=utf-8"},
        )
        return parse_multistatus(response.body, response.url)

    def report(self, url: str, body: bytes, depth: int | None = 1) -> Multistatus:
        headers = {"Content-Type": "application/xml; charset=utf-8"}
        if depth is not None:
            headers["Depth"] = str(depth)
        response = self.request("REPORT", url, body=body, headers=headers)
        return parse_multistatus(response.body, response.url)

    def report_stream(
        self, url: str, body: bytes, depth: int = 1, tail: dict[str, str] | None = None
    ) -> Generator[Resource, None, None]:
        """A REPORT whose multistatus is parsed while it arrives (see `iter_multistatus`, also for `tail`)."""
        headers = {"Content-Type": "application/xml; charset=utf-8", "Depth": str(depth)}
        response = self.request("REPORT", url, body=body, headers=headers, stream=True)
        raw = response.raw
        if raw is None:  # pragma: no cover - stream=True always leaves it open
            raise ServerError(f"REPORT {url}: no response body")
        try:
            yield from iter_multistatus(_limited(raw, url), response.url, tail)
        except requests.RequestException as err:  # reset or truncated while streaming
            raise ServerError(f"cannot read the answer of {_origin(url)}: {_reason(err)}") from err
        finally:
            raw.close()

    def get(self, url: str, accept: str | None = None) -> Response:
        return self.request("GET", url, headers={"Accept": accept} if accept else None, ok=(200,))

    def put(
        self, url: str, text: str | bytes, content_type: str, *, etag: str | None = None, create: bool = False
    ) -> str:
        """Conditional PUT: `etag` -> If-Match, `create` -> If-None-Match: *. Returns the new ETag or ''."""
        if not etag and not create:
            raise ValueError("syncd never writes unconditionally")
        headers = {"Content-Type": f"{content_type}; charset=utf-8"}
        if etag:
            headers["If-Match"] = etag
        else:
            headers["If-None-Match"] = "*"
        body = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
        response = self.request("PUT", url, body=body, headers=headers, ok=(200, 201, 204))
        self._written(url, body, response.etag)
        return response.etag

    def delete(self, url: str, etag: str) -> None:
        self.request("DELETE", url, headers={"If-Match": etag}, ok=(200, 204))
        self._written(url, None, "")

    def _written(self, url: str, body: bytes | None, etag: str) -> None:
        for listener in self.write_listeners:
            listener(url, body, etag)

    def mkcalendar(self, url: str, body: bytes) -> None:
        self.request(
            "MKCALENDAR",
            url,
            body=body,
            headers={"Content-Type": "application/xml; charset=utf-8"},
            ok=(201,),
        )


# Why a server refused: the DAV:error preconditions and postconditions of WebDAV, CardDAV and CalDAV name
# the rule a request broke (`<C:valid-address-data/>`); SabreDAV adds a message in its own namespace.
_CONDITION_NS = {NS["d"], NS["card"], NS["cal"], NS["cs"]}
_MESSAGE_TAGS = {"{http://sabredav.org/ns}message", f"{{{NS['d']}}}responsedescription"}
_MAX_REASON = 200
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
# A scheme starts the header or follows a comma, and is followed by its parameters, a token68, or nothing;
# a parameter's name is followed by "=".
_SCHEME = re.compile(r"(?:^|,)\s*([A-Za-z][\w!#$%&'*+.^`|~-]*)(?=\s+[^\s=,]|\s*(?:,|$))")


def _challenges(response: requests.Response) -> set[str]:
    """The authentication schemes a 401 offers (`WWW-Authenticate`), lower case: {"basic", "digest"}."""
    header = _QUOTED.sub('""', response.headers.get("WWW-Authenticate", ""))  # a realm may hold "Basic, ..."
    return {scheme.lower() for scheme in _SCHEME.findall(header)}


def explain(status: int, phrase: str, content_type: str, body: bytes) -> str:
    """The reason a server gave for a failing answer, short and printable, followed by the status: the
    conditions of a DAV:error body (`valid-address-data (HTTP 403)`), an HTML page's title, or the first
    line of a text body; only the status (and its phrase) when the body says nothing readable."""
    said = ""
    text = body.strip()
    kind = content_type.split(";", 1)[0].strip().lower()
    if "html" in kind or text[:14].lower().startswith((b"<!doctype html", b"<html")):
        found = _TITLE.search(text)
        said = found.group(1).decode("utf-8", "replace") if found else ""
    elif text.startswith(b"<"):
        conditions, messages = _dav_error(text)
        said = "; ".join([*conditions, *messages])
    elif text and (not kind or kind.startswith("text/")):
        said = next((line for line in text.decode("utf-8", "replace").splitlines() if line.strip()), "")
    said = _printable(said)
    plain = f"HTTP {status}" + (f" {_printable(phrase)}" if phrase else "")
    return f"{said} (HTTP {status})" if said else plain


def _dav_error(body: bytes) -> tuple[list[str], list[str]]:
    """The conditions a DAV:error body names (with any text inside them), and its human-readable messages."""
    if not body.lstrip().startswith(b"<"):
        return [], []
    try:
        root = parse_xml(body, "")
    except ServerError:
        return [], []
    if root.tag != f"{{{NS['d']}}}error":
        return [], []
    conditions: list[str] = []
    messages: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or element is root:
            continue
        text = " ".join("".join(str(t) for t in element.itertext()).split())
        if element.tag in _MESSAGE_TAGS:
            messages.append(text)
        elif element.getparent() is root and element.tag.startswith("{"):
            namespace, _, local = element.tag[1:].partition("}")
            if namespace in _CONDITION_NS:
                conditions.append(local + (f": {text}" if text else ""))
    return conditions, messages


def _printable(text: str) -> str:
    """One line without control characters (a terminal escape in a server's answer stays out of the
    user's terminal), at most `_MAX_REASON` characters."""
    kept = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    line = " ".join(kept.split())
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 1] + "…"


def _limited(raw: requests.Response, url: str) -> Iterator[bytes]:
    size = 0
    for chunk in raw.iter_content(65536):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise ResponseTooLarge(f"REPORT {url}: the server's answer is larger than {MAX_RESPONSE_BYTES} bytes")
        yield chunk


def _origin(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}"


def _no_credentials(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """An `auth` that adds nothing: it stands in for the session's credentials (and any in the URL)."""
    request.headers.pop("Authorization", None)
    return request


def _reason(err: Exception) -> str:
    text = str(err)
    if "Connection refused" in text:
        return "connection refused"
    if isinstance(err, requests.Timeout):
        return "timed out"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host name"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "TLS certificate not trusted (see server.verify_tls)"
    return type(err).__name__
