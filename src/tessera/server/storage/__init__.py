"""Persistence: the SQL schema, the engine for SQLite or PostgreSQL, and repository functions.

Everything here is synchronous SQLAlchemy Core (no ORM on the hot path); the HTTP layer calls
it from a worker thread. Each module is one table's repository (``clients``, ``keys``,
``assertions``, ``users``, ``throttle``, ``sessions``; ``grants`` holds a person's grant with its
codes and tokens); ``schema`` declares the tables and ``database`` builds the engine.
"""

from tessera.server.storage.database import Database

__all__ = ["Database"]
