"""OpenID Connect: people's claims, the nonce of a code, the browser session of a grant,
and the clients' OpenID registration (ID token algorithm, subject type, logout URIs).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the OpenID columns and the oidc_clients table."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("claims", sa.Text, nullable=True))
    with op.batch_alter_table("authorization_codes") as batch:
        batch.add_column(sa.Column("nonce", sa.Text, nullable=True))
    with op.batch_alter_table("token_families") as batch:
        batch.add_column(sa.Column("sid", sa.String(64), nullable=True))
    op.create_index("ix_token_families_sid", "token_families", ["sid"])
    op.create_table(
        "oidc_clients",
        sa.Column("client_id", sa.String(255), primary_key=True),
        sa.Column("id_token_alg", sa.String(16), nullable=True),
        sa.Column("subject_type", sa.String(16), nullable=False, server_default="public"),
        sa.Column("sector_identifier", sa.Text, nullable=True),
        sa.Column("post_logout_redirect_uris", sa.Text, nullable=False, server_default="[]"),
        sa.Column("backchannel_logout_uri", sa.Text, nullable=True),
    )


def downgrade() -> None:
    """Drop what upgrade added."""
    op.drop_table("oidc_clients")
    op.drop_index("ix_token_families_sid", "token_families")
    with op.batch_alter_table("token_families") as batch:
        batch.drop_column("sid")
    with op.batch_alter_table("authorization_codes") as batch:
        batch.drop_column("nonce")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("claims")
