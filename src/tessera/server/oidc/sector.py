"""``sector_identifier_uri`` (OpenID Connect Dynamic Client Registration 1.0 sec. 5, Core
sec. 8.1): a document listing the redirect URIs of every client of one sector. The server
fetches it at registration (under the SSRF rules of ``_fetch_guard``), checks it is a JSON
array of strings naming each registered redirect URI, and takes the URI's host as the
sector identifier, so every client of the sector gets the same pairwise subjects.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from tessera.server._fetch_guard import FetchGuard
from tessera.server.errors import ClientMetadataError, InvalidClientMetadata

__all__ = ["MAX_URI", "SectorFetcher"]

MAX_URI = 2000
"""Longest sector_identifier_uri accepted."""
_SLOTS = 8


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _host_of(uri: object) -> str:
    """The host of an acceptable sector_identifier_uri: https, no credentials or fragment."""
    if not isinstance(uri, str):
        raise InvalidClientMetadata("sector_identifier_uri must be a string")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a bad port
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if (
        parts is None
        or parts.scheme != "https"
        or not host
        or len(host) > 255
        or "@" in parts.netloc
        or "#" in uri
        or len(uri) > MAX_URI
        or any(not 0x21 <= ord(c) <= 0x7E for c in uri)
    ):
        raise InvalidClientMetadata(
            "sector_identifier_uri must be an https URI without credentials or fragment"
        )
    return host.lower()


def _listed(body: bytes) -> set[str]:
    try:
        document = json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError):
        raise InvalidClientMetadata("the sector_identifier_uri document is not JSON") from None
    if not isinstance(document, list) or not all(isinstance(u, str) for u in document):
        raise InvalidClientMetadata(
            "the sector_identifier_uri document must be a JSON array of redirect URI strings"
        )
    return set(document)


class SectorFetcher:
    """Fetches and checks sector identifier documents; thread-safe, blocking."""

    def __init__(self, guard: FetchGuard) -> None:
        self.guard = guard
        self._slots = threading.BoundedSemaphore(_SLOTS)

    def sector_of(self, uri: object, redirect_uris: Sequence[str]) -> str:
        """The sector identifier (the host of ``uri``) once its document lists every one of
        ``redirect_uris``.

        Raises:
            InvalidClientMetadata: a bad URI, a refused or failed fetch, a document that is
                not an array of strings or that lacks a redirect URI (the description says).
        """
        host = _host_of(uri)
        assert isinstance(uri, str)  # checked by _host_of
        if not self._slots.acquire(timeout=1.0):
            raise InvalidClientMetadata("too many sector_identifier_uri fetches are in progress")
        try:
            fetched = self.guard.get(uri)
        except ClientMetadataError as exc:
            raise InvalidClientMetadata(
                f"sector_identifier_uri could not be fetched: {exc}"
            ) from None
        finally:
            self._slots.release()
        listed = _listed(fetched.body)
        missing = [redirect for redirect in redirect_uris if redirect not in listed]
        if missing:
            raise InvalidClientMetadata(
                f"the sector_identifier_uri document does not list the redirect URI {missing[0]!r}"
            )
        return host
