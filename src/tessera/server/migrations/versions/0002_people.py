"""People and their grants: client types and redirect URIs, users, login throttling, sessions,
authorization codes, refresh-token families, issued and revoked access tokens.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_sessions_expires_at", "sessions", "expires_at"),
    ("ix_token_families_expires_at", "token_families", "expires_at"),
    ("ix_authorization_codes_expires_at", "authorization_codes", "expires_at"),
    ("ix_refresh_tokens_family_id", "refresh_tokens", "family_id"),
    ("ix_refresh_tokens_expires_at", "refresh_tokens", "expires_at"),
    ("ix_access_tokens_family_id", "access_tokens", "family_id"),
    ("ix_access_tokens_expires_at", "access_tokens", "expires_at"),
)


def upgrade() -> None:
    """Add the part-2 columns and tables."""
    with op.batch_alter_table("clients") as batch:
        batch.add_column(
            sa.Column("client_type", sa.String(16), nullable=False, server_default="confidential")
        )
        batch.add_column(sa.Column("redirect_uris", sa.Text, nullable=False, server_default="[]"))
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "login_failures",
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure", sa.Float, nullable=False),
        sa.Column("locked_until", sa.Float, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("auth_time", sa.Float, nullable=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "token_families",
        sa.Column("family_id", sa.String(32), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("audiences", sa.Text, nullable=False),
        sa.Column("auth_time", sa.Float, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "authorization_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("family_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("redirect_uri_given", sa.Boolean, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("code_challenge", sa.String(64), nullable=False),
        sa.Column("auth_time", sa.Float, nullable=False),
        sa.Column("used", sa.Boolean, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("family_id", sa.String(32), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("used", sa.Boolean, nullable=False),
        sa.Column("issued_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "access_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("family_id", sa.String(32), nullable=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    for name, table, column in _INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    """Drop the part-2 tables and columns."""
    for name, table, _column in reversed(_INDEXES):
        op.drop_index(name, table)
    for table in (
        "access_tokens",
        "refresh_tokens",
        "authorization_codes",
        "token_families",
        "sessions",
        "login_failures",
        "users",
    ):
        op.drop_table(table)
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("redirect_uris")
        batch.drop_column("client_type")
