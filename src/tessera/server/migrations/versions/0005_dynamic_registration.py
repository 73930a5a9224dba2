"""Dynamic client registration (RFC 7591/7592): a client's application type, the hash of its
registration access token and the metadata it registered with.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the three columns (existing clients are web clients, registered by an admin)."""
    with op.batch_alter_table("clients") as batch:
        batch.add_column(
            sa.Column("application_type", sa.String(16), nullable=False, server_default="web")
        )
        batch.add_column(sa.Column("registration_token_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("registration_metadata", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("registration_metadata")
        batch.drop_column("registration_token_hash")
        batch.drop_column("application_type")
