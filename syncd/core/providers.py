"""What is known about the big DAV providers, as data: which one a URL belongs to, and how it behaves.

Pure (no I/O): `provider(url)` classifies a server URL by its host (iCloud, Google, Fastmail) or by the paths
that SabreDAV installations serve (Nextcloud, Baïkal); `advice(contacts_url, reminders_url)` turns the quirks of
the providers an account uses into what `check` says. Each fact names its public source; the notes beside the
code (README, "Your setup") say what works with each provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Provider:
    key: str
    name: str
    hosts: tuple[str, ...] = ()  # a host equal to one of these or ending in "." + one of them
    paths: tuple[str, ...] = ()  # or a URL path containing one of these (self-hosted software)
    tasks: bool = True  # VTODO task lists reachable over CalDAV
    enforces_if_match: bool = True  # a PUT with a stale If-Match gets 412
    vcard3_only: bool = False  # cards must stay vCard 3.0
    one_component_per_calendar: bool = False  # a calendar holds either VEVENTs or VTODOs
    uids_unique_per_account: bool = False  # one UID in two calendars of an account is refused
    feed_reports_unchanged: bool = False  # sync-collection lists members that did not change
    facts: tuple[str, ...] = ()  # what else is known, for the reader (syncd does not depend on these)
    sources: tuple[str, ...] = ()


ICLOUD = Provider(
    key="icloud",
    name="iCloud",
    hosts=("icloud.com",),
    tasks=False,  # upgraded Reminders are not reachable over CalDAV (nextcloud/tasks#627, nextcloud/server#17190)
    # macOS Contacts drops vCard 4.0 cards (lennart-k/rustical#265); a card without N is refused (vdirsyncer#1145)
    vcard3_only=True,
    one_component_per_calendar=True,  # MKCALENDAR: one component type per collection (vdirsyncer#593)
    feed_reports_unchanged=True,  # mstilkerich/carddavclient interop suite
    uids_unique_per_account=True,  # python-caldav compatibility hints: save.duplicate-uid.cross-calendar
    facts=(
        "the home sets live on a partition host (pNN-contacts / pNN-caldav.icloud.com); hrefs may still name "
        "caldav.icloud.com (python-caldav compatibility hints)",
        "If-Match: * holds backwards: 412 on an existing object, creates a missing one (python-caldav hints; "
        "syncd never sends it)",
        "sync-collection ignores DAV:limit and lists the collection itself as a member (python-caldav hints)",
        "a PROPFIND of Depth 1 on the principal is answered 400 (python-caldav hints)",
        "If-None-Match: * on an existing card gets 403 (davx5-ose#2533)",
    ),
    sources=(
        "nextcloud/tasks#627",
        "vdirsyncer#1145",
        "vdirsyncer#593",
        "lennart-k/rustical#265",
        "python-caldav compatibility_hints.py (icloud)",
    ),
)
GOOGLE = Provider(
    key="google",
    name="Google",
    hosts=("googleapis.com", "googleusercontent.com", "google.com"),
    tasks=False,  # no VTODO, no MKCALENDAR
    enforces_if_match=False,  # carddavclient QUIRKS: BUG_ETAGPRECOND_NOTCHECKED
    facts=(
        "new cards get their UID replaced; TYPE parameters are normalised (carddavclient QUIRKS)",
        "a sync-collection with an empty token is refused (carddavclient QUIRKS)",
        "no MKCALENDAR, no VTODO (python-caldav hints: no_mkcalendar, no_todo)",
    ),
    sources=("mstilkerich/carddavclient QUIRKS", "python-caldav compatibility_hints.py (google)"),
)
FASTMAIL = Provider(
    key="fastmail",
    name="Fastmail",
    hosts=("fastmail.com", "messagingengine.com"),
    vcard3_only=True,  # cyrus-imapd#2134
    one_component_per_calendar=True,  # vdirsyncer#824
    uids_unique_per_account=True,  # Cyrus: 403 unique-scheduling-object-resource (also python-caldav hints)
    facts=("the DAV root needs its trailing slash (syncd adds it)",),
    sources=("cyrus-imapd#2134", "vdirsyncer#824", "python-caldav compatibility_hints.py (cyrus)"),
)
NEXTCLOUD = Provider(
    key="nextcloud",
    name="Nextcloud",
    paths=("/remote.php/dav", "/remote.php/carddav", "/remote.php/caldav"),
    facts=(
        "a GET answers in the vCard version Accept asks for, 3.0 when none (sabre-io/dav#834; syncd asks again "
        "for a 4.0 card)",
        "FN exactly once, else 415; vCard 2.1 refused",
        "sync-collection from a token is cut at DAV:limit without a 507 (python-caldav hints; syncd sends no limit)",
        "a deleted calendar stays in the trash bin and keeps its name taken (python-caldav hints)",
    ),
    sources=("sabre-io/dav#834", "python-caldav compatibility_hints.py (nextcloud)"),
)
BAIKAL = Provider(
    key="baikal",
    name="Baïkal",
    paths=("/dav.php", "/card.php", "/cal.php"),
    facts=(
        "Digest authentication by default",
        "a GET answers in the vCard version Accept asks for, 3.0 when none (sabre-io/dav#834)",
        "FN exactly once, else 415",
        "a second object with the same UID is stored (python-caldav hints: save.no-uid-conflict unsupported)",
    ),
    sources=("sabre-io/dav#834", "python-caldav compatibility_hints.py (baikal)"),
)

KNOWN = (ICLOUD, GOOGLE, FASTMAIL, NEXTCLOUD, BAIKAL)


def provider(url: str) -> Provider | None:
    """The provider a server URL belongs to, or None when it is none of the known ones."""
    if not url:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().rstrip(".")
    path = parts.path.lower()
    for known in KNOWN:
        if any(host == h or host.endswith("." + h) for h in known.hosts):
            return known
        if any(p in path for p in known.paths):
            return known
    return None


def verify_writes(url: str) -> bool:
    """Whether a card written to `url` should be checked just before and read back after the PUT: its server
    does not enforce If-Match, so a stale write would silently overwrite an edit made meanwhile."""
    found = provider(url)
    return found is not None and not found.enforces_if_match


def advice(contacts_url: str, reminders_url: str) -> list[str]:
    """What `check` says about the providers of the contacts' and the reminders' accounts (one line each)."""
    out: list[str] = []
    contacts = provider(contacts_url)
    reminders = provider(reminders_url)
    if reminders is not None and not reminders.tasks:
        if reminders is ICLOUD:
            out.append(
                "iCloud's Reminders cannot be reached over CalDAV: keep the contacts in iCloud "
                "(contacts.account) and put the task list on another CalDAV server, such as Radicale at home "
                '([accounts.home], reminders.account = "home"); an iPhone shows that list in Reminders'
            )
        else:
            out.append(
                f"{reminders.name} has no CalDAV task lists: point reminders.account at a server that has "
                "(Radicale, Nextcloud, Baïkal, Fastmail)"
            )
    if contacts is not None and not contacts.enforces_if_match:
        out.append(
            f"{contacts.name} does not enforce If-Match on cards: an edit made on a phone while syncd writes "
            "the same card can be lost; syncd re-reads each card around its write, but use "
            f"{contacts.name} contacts read-mostly (circles in [[rules]] and NOTE tags rather than many writes)"
        )
    if contacts is not None and contacts.vcard3_only:
        out.append(
            f"{contacts.name} keeps vCard 3.0 cards with N: syncd changes only X-SYNCD lines, so cards stay as they are"
        )
    if reminders is not None and reminders.tasks and reminders.one_component_per_calendar:
        out.append(
            f"{reminders.name} keeps tasks and events in separate calendars: reminders.calendar must not be "
            "the task list (syncd creates the task list VTODO-only)"
        )
    return out
