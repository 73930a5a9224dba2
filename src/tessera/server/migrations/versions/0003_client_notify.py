"""PostgreSQL: announce every change to the clients table on the ``tessera_clients`` channel,
so the token endpoints of all replicas drop the client records they hold (SQLite: nothing).

The trigger fires for any change, made by Tessera or by hand in SQL.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the notifying function and its statement-level trigger."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION tessera_clients_changed() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('tessera_clients', ''); "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER tessera_clients_changed "
        "AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clients "
        "FOR EACH STATEMENT EXECUTE FUNCTION tessera_clients_changed()"
    )


def downgrade() -> None:
    """Drop the trigger and its function."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS tessera_clients_changed ON clients")
    op.execute("DROP FUNCTION IF EXISTS tessera_clients_changed()")
