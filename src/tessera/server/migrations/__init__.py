"""Alembic migrations for the server schema, run programmatically (``tessera db upgrade``)."""
