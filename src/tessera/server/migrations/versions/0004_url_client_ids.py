"""URL client ids (Client ID Metadata Documents): every ``client_id`` column holds up to 255
characters instead of 64 (SQLite does not enforce lengths: nothing to do there).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = (
    "clients",
    "used_assertions",
    "token_families",
    "authorization_codes",
    "refresh_tokens",
    "access_tokens",
)


def upgrade() -> None:
    """Widen the client_id columns to 255 characters."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.alter_column(table, "client_id", type_=sa.String(255), existing_type=sa.String(64))


def downgrade() -> None:
    """Narrow them back (fails while a longer id is stored)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.alter_column(table, "client_id", type_=sa.String(64), existing_type=sa.String(255))
