"""The part-2 migration and housekeeping: 0001 databases upgrade with their clients intact,
0002 downgrades cleanly, and expired sessions, codes and tokens are purged; both backends."""

from __future__ import annotations

import httpx
from serverhelp import (
    Browser,
    Databases,
    FakeClock,
    Pkce,
    auth_params,
    query_of,
    running_server,
)
from sqlalchemy import func, select

from tessera.server.storage import clients as client_rows
from tessera.server.storage import migrate
from tessera.server.storage.database import Database
from tessera.server.storage.schema import (
    access_tokens,
    codes,
    families,
    refresh_tokens,
    sessions,
)


def test_upgrade_from_0001_keeps_clients(databases: Databases, backend: str) -> None:
    db = Database(databases.new(backend))
    try:
        migrate.upgrade(db, "0001")
        assert migrate.current_revision(db) == "0001"
        with db.write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO clients (client_id, name, secret_hash, auth_methods, grant_types, "
                "scopes, audiences, jwks, created_at, updated_at) VALUES ('old', 'old', 'h', "
                "'client_secret_basic', 'client_credentials', 'read', '[]', NULL, 1, 1)"
            )
        migrate.upgrade(db)
        assert migrate.current_revision(db) == "0008"
        with db.read() as conn:
            record = client_rows.find(conn, "old")
        assert record is not None
        assert record.client_type == "confidential"
        assert record.redirect_uris == ()
        assert record.grant_types == ("client_credentials",)
        from alembic import command

        config = migrate._config()
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn  # type: ignore[attr-defined]
            command.downgrade(config, "0001")  # type: ignore[arg-type]
        assert migrate.current_revision(db) == "0001"
        migrate.upgrade(db)
        assert migrate.current_revision(db) == "0008"
    finally:
        db.dispose()


def test_maintenance_purges_expired_people_rows(databases: Databases, backend: str) -> None:
    clock = FakeClock()
    with running_server(databases.new(backend), backend, clock=clock) as server:
        client = server.add_client(
            scope="read:docs offline_access",
            client_type="public",
            redirect_uris=("http://127.0.0.1:9/cb",),
        )
        user = server.add_user()
        pkce = Pkce.new()
        with Browser(server) as browser:
            location = browser.authorize(auth_params(client, "http://127.0.0.1:9/cb", pkce), user)
        code = query_of(location)["code"]
        response = server.post_token(
            {
                "grant_type": "authorization_code",
                "client_id": client.client_id,
                "code": code,
                "redirect_uri": "http://127.0.0.1:9/cb",
                "code_verifier": pkce.verifier,
            }
        )
        assert response.status_code == 200, response.text

        def count() -> dict[str, int]:
            with server.db.read() as conn:
                return {
                    table.name: int(conn.execute(select(func.count()).select_from(table)).scalar())
                    for table in (sessions, codes, families, refresh_tokens, access_tokens)
                }

        assert all(count().values())
        server.context.maintain()
        assert all(count().values())  # nothing has expired yet
        clock.advance(server.settings.refresh_token_lifetime + 3601)
        server.context.maintain()
        assert count() == dict.fromkeys(count(), 0)


def test_session_cookie_is_secure_host_only_on_an_https_issuer(
    databases: Databases, backend: str
) -> None:
    with running_server(databases.new(backend), backend, issuer="https://auth.example") as server:
        client = server.add_client(redirect_uris=("https://app.example/cb",))
        with httpx.Client(base_url=f"http://127.0.0.1:{server.settings.port}") as http:
            page = http.get(
                "/authorize", params=auth_params(client, "https://app.example/cb", Pkce.new())
            )
    assert page.status_code == 200, page.text
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-tessera_session=")
    lowered = cookie.lower()
    assert "; secure" in lowered
    assert "; httponly" in lowered
    assert "samesite=lax" in lowered
    assert "path=/" in lowered
    assert "domain=" not in lowered


def _upgrade_in_child(url: str, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]
    db = Database(url)
    try:
        migrate.upgrade(db)
    finally:
        db.dispose()


def test_replicas_migrating_a_fresh_database_at_once_all_succeed(
    databases: Databases, backend: str
) -> None:
    # Replicas started together each migrate on start; the database's lock must serialise them
    # (regression: two SQLite replicas both created alembic_version and one failed to start).
    import multiprocessing

    url = databases.new(backend)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    children = [ctx.Process(target=_upgrade_in_child, args=(url, start)) for _ in range(6)]
    for child in children:
        child.start()
    start.set()
    for child in children:
        child.join(120)
    assert [child.exitcode for child in children] == [0] * len(children)
    db = Database(url)
    try:
        assert migrate.current_revision(db) is not None
        with db.read() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
    finally:
        db.dispose()
