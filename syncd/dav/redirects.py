"""Where a redirect may take the credentials: the rule `DavClient` follows on every hop.

A redirect is followed with the credentials only within the same *site*, on the same or an upgraded scheme:
iCloud sends `contacts.icloud.com` to a partition host `p42-contacts.icloud.com`, and the password must go
there too; a redirect to another site is followed without them (its 401 then names the redirect), and a
redirect from https to http is refused outright (the request, its body and the answer would travel in clear).

The site of a host name is its last two labels (`icloud.com`), or its last three where the last two are a
country's generic second level (`example.co.uk`, `example.com.au`). An IP address, and a name of one label
(`localhost`), is a site of its own. The rule knows no list of hosting platforms that give each customer a
sub-domain: under such a platform, hosts of other customers count as the same site.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from syncd.errors import ServerError

# Second-level labels under which a country's registry hands out names (`co.uk`, `com.au`, `ne.jp`).
_SECOND_LEVEL = frozenset(
    {
        "ac",
        "co",
        "com",
        "edu",
        "go",
        "gob",
        "gov",
        "gv",
        "ltd",
        "me",
        "mil",
        "ne",
        "net",
        "nom",
        "or",
        "org",
        "plc",
        "sch",
    }
)
_DEFAULT_PORT = {"http": 80, "https": 443}


class RedirectRefused(ServerError):
    """A redirect syncd does not follow (from https to http)."""


def site(host: str) -> str:
    """The site of a host name: its registrable domain by the rule above (lower case, no trailing dot)."""
    name = host.strip().rstrip(".").lower()
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        pass
    else:
        return name
    labels = name.split(".")
    if len(labels) <= 2:
        return name
    keep = 3 if len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL else 2
    return ".".join(labels[-keep:])


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else _DEFAULT_PORT.get(scheme)


def credentials_follow(source: str, target: str) -> bool:
    """Whether a redirect from URL `source` to URL `target` may carry the credentials: the same site, and
    the same scheme and port, or http on port 80 upgraded to https on 443. Call `check_redirect` first."""
    old, new = urlsplit(source), urlsplit(target)
    if not old.hostname or not new.hostname or site(old.hostname) != site(new.hostname):
        return False
    old_scheme, new_scheme = old.scheme.lower(), new.scheme.lower()
    old_port, new_port = _port(old_scheme, old.port), _port(new_scheme, new.port)
    if old_scheme == new_scheme:
        return old_port == new_port
    return old_scheme == "http" and new_scheme == "https" and old_port == 80 and new_port == 443


def check_redirect(source: str, target: str) -> None:
    """Raise `RedirectRefused` for a redirect that is never followed: from https to anything but https."""
    if urlsplit(source).scheme.lower() == "https" and urlsplit(target).scheme.lower() != "https":
        raise RedirectRefused(
            f"{origin(source)} redirected to {origin(target)}: a redirect from https to http is never followed"
        )


def without_userinfo(url: str) -> str:
    """`url` without any `user:password@` part: what may be logged, shown, or requested after a redirect."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def origin(url: str) -> str:
    """scheme://host[:port] of `url`, without userinfo or path."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}"
