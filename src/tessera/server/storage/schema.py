"""The tables, declared once for the repositories; migrations create them (see migrations/)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = [
    "access_tokens",
    "assertions",
    "audit_events",
    "clients",
    "codes",
    "families",
    "key_lock",
    "login_failures",
    "metadata",
    "oidc_clients",
    "refresh_tokens",
    "sessions",
    "signing_keys",
    "users",
]

metadata = MetaData()

clients = Table(
    "clients",
    metadata,
    Column("client_id", String(255), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    # SHA-256 of a 256-bit random secret: a fast hash is right for random secrets.
    Column("secret_hash", String(64), nullable=True),
    Column("auth_methods", String(200), nullable=False),
    Column("grant_types", String(500), nullable=False),
    Column("scopes", Text, nullable=False),  # space-separated scope tokens
    Column("audiences", Text, nullable=False),  # JSON array of resource URIs
    Column("jwks", Text, nullable=True),  # public JWK Set for private_key_jwt
    Column("client_type", String(16), nullable=False, server_default="confidential"),
    Column("redirect_uris", Text, nullable=False, server_default="[]"),  # JSON array
    Column("application_type", String(16), nullable=False, server_default="web"),
    # Dynamically registered clients (RFC 7591/7592): SHA-256 of the registration access
    # token, and the metadata as registered (JSON); NULL for clients an administrator added.
    Column("registration_token_hash", String(64), nullable=True),
    Column("registration_metadata", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(100), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("private_jwk", LargeBinary, nullable=False),  # AES-GCM under the KEK
    Column("created_at", Float, nullable=False),  # published in JWKS from here
    Column("activate_at", Float, nullable=False),  # signs from here
    Column("retire_at", Float, nullable=True),  # stops signing here
    Column("remove_at", Float, nullable=True),  # leaves JWKS here
)

assertions = Table(
    "used_assertions",
    metadata,
    Column("client_id", String(255), primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", Float, nullable=False),
    Index("ix_used_assertions_expires_at", "expires_at"),
)

key_lock = Table(
    "key_lock",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)
"""One row; changing the key schedule updates it first, so replicas take turns."""

users = Table(
    "users",
    metadata,
    Column("user_id", String(32), primary_key=True),  # the ``sub`` of their tokens
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # argon2id, PHC string
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("claims", Text, nullable=True),  # JSON object of OpenID standard claims
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("subject", String(200), primary_key=True),  # "user:NAME" or "addr:IP"
    Column("failures", Integer, nullable=False),
    Column("last_failure", Float, nullable=False),
    Column("locked_until", Float, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),  # SHA-256 of the cookie value
    Column("csrf_token", String(64), nullable=False),
    Column("user_id", String(32), nullable=True),  # None until the person signs in
    Column("auth_time", Float, nullable=True),
    Column("expires_at", Float, nullable=False),
    Index("ix_sessions_expires_at", "expires_at"),
)

families = Table(
    "token_families",
    metadata,
    Column("family_id", String(32), primary_key=True),  # one authorization grant
    Column("client_id", String(255), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("audiences", Text, nullable=False),  # JSON array
    Column("auth_time", Float, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("sid", String(64), nullable=True),  # the browser session (OpenID logout)
    Column("claims", Text, nullable=True),  # claims asked for by name (OIDC Core 5.5)
    Index("ix_token_families_expires_at", "expires_at"),
    Index("ix_token_families_sid", "sid"),
)

codes = Table(
    "authorization_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("family_id", String(32), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("redirect_uri_given", Boolean, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("code_challenge", String(64), nullable=False),
    Column("auth_time", Float, nullable=False),
    Column("used", Boolean, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("nonce", Text, nullable=True),  # OpenID: echoed in the ID token
    Index("ix_authorization_codes_expires_at", "expires_at"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family_id", String(32), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("used", Boolean, nullable=False),
    Column("issued_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_refresh_tokens_family_id", "family_id"),
    Index("ix_refresh_tokens_expires_at", "expires_at"),
)

access_tokens = Table(
    "access_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("family_id", String(32), nullable=True),  # None: client_credentials
    Column("client_id", String(255), nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_access_tokens_family_id", "family_id"),
    Index("ix_access_tokens_expires_at", "expires_at"),
)
"""Access tokens issued to people (their family revokes them) and any revoked by ``jti``."""

oidc_clients = Table(
    "oidc_clients",
    metadata,
    Column("client_id", String(255), primary_key=True),
    Column("id_token_alg", String(16), nullable=True),  # None: id_token_signing_alg
    Column("subject_type", String(16), nullable=False, server_default="public"),
    Column("sector_identifier", Text, nullable=True),  # pairwise: the host hashed into sub
    Column("post_logout_redirect_uris", Text, nullable=False, server_default="[]"),  # JSON
    Column("backchannel_logout_uri", Text, nullable=True),
)
"""A client's OpenID Connect registration; no row means the defaults."""

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(200), nullable=False),  # who: OS user@host or admin principal
    Column("action", String(64), nullable=False),  # e.g. "clients add"
    Column("target", String(500), nullable=False),  # client id, user name, kid
    Column("details", Text, nullable=False),  # JSON object: changed fields, never secrets
    Index("ix_audit_events_at", "at"),
)
"""Administrative actions, appended by the command line; never updated or deleted by Tessera."""
