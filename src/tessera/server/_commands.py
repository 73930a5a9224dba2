"""The server commands' bodies (imported only when one runs; the parsers live in ``_cli``)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from tessera.server.config import Settings, load_settings
from tessera.server.errors import AdminError, ServerConfigError
from tessera.server.kek import KEK
from tessera.server.keys import KeyInfo, KeyManager
from tessera.server.storage import migrate
from tessera.server.storage.database import Database

__all__ = ["COMMANDS"]


def _settings(args: argparse.Namespace, **extra: Any) -> Settings:
    return load_settings(args.config, database=args.database, **extra)


def _private_sqlite_file(url: str) -> str | None:
    """Create a new SQLite database file with mode 0600, like the key-encryption key: it holds
    the hashes of secrets, refresh tokens and passwords and the people's claims. SQLite gives
    its -wal and -shm files the database file's mode. An existing file that group or others
    may read (one made before 0600 was the default) is left as it is, with a warning that says
    how to fix it: its mode may be the owner's deliberate choice."""
    import os
    import stat

    from sqlalchemy.engine import make_url

    if not url.startswith("sqlite"):
        return None
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = os.stat(path).st_mode
        if stat.S_ISREG(mode) and mode & (stat.S_IRWXG | stat.S_IRWXO):
            return _OPEN_DATABASE_WARNING.format(path=path, mode=stat.S_IMODE(mode))
        return None
    except OSError:  # SQLite will say why it cannot open it
        return None
    os.close(fd)
    return None


_OPEN_DATABASE_WARNING = (
    "{path} is readable by others (mode {mode:o}); it holds the hashes of client secrets, "
    "refresh tokens and passwords and the people's claims: run chmod 600 {path}"
)


def _database(settings: Settings, warn: Callable[[str], object] | None = None) -> Database:
    """The migrated database; a warning about its file's mode goes to ``warn`` (stderr by
    default; ``serve`` logs it, in its log format)."""
    warning = _private_sqlite_file(settings.database)
    if warning is not None:
        if warn is None:
            sys.stderr.write(f"tessera: warning: {warning}\n")
        else:
            warn(warning)
    db = Database(settings.database, pool_size=2)
    migrate.upgrade(db)
    return db


def _kek(settings: Settings, db: Database, *, create: bool = True) -> KEK:
    """The key-encryption key, made (with ``create``) on the first start only, and proven to
    open the keys.

    Once the database holds keys, they are sealed with a KEK: a server without that one (a
    new replica whose ``TESSERA_KEK`` or ``kek_file`` was forgotten) must not make another
    and then answer 503 to every token request; it refuses to start instead.

    Raises:
        ServerConfigError: no KEK although keys exist, or one that cannot open them.
    """
    from pathlib import Path

    from tessera.server.storage import keys as key_rows

    with db.read() as conn:
        stored = bool(key_rows.list_keys(conn))
    if stored and not settings.kek and not Path(settings.kek_file).exists():
        raise ServerConfigError(
            f"no key-encryption key: {settings.kek_file} does not exist, and the database "
            "holds signing keys sealed with one; give this server the TESSERA_KEK or kek_file "
            "the others use"
        )
    kek = KEK.load(settings.kek, settings.kek_file, create=create)
    KeyManager(db, kek, settings).check_kek()
    return kek


def _print(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _iso(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


# -- audit ----------------------------------------------------------------------------------


def _actor() -> str:
    """Who runs this command: the OS account (from the process's uid, not $USER) @ host."""
    import getpass
    import os
    import socket

    try:
        import pwd

        user = pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        user = getpass.getuser()
    sudo = os.environ.get("SUDO_USER")
    who = f"{user}@{socket.gethostname()}"
    return f"{who} (sudo by {sudo})" if sudo and sudo != user else who


def _audit(db: Database, action: str, target: str, **details: Any) -> None:
    """Append an administrative action to the audit trail (``details``: never a secret)."""
    from tessera.server.storage import audit

    with db.write() as conn:
        audit.record(
            conn, at=time.time(), actor=_actor(), action=action, target=target, details=details
        )


_CLIENT_FACTS = (
    "name",
    "client_type",
    "token_endpoint_auth_methods",
    "grant_types",
    "scope",
    "audiences",
    "redirect_uris",
)


def _client_facts(view: dict[str, Any]) -> dict[str, Any]:
    facts = {name: view[name] for name in _CLIENT_FACTS if name in view}
    if "jwks" in view:
        facts["jwks_kids"] = [str(key.get("kid", "?")) for key in view["jwks"]["keys"]]
    return facts


# -- serve and db ---------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    import dataclasses
    import logging
    import logging.config
    import os
    import shutil
    import tempfile

    from tessera.server import _serving, logs
    from tessera.server.app import SETTINGS_ENV, create_app

    settings = _settings(
        args,
        host=args.host,
        port=args.port,
        issuer=args.issuer,
        log_format=args.log_format,
        access_log=args.access_log,
        metrics=args.metrics,
    )
    if args.workers < 1:
        raise ServerConfigError("--workers must be at least 1")
    metrics_dir_env = "PROMETHEUS_MULTIPROC_DIR"
    cleanup: str | None = None
    log_config = logs.log_config(settings.log_format, access=settings.access_log)
    logging.config.dictConfig(log_config)
    db = _database(settings, logging.getLogger("tessera.server").warning)
    try:
        kek = _kek(settings, db)
    except ServerConfigError:
        db.dispose()
        raise
    for event in KeyManager(db, kek, settings).maintain():
        logging.getLogger("tessera.server").info("keys: %s", event)
    sys.stdout.write(
        f"tessera: issuer   {settings.issuer}\n"
        f"tessera: metadata {settings.metadata_url}\n"
        f"tessera: database {db.display_url}\n"
    )
    sys.stdout.flush()
    options: dict[str, Any] = {
        "access_log": False,  # the app writes its own access lines (logs.RequestLogMiddleware)
        "log_config": log_config,
        "log_level": "info",
        "server_header": False,
        "proxy_headers": False,
        "ws": "none",
        "http": _serving.http_protocol(settings),  # the request head bounded (431)
    }
    # The serving database is the app's own: bounded by database_timeout and the others
    # (these commands' database is not).
    db.dispose()
    if args.workers == 1:
        app = create_app(settings, kek=kek)
        _serving.run(app, host=settings.host, port=settings.port, workers=1, **options)
    else:
        if settings.metrics and not os.environ.get(metrics_dir_env):
            # prometheus-client multiprocess mode: workers write here, any scrape sums them
            os.environ[metrics_dir_env] = tempfile.mkdtemp(prefix="tessera-metrics-")
            cleanup = os.environ[metrics_dir_env]
        values = {
            field.name: getattr(settings, field.name)
            for field in dataclasses.fields(settings)
            if field.name != "kek"
        }
        os.environ[SETTINGS_ENV] = json.dumps(values)
        try:
            _serving.run(
                "tessera.server.app:from_environment",
                host=settings.host,
                port=settings.port,
                workers=args.workers,
                factory=True,
                **options,
            )
        finally:
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = _database(settings)
    try:
        sys.stdout.write(f"{db.display_url}: schema at revision {migrate.current_revision(db)}\n")
    finally:
        db.dispose()
    return 0


# -- keys -----------------------------------------------------------------------------------


def _key_manager(args: argparse.Namespace, *, create_kek: bool) -> KeyManager:
    settings = _settings(args)
    db = _database(settings)
    try:
        kek = _kek(settings, db, create=create_kek)  # a key sealed with another KEK never signs
    except ServerConfigError:
        db.dispose()
        raise
    return KeyManager(db, kek, settings)


def _key_view(info: KeyInfo) -> dict[str, Any]:
    return {
        "kid": info.kid,
        "alg": info.alg,
        "state": info.state.value,
        "published_at": _iso(info.created_at),
        "signs_from": _iso(info.activate_at),
        "retires_at": _iso(info.retire_at),
        "removed_at": _iso(info.remove_at),
    }


def _keys_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    db = _database(settings)
    try:
        keys = KeyManager(db, KEK.generate(), settings).list_keys()  # listing decrypts nothing
    finally:
        db.dispose()
    views = [_key_view(info) for info in keys]
    if args.json:
        _print({"keys": views})
        return 0
    if not views:
        sys.stdout.write("no keys yet: `tessera serve` creates the first one\n")
    for view in views:
        sys.stdout.write(
            f"{view['kid']}  {view['alg']:<6} {view['state']:<8} signs from {view['signs_from']}"
            f"  retires {view['retires_at']}  leaves JWKS {view['removed_at']}\n"
        )
    return 0


def _keys_rotate(args: argparse.Namespace) -> int:
    manager = _key_manager(args, create_kek=True)
    try:
        info = manager.rotate(immediately=args.now, alg=args.alg)
        _audit(
            manager.db,
            "keys rotate",
            info.kid,
            alg=info.alg,
            now=bool(args.now),
            signs_from=_iso(info.activate_at),
        )
    finally:
        manager.db.dispose()
    if args.json:
        _print(_key_view(info))
    else:
        sys.stdout.write(
            f"new key {info.kid} ({info.alg}) published now, signs from {_iso(info.activate_at)}\n"
        )
    if args.now:
        period = manager.settings.pending_period
        sys.stderr.write(_ROTATE_NOW_WARNING.format(kid=info.kid, period=period))
    return 0


_ROTATE_NOW_WARNING = """\
tessera: warning: {kid} signs now, before verifiers have it. A verifier that fetched the JWKS
  less than its refetch cooldown ago rejects every token {kid} signs until that cooldown ends:
  up to 30 s with the defaults of jose and Nimbus JOSE+JWT, up to 5 s with tessera.resource.
  Unless the old key is compromised, rotate without --now: the new key is then published
  {period} s before it signs, and no verifier rejects a token. If it is compromised, also run
  `tessera keys retire OLD_KID --unpublish` so its tokens stop verifying.
"""


def _keys_retire(args: argparse.Namespace) -> int:
    manager = _key_manager(args, create_kek=False)
    try:
        info = manager.retire(args.kid, unpublish=args.unpublish)
        _audit(
            manager.db,
            "keys retire",
            info.kid,
            alg=info.alg,
            unpublish=bool(args.unpublish),
            leaves_jwks=_iso(info.remove_at),
        )
    finally:
        manager.db.dispose()
    if args.json:
        _print(_key_view(info))
    else:
        sys.stdout.write(
            f"key {info.kid} retired; leaves JWKS {_iso(info.remove_at)}\n"
            if not args.unpublish
            else f"key {info.kid} retired and removed from JWKS\n"
        )
    return 0


# -- clients --------------------------------------------------------------------------------


def _with_db(args: argparse.Namespace, action: Callable[[Database, Settings], int]) -> int:
    settings = _settings(args)
    db = _database(settings)
    try:
        return action(db, settings)
    finally:
        db.dispose()


def _show_client(view: dict[str, Any], secret: str | None = None) -> None:
    lines = [
        f"client_id:     {view['client_id']}",
        f"name:          {view['name']}",
        f"type:          {view['client_type']}",
        f"auth methods:  {' '.join(view['token_endpoint_auth_methods'])}",
        f"grant types:   {' '.join(view['grant_types'])}",
        f"scope:         {view['scope'] or '-'}",
        f"audiences:     {' '.join(view['audiences']) or '-'}",
    ]
    for uri in view["redirect_uris"]:
        lines.append(f"redirect uri:  {uri}")
    if "jwks" in view:
        kids = [str(key.get("kid", "?")) for key in view["jwks"]["keys"]]
        lines.append(f"keys:          {' '.join(kids)}")
    for name, value in view.get("openid", {}).items():
        shown = " ".join(value) if isinstance(value, list) else str(value)
        lines.append(f"{name + ':':<15}{shown or '-'}")
    if secret is not None:
        lines.append(f"client_secret: {secret}")
        lines.append("               (shown once: store it now; only its hash is kept)")
    sys.stdout.write("\n".join(lines) + "\n")


def _clients_add(args: argparse.Namespace) -> int:
    from tessera.server import registry

    jwks = None
    if args.jwks is not None:
        try:
            with open(args.jwks, encoding="utf-8") as handle:
                jwks = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise AdminError(f"cannot read {args.jwks}: {exc}") from None

    def action(db: Database, settings: Settings) -> int:
        import dataclasses

        from tessera.server.oidc import registration as openid

        wanted = (
            args.post_logout_redirect_uris
            or args.backchannel_logout_uri
            or args.subject_type != "public"
            or args.sector_identifier
            or args.id_token_alg
        )
        checked = openid.openid_registration(  # checked before the client exists
            "",
            settings,
            id_token_alg=args.id_token_alg,
            subject_type=args.subject_type,
            sector_identifier=args.sector_identifier,
            post_logout_redirect_uris=args.post_logout_redirect_uris,
            backchannel_logout_uri=args.backchannel_logout_uri,
        )
        created = registry.add_client(
            db,
            args.name,
            scope=args.scope,
            audiences=args.audience,
            jwks=jwks,
            grant_types=args.grant_types,
            client_type=args.client_type,
            redirect_uris=args.redirect_uris,
            require_audience=not settings.default_audience,
            now=time.time(),
        )
        view = registry.describe(created.record)
        if wanted:
            record = dataclasses.replace(checked, client_id=created.record.client_id)
            openid.register_openid(db, record)
            view["openid"] = openid.describe_openid(record, settings)
        _audit(db, "clients add", created.record.client_id, **_client_facts(view))
        if args.json:
            _print({**view, "client_secret": created.secret} if created.secret else view)
        else:
            _show_client(view, created.secret)
        return 0

    return _with_db(args, action)


def _clients_update(args: argparse.Namespace) -> int:
    from tessera.server import registry

    def words(values: list[str]) -> tuple[str, ...]:
        return tuple(word for value in values for word in value.split())

    scopes = registry.ListChange(
        tuple(args.scope.split()) if args.scope is not None else None,
        words(args.add_scopes),
        words(args.remove_scopes),
    )
    audiences = registry.ListChange(
        tuple(args.audience) if args.audience else None,
        tuple(args.add_audiences),
        tuple(args.remove_audiences),
    )
    redirects = registry.ListChange(
        tuple(args.redirect_uris) if args.redirect_uris else None,
        tuple(args.add_redirect_uris),
        tuple(args.remove_redirect_uris),
    )

    def action(db: Database, settings: Settings) -> int:
        before, after = registry.update_client(
            db,
            args.client,
            scopes=scopes,
            audiences=audiences,
            redirect_uris=redirects,
            require_audience=not settings.default_audience,
            now=time.time(),
        )
        old, new = registry.describe(before), registry.describe(after)
        changed = [
            name for name in ("scope", "audiences", "redirect_uris") if old[name] != new[name]
        ]
        _audit(
            db,
            "clients update",
            after.client_id,
            name=after.name,
            changed=changed,
            **{name: new[name] for name in changed},
            was={name: old[name] for name in changed},
        )
        if args.json:
            _print(new)
        else:
            _show_client(new)
            if not changed:
                sys.stdout.write("(nothing changed: it already had these)\n")
        return 0

    return _with_db(args, action)


def _clients_list(args: argparse.Namespace) -> int:
    from tessera.server import registry

    def action(db: Database, _settings: Settings) -> int:
        views = [registry.describe(record) for record in registry.list_clients(db)]
        if args.json:
            _print({"clients": views})
        elif not views:
            sys.stdout.write(
                "no clients: add one with `tessera clients add NAME --scope ... --audience URI`\n"
            )
        else:
            for view in views:
                sys.stdout.write(
                    f"{view['client_id']}  {view['name']}  [{view['scope']}]  "
                    f"{' '.join(view['token_endpoint_auth_methods'])}\n"
                )
        return 0

    return _with_db(args, action)


def _clients_show(args: argparse.Namespace) -> int:
    from tessera.server import registry

    def action(db: Database, settings: Settings) -> int:
        from tessera.server.oidc.registration import describe_openid
        from tessera.server.storage import oidc_clients

        record = registry.get_client(db, args.client)
        view = registry.describe(record)
        if "openid" in record.scopes:
            with db.read() as conn:
                view["openid"] = describe_openid(
                    oidc_clients.find(conn, record.client_id), settings
                )
        if args.json:
            _print(view)
        else:
            _show_client(view)
        return 0

    return _with_db(args, action)


def _clients_remove(args: argparse.Namespace) -> int:
    from tessera.server import registry

    def action(db: Database, _settings: Settings) -> int:
        record = registry.remove_client(db, args.client)
        _audit(db, "clients remove", record.client_id, name=record.name)
        if args.json:
            _print({"removed": record.client_id, "name": record.name})
        else:
            sys.stdout.write(f"removed client {record.name} ({record.client_id})\n")
        return 0

    return _with_db(args, action)


def _clients_rotate_secret(args: argparse.Namespace) -> int:
    from tessera.server import registry

    def action(db: Database, _settings: Settings) -> int:
        rotated = registry.rotate_secret(db, args.client, now=time.time())
        _audit(db, "clients rotate-secret", rotated.record.client_id, name=rotated.record.name)
        if args.json:
            _print({"client_id": rotated.record.client_id, "client_secret": rotated.secret})
        else:
            _show_client(registry.describe(rotated.record), rotated.secret)
        return 0

    return _with_db(args, action)


# -- users ----------------------------------------------------------------------------------


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
        if not password:
            raise AdminError("no password on stdin")
        return password
    import getpass

    if not sys.stdin.isatty():
        raise AdminError("stdin is not a terminal: use --password-stdin")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AdminError("the passwords differ")
    return first


def _user_view(record: Any) -> dict[str, Any]:
    return {
        "user_id": record.user_id,
        "username": record.username,
        "created_at": int(record.created_at),
        "updated_at": int(record.updated_at),
    }


def _claims_of(args: argparse.Namespace) -> dict[str, Any]:
    """The OpenID claims given with --email, --name, ..., --claim NAME=VALUE."""
    claims: dict[str, Any] = {}
    for name, value in vars(args).items():
        if name.startswith("claim_") and value is not None:
            claims[name.removeprefix("claim_")] = value
    for item in args.claims:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise AdminError(f"--claim wants NAME=VALUE, not {item!r}")
        claims[name] = value
    return claims


def _users_add(args: argparse.Namespace) -> int:
    from tessera.server import accounts

    claims = _claims_of(args)
    if claims:
        from tessera.server.oidc.claims import checked

        checked(claims)  # before the password prompt
    password = _read_password(args)

    def action(db: Database, _settings: Settings) -> int:
        record = accounts.add_user(db, args.username, password, now=time.time())
        if claims:
            accounts.update_claims(db, record.username, claims, now=time.time())
        _audit(db, "users add", record.username, user_id=record.user_id, claims=sorted(claims))
        if args.json:
            _print({**_user_view(record), "claims": accounts.get_claims(db, record.username)})
        else:
            sys.stdout.write(f"added user {record.username} (sub {record.user_id})\n")
        return 0

    return _with_db(args, action)


def _users_list(args: argparse.Namespace) -> int:
    from tessera.server import accounts

    def action(db: Database, _settings: Settings) -> int:
        views = [_user_view(record) for record in accounts.list_users(db)]
        if args.json:
            _print({"users": views})
        elif not views:
            sys.stdout.write("no users: add one with `tessera users add NAME`\n")
        else:
            for view in views:
                sys.stdout.write(f"{view['username']}  (sub {view['user_id']})\n")
        return 0

    return _with_db(args, action)


def _users_remove(args: argparse.Namespace) -> int:
    from tessera.server import accounts

    def action(db: Database, _settings: Settings) -> int:
        record = accounts.remove_user(db, args.username)
        _audit(db, "users remove", record.username, user_id=record.user_id)
        if args.json:
            _print({"removed": record.username, "user_id": record.user_id})
        else:
            sys.stdout.write(f"removed user {record.username}\n")
        return 0

    return _with_db(args, action)


def _users_update(args: argparse.Namespace) -> int:
    from tessera.server import accounts

    claims = _claims_of(args)
    if not claims and not args.unset:
        raise AdminError("nothing to change: give --email, --name, --claim NAME=VALUE or --unset")

    def action(db: Database, _settings: Settings) -> int:
        now = time.time()
        stored = accounts.update_claims(
            db, args.username, claims, remove=tuple(args.unset), now=now
        )
        # claim names only: their values are personal data
        _audit(db, "users update", args.username, set=sorted(claims), unset=sorted(args.unset))
        if args.json:
            view = _user_view(accounts.get_user(db, args.username))
            _print({**view, "claims": stored})
        else:
            sys.stdout.write(f"updated {args.username}: {', '.join(sorted(stored)) or '-'}\n")
        return 0

    return _with_db(args, action)


def _users_show(args: argparse.Namespace) -> int:
    from tessera.server import accounts

    def action(db: Database, _settings: Settings) -> int:
        view = {
            **_user_view(accounts.get_user(db, args.username)),
            "claims": accounts.get_claims(db, args.username),
        }
        if args.json:
            _print(view)
        else:
            sys.stdout.write(f"{view['username']}  (sub {view['user_id']})\n")
            for name, value in sorted(view["claims"].items()):
                sys.stdout.write(f"  {name}: {json.dumps(value, ensure_ascii=False)}\n")
        return 0

    return _with_db(args, action)


def _users_set_password(args: argparse.Namespace) -> int:
    from tessera.server import accounts

    password = _read_password(args)

    def action(db: Database, _settings: Settings) -> int:
        record = accounts.set_password(db, args.username, password, now=time.time())
        _audit(db, "users set-password", record.username, user_id=record.user_id)
        if args.json:
            _print(_user_view(record))
        else:
            sys.stdout.write(f"password of {record.username} changed\n")
        return 0

    return _with_db(args, action)


# -- audit trail ----------------------------------------------------------------------------


def _since(value: str) -> float:
    """Seconds since the epoch from a duration ago (``90m``, ``7d``) or a UTC date/time."""
    import calendar
    from datetime import datetime

    from tessera.server.config import parse_duration

    try:
        return time.time() - parse_duration(value, "--since")
    except ServerConfigError:
        pass
    text = value.strip().removesuffix("Z")
    for pattern in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return float(calendar.timegm(datetime.strptime(text, pattern).timetuple()))
        except ValueError:
            continue
    raise AdminError(f"--since {value!r}: give a duration (90m, 7d) or a UTC date (2026-12-01)")


def _audit_list(args: argparse.Namespace) -> int:
    from tessera.server.storage import audit

    if args.limit < 1 or args.limit > 100_000:
        raise AdminError("--limit must be between 1 and 100000")
    since = _since(args.since) if args.since is not None else None

    def action(db: Database, _settings: Settings) -> int:
        with db.read() as conn:
            events = audit.list_events(conn, since=since, action=args.action, limit=args.limit)
        views: list[dict[str, Any]] = [
            {
                "at": _iso(event.at),
                "actor": event.actor,
                "action": event.action,
                "target": event.target,
                "details": event.details,
            }
            for event in events
        ]
        if args.json:
            _print({"events": views})
        elif not views:
            sys.stdout.write("no audit events\n")
        for view in [] if args.json else views:
            facts = " ".join(
                f"{name}={json.dumps(value, ensure_ascii=False)}"
                for name, value in sorted(view["details"].items())
            )
            sys.stdout.write(
                f"{view['at']}  {view['actor']}  {view['action']}  {view['target']}  {facts}\n"
            )
        return 0

    return _with_db(args, action)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "audit": _audit_list,
    "serve": _serve,
    "db upgrade": _db_upgrade,
    "keys list": _keys_list,
    "keys rotate": _keys_rotate,
    "keys retire": _keys_retire,
    "clients add": _clients_add,
    "clients update": _clients_update,
    "clients list": _clients_list,
    "clients show": _clients_show,
    "clients remove": _clients_remove,
    "clients rotate-secret": _clients_rotate_secret,
    "users add": _users_add,
    "users list": _users_list,
    "users remove": _users_remove,
    "users set-password": _users_set_password,
    "users update": _users_update,
    "users show": _users_show,
}
