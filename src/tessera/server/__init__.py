"""The Tessera authorization server (``tessera serve``): OAuth 2.0 client credentials and, for
people, the authorization code grant with PKCE and rotating refresh tokens; RFC 9068 JWT access
tokens, client authentication by secret, ``private_key_jwt`` or none (public clients),
introspection and revocation, a JWK Set with key rotation, RFC 8414 metadata; SQLite or
PostgreSQL.

Importing this package is cheap: the app and its dependencies load on first use.

>>> from tessera.server import create_app, load_settings     # doctest: +SKIP
>>> app = create_app(load_settings(database="sqlite:///tessera.db"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tessera.server.app import create_app
    from tessera.server.config import Settings, load_settings

__all__ = ["Settings", "create_app", "load_settings"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from tessera.server.app import create_app

        return create_app
    if name in ("Settings", "load_settings"):
        from tessera.server import config

        return getattr(config, name)
    raise AttributeError(f"module 'tessera.server' has no attribute {name!r}")
