"""WebDAV multistatus answers (RFC 4918) read safely: lxml with entity expansion and network access off, no
DOCTYPE accepted, parsed whole or while the bytes arrive; and the PROPFIND body that asks for properties."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from lxml import etree

from syncd.errors import ServerError

NS = {
    "d": "DAV:",
    "card": "urn:ietf:params:xml:ns:carddav",
    "cal": "urn:ietf:params:xml:ns:caldav",
    "cs": "http://calendarserver.org/ns/",
    "ical": "http://apple.com/ns/ical/",
}

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True)


def qname(prefixed: str) -> str:
    """`d:getetag` -> `{DAV:}getetag`."""
    prefix, _, local = prefixed.partition(":")
    return f"{{{NS[prefix]}}}{local}"


class BadXML(ServerError):
    """The server's answer is not well-formed XML (e.g. bytes that are not UTF-8 inside a card)."""


@dataclass(slots=True)
class Resource:
    """One `<d:response>` of a multistatus."""

    href: str  # absolute URL
    status: int
    props: dict[str, etree._Element] = field(default_factory=dict)

    def text(self, prefixed: str) -> str | None:
        element = self.props.get(qname(prefixed))
        if element is None:
            return None
        return "".join(str(t) for t in element.itertext())

    def hrefs(self, prefixed: str) -> list[str]:
        element = self.props.get(qname(prefixed))
        if element is None:
            return []
        return [(h.text or "").strip() for h in element.iter(qname("d:href"))]

    def has(self, prefixed: str, child: str) -> bool:
        element = self.props.get(qname(prefixed))
        return element is not None and element.find(qname(child)) is not None


@dataclass(slots=True)
class Multistatus:
    resources: list[Resource]
    sync_token: str | None = None


def parse_xml(body: bytes, url: str) -> etree._Element:
    # A DAV server never sends a DTD; one that declares entities is an XML bomb or an external-entity probe
    # (refused like defusedxml's forbid_dtd, even though the parser would not expand them). In a body
    # that is well-formed, "<!DOCTYPE" can only stand in the prolog: text content has its "<" escaped.
    if b"<!DOCTYPE" in body[:65536]:
        raise ServerError(f"{url}: the server sent XML with a DOCTYPE (entity declarations); refused")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as err:
        raise BadXML(f"{url}: the server sent XML syncd cannot read: {err}") from err
    if root.getroottree().docinfo.internalDTD is not None:
        raise ServerError(f"{url}: the server sent XML with a DOCTYPE (entity declarations); refused")
    return root


def parse_multistatus(body: bytes, base_url: str) -> Multistatus:
    root = parse_xml(body, base_url)
    resources: list[Resource] = []
    for response in root.iterfind(qname("d:response")):
        resource = _resource(response, base_url)
        if resource is not None:
            resources.append(resource)
    token_el = root.find(qname("d:sync-token"))
    token = token_el.text.strip() if token_el is not None and token_el.text else None
    return Multistatus(resources, token)


def _resource(response: etree._Element, base_url: str) -> Resource | None:
    """One `<d:response>` element as a Resource (None when it has no href)."""
    href_el = response.find(qname("d:href"))
    raw_href = (href_el.text or "").strip() if href_el is not None else ""
    if not raw_href:
        return None
    href = _join(base_url, raw_href)
    status_el = response.find(qname("d:status"))
    status = _status_code(status_el.text if status_el is not None else None, 200)
    props: dict[str, etree._Element] = {}
    for propstat in response.iterfind(qname("d:propstat")):
        ps_status = propstat.find(qname("d:status"))
        if _status_code(ps_status.text if ps_status is not None else None, 200) != 200:
            continue
        prop = propstat.find(qname("d:prop"))
        if prop is None:
            continue
        for child in prop:
            if isinstance(child.tag, str):
                props[child.tag] = child
    return Resource(href=href, status=status, props=props)


def _join(base_url: str, href: str) -> str:
    """urljoin, with a fast path for the usual absolute path (thousands of hrefs per answer)."""
    if href.startswith("/") and not href.startswith("//") and "/." not in href:
        return _origin_of(base_url) + href
    return urljoin(base_url, href)


@functools.lru_cache(maxsize=64)
def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def iter_multistatus(chunks: Iterable[bytes], base_url: str, tail: dict[str, str] | None = None) -> Iterator[Resource]:
    """The `<d:response>`s of a multistatus, parsed as the bytes arrive: each one is yielded and then
    dropped, so memory holds one response (e.g. one card with its photo), not the whole answer. A Resource
    is valid until the next one is requested. The multistatus's own `<d:sync-token>` (RFC 6578), which
    follows the responses, is put into `tail["sync-token"]` when `tail` is given."""
    tags = (qname("d:response"), _SYNC_TOKEN) if tail is not None else (qname("d:response"),)
    parser = etree.XMLPullParser(events=("end",), tag=tags, resolve_entities=False, no_network=True, huge_tree=False)
    first = True
    try:
        for chunk in chunks:
            if first and b"<!DOCTYPE" in chunk[:65536]:  # as in `parse_xml`: no DTD from a DAV server
                raise ServerError(f"{base_url}: the server sent XML with a DOCTYPE (entity declarations); refused")
            first = False
            parser.feed(chunk)
            yield from _drain(parser, base_url, tail)
        parser.close()
    except etree.XMLSyntaxError as err:
        raise BadXML(f"{base_url}: the server sent XML syncd cannot read: {err}") from err
    yield from _drain(parser, base_url, tail)


_SYNC_TOKEN = qname("d:sync-token")


def _drain(parser: etree.XMLPullParser, base_url: str, tail: dict[str, str] | None) -> Iterator[Resource]:
    for _event, element in parser.read_events():
        if not isinstance(element, etree._Element):
            continue
        if element.tag == _SYNC_TOKEN:
            parent = element.getparent()
            if tail is not None and parent is not None and parent.getparent() is None and element.text:
                tail["sync-token"] = element.text.strip()  # the multistatus's own, not a property's
            continue
        resource = _resource(element, base_url)
        if resource is not None:
            yield resource
        element.clear()
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)


def _status_code(text: str | None, default: int) -> int:
    if not text:
        return default
    parts = text.split()
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return default


def propfind_body(props: Iterable[str]) -> bytes:
    used = sorted({p.split(":", 1)[0] for p in props} | {"d"})
    xmlns = " ".join(f'xmlns:{p}="{NS[p]}"' for p in used)
    inner = "".join(f"<{p}/>" for p in props)
    return f'<?xml version="1.0" encoding="utf-8"?><d:propfind {xmlns}><d:prop>{inner}</d:prop></d:propfind>'.encode()
