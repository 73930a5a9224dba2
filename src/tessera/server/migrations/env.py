"""Alembic environment: runs on the connection handed over by ``tessera.server.storage.migrate``."""

from __future__ import annotations

from alembic import context

from tessera.server.storage.schema import metadata


def _run() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


_run()
