"""syncd: keep in touch on purpose, through your own CardDAV and CalDAV server."""

__version__ = "0.1.0"
