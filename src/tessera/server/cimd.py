"""Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document): a client
whose ``client_id`` is an https URL describes itself in the JSON document at that URL.

The document must name exactly that URL as its ``client_id``; it is checked like a dynamic
registration (see ``_client_metadata``), fetched under the SSRF rules of ``_fetch_guard`` and
kept for its ``Cache-Control: max-age``, never less than ``client_metadata_cache_min`` nor more
than ``client_metadata_cache_max`` (``no-store``/``no-cache`` or no header count as 0: the
minimum still applies, so a client cannot make every request a fetch). At most
``client_metadata_cache_size`` documents are held; the least recently used goes first.
A URL that failed is refused from memory for ``FAILURE_TTL`` seconds, and at most
``FETCH_SLOTS`` fetches run at once: a stream of requests naming slow or broken URLs cannot
tie up the server's worker threads.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import tessera
from tessera.server._client_metadata import check_metadata
from tessera.server._fetch_guard import FetchGuard
from tessera.server.config import Settings
from tessera.server.errors import (
    ClientMetadataError,
    InvalidClientMetadata,
    InvalidRedirectUri,
)
from tessera.server.storage.clients import ClientRecord

__all__ = ["FAILURE_TTL", "FETCH_SLOTS", "MAX_URL", "ClientMetadataResolver", "is_metadata_url"]

MAX_URL = 255
"""Longest URL client_id (the width of the client_id columns)."""
FAILURE_TTL = 30.0
"""How long a URL whose document could not be used is refused without fetching again."""
FETCH_SLOTS = 8
"""Most metadata fetches in flight at once; a request finding none free is refused."""
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.IGNORECASE)


def is_metadata_url(client_id: str) -> bool:
    """Whether ``client_id`` names a metadata document (an https URL) rather than a row."""
    return client_id.startswith("https://")


def _check_url(url: str) -> None:
    """Draft sec. 3: https, a path, no fragment, credentials or dot segments."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
        parts.hostname  # noqa: B018 - raises ValueError on a bad IP literal
    except ValueError:
        raise ClientMetadataError("the client_id URL has an invalid host or port") from None
    segments = parts.path.split("/")
    if (
        len(url) > MAX_URL
        or parts.scheme != "https"
        or not parts.hostname
        or parts.path in ("", "/")
        or "#" in url
        or "@" in parts.netloc
        or "." in segments
        or ".." in segments
        or any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in url)
    ):
        raise ClientMetadataError(
            f"a URL client_id must be an https URL of at most {MAX_URL} characters with a "
            "path, without fragment, credentials or dot segments"
        )


def _ttl(cache_control: str, low: int, high: int) -> int:
    lowered = cache_control.lower()
    age = 0
    if "no-store" not in lowered and "no-cache" not in lowered:
        match = _MAX_AGE.search(cache_control)
        age = int(match.group(1)) if match else 0
    return max(low, min(high, age))


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ClientMetadataError(f"the document repeats the member {key!r}")
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse(body: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(
            body.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
        )
    except (UnicodeDecodeError, ValueError):
        raise ClientMetadataError(f"the {what} is not JSON") from None
    if not isinstance(document, dict):
        raise ClientMetadataError(f"the {what} is not a JSON object")
    return document


class ClientMetadataResolver:
    """Turns URL client ids into client records: fetched, checked, cached; thread-safe."""

    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float],
        guard: FetchGuard | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.guard = guard or FetchGuard(
            allow=settings.fetch_allow,
            timeout=settings.fetch_timeout,
            max_bytes=settings.fetch_max_bytes,
            ca_file=settings.fetch_ca_file,
        )
        self._cache: OrderedDict[str, tuple[ClientRecord, float]] = OrderedDict()
        self._failures: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(FETCH_SLOTS)

    def __len__(self) -> int:
        return len(self._cache)

    def close(self) -> None:
        """Release the fetcher's connections."""
        self.guard.close()

    def cached(self, client_id: str) -> ClientRecord | None:
        """The record held for ``client_id`` if it is still fresh, else None (no fetch)."""
        with self._lock:
            entry = self._cache.get(client_id)
            if entry is None:
                return None
            if entry[1] <= self.clock():
                del self._cache[client_id]
                return None
            self._cache.move_to_end(client_id)
            return entry[0]

    def resolve(self, client_id: str) -> ClientRecord:
        """The client ``client_id`` (an https URL) describes, from the cache or fetched now.

        Raises:
            ClientMetadataError: a bad URL, a refused or failed fetch, or an unacceptable
                document (the message says which rule).
        """
        record = self.cached(client_id)
        if record is not None:
            return record
        with self._lock:
            failed = self._failures.get(client_id)
        if failed is not None and failed[1] > self.clock():
            raise ClientMetadataError(failed[0])
        if not self._slots.acquire(timeout=1.0):
            raise ClientMetadataError("too many client metadata documents are being fetched")
        try:
            return self._fetch(client_id)
        except ClientMetadataError as exc:
            with self._lock:
                self._failures[client_id] = (str(exc), self.clock() + FAILURE_TTL)
                self._failures.move_to_end(client_id)
                while len(self._failures) > self.settings.client_metadata_cache_size:
                    self._failures.popitem(last=False)
            raise
        finally:
            self._slots.release()

    def _fetch(self, client_id: str) -> ClientRecord:
        _check_url(client_id)
        fetched = self.guard.get(client_id)
        document = _parse(fetched.body, "client metadata document")
        if document.get("client_id") != client_id:
            raise ClientMetadataError(
                "the document's client_id is not exactly the URL it was fetched from"
            )
        if "client_secret" in document or "client_secret_expires_at" in document:
            raise ClientMetadataError("a client metadata document must not carry a secret")
        try:
            described = check_metadata(document, allowed_scopes=self.settings.dynamic_scopes)
        except (InvalidClientMetadata, InvalidRedirectUri) as exc:
            raise ClientMetadataError(exc.description) from None
        jwks = None
        if described.jwks_uri is not None:
            jwks = self._public_jwks(_parse(self.guard.get(described.jwks_uri).body, "JWK Set"))
        elif described.jwks is not None:
            jwks = self._public_jwks(dict(described.jwks))
        now = self.clock()
        host = urlsplit(client_id).hostname or ""
        record = ClientRecord(
            client_id=client_id,
            name=described.client_name or host,
            secret_hash=None,
            auth_methods=(described.auth_method,),
            grant_types=described.grant_types,
            scopes=described.scopes,
            audiences=(),
            jwks=jwks,
            created_at=now,
            updated_at=now,
            client_type="public" if described.auth_method == "none" else "confidential",
            redirect_uris=described.redirect_uris,
            application_type=described.application_type,
        )
        settings = self.settings
        ttl = _ttl(
            fetched.cache_control,
            settings.client_metadata_cache_min,
            settings.client_metadata_cache_max,
        )
        with self._lock:
            self._cache[client_id] = (record, now + ttl)
            self._cache.move_to_end(client_id)
            while len(self._cache) > settings.client_metadata_cache_size:
                self._cache.popitem(last=False)
        return record

    @staticmethod
    def _public_jwks(document: dict[str, Any]) -> str:
        try:
            keyset = tessera.KeySet.from_jwks(document, skip_invalid=True)
        except tessera.InvalidKey:
            raise ClientMetadataError("the client's JWK Set is not usable") from None
        keys = [key for key in keyset if key.kty != "oct"]
        if not keys:
            raise ClientMetadataError("the client's JWK Set holds no usable public key")
        public = [key.public().to_jwk() if key.is_private else key.to_jwk() for key in keys]
        return json.dumps({"keys": public}, separators=(",", ":"))
