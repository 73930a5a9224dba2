"""OpenID Connect: the claims a grant's authorization request asked for by name (the
``claims`` parameter, OIDC Core sec. 5.5, and ``acr_values``).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add token_families.claims."""
    with op.batch_alter_table("token_families") as batch:
        batch.add_column(sa.Column("claims", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop token_families.claims."""
    with op.batch_alter_table("token_families") as batch:
        batch.drop_column("claims")
