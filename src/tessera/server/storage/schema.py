"""The tables, declared once for the repositories; migrations create them (see migrations/)."""

from __future__ import annotations

from sqlalchemy import (
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

__all__ = ["assertions", "clients", "key_lock", "metadata", "signing_keys"]

metadata = MetaData()

clients = Table(
    "clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    # SHA-256 of a 256-bit random secret: a fast hash is right for random secrets.
    Column("secret_hash", String(64), nullable=True),
    Column("auth_methods", String(200), nullable=False),
    Column("grant_types", String(500), nullable=False),
    Column("scopes", Text, nullable=False),  # space-separated scope tokens
    Column("audiences", Text, nullable=False),  # JSON array of resource URIs
    Column("jwks", Text, nullable=True),  # public JWK Set for private_key_jwt
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
    Column("client_id", String(64), primary_key=True),
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
