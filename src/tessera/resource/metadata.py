"""OAuth 2.0 Protected Resource Metadata (RFC 9728): how clients find who issues our tokens.

The document is served at ``/.well-known/oauth-protected-resource`` (plus the resource's path,
sec. 3.1), and its URL goes into every ``WWW-Authenticate`` challenge as ``resource_metadata``
(sec. 5.1), which is how MCP clients and other modern clients discover the issuer.

>>> meta = ProtectedResourceMetadata("https://api.example", ("https://idp.example",))
>>> meta.url
'https://api.example/.well-known/oauth-protected-resource'
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tessera.errors import ConfigurationError
from tessera.resource._fetch import check_url

if TYPE_CHECKING:
    from tessera.resource.verifier import Verifier

__all__ = ["WELL_KNOWN", "ProtectedResourceMetadata"]

WELL_KNOWN = "/.well-known/oauth-protected-resource"


@dataclass(frozen=True, slots=True)
class ProtectedResourceMetadata:
    """What a protected resource says about itself (RFC 9728 sec. 2).

    Raises:
        ConfigurationError: a resource identifier that is not an https (or loopback http)
            URL without fragment, or malformed lists.
    """

    resource: str
    authorization_servers: tuple[str, ...] = ()
    scopes_supported: tuple[str, ...] = ()
    bearer_methods_supported: tuple[str, ...] = ("header",)
    resource_name: str | None = None
    resource_documentation: str | None = None

    def __post_init__(self) -> None:
        check_url(self.resource)
        if urlsplit(self.resource).fragment:
            raise ConfigurationError("a resource identifier has no fragment (RFC 9728 sec. 1.2)")
        for name in ("authorization_servers", "scopes_supported", "bearer_methods_supported"):
            value = getattr(self, name)
            if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                raise ConfigurationError(f"{name} must be a tuple of strings")
            object.__setattr__(self, name, tuple(value))

    @classmethod
    def for_verifier(
        cls, verifier: Verifier, *, scopes: Iterable[str] = ()
    ) -> ProtectedResourceMetadata | None:
        """The document a verifier implies: its one audience is the resource identifier and
        its issuers the authorization servers. None when it accepts several audiences, or one
        that is not an https (or loopback http) URL: then only the application knows its
        resource identifier.

        >>> # ProtectedResourceMetadata.for_verifier(Verifier.from_issuer(iss, audience=api))
        """
        audiences = verifier.audiences
        if len(audiences) != 1:
            return None
        try:
            return cls(audiences[0], verifier.issuers, tuple(dict.fromkeys(scopes)))
        except ConfigurationError:
            return None

    @property
    def path(self) -> str:
        """The path this server answers the metadata request on."""
        suffix = urlsplit(self.resource).path.rstrip("/")
        return WELL_KNOWN + suffix

    @property
    def url(self) -> str:
        """The metadata document's URL, for ``resource_metadata`` in challenges (sec. 5.1)."""
        parts = urlsplit(self.resource)
        return f"{parts.scheme}://{parts.netloc}{self.path}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of sec. 2, without empty members."""
        document: dict[str, Any] = {"resource": self.resource}
        for name in ("authorization_servers", "scopes_supported", "bearer_methods_supported"):
            if getattr(self, name):
                document[name] = list(getattr(self, name))
        for name in ("resource_name", "resource_documentation"):
            if getattr(self, name) is not None:
                document[name] = getattr(self, name)
        return document

    def to_json(self) -> bytes:
        """The document as UTF-8 JSON bytes."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()
