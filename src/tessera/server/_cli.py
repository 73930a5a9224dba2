"""Server commands for the ``tessera`` command line: serve, db, keys, clients.

``add_commands(subparsers)`` defines the parsers with argparse alone (no Starlette or
SQLAlchemy import); running a command imports what it needs. ``run(args)`` dispatches and
returns the exit status: 0 success, 2 the command could not be done (message on stderr).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tessera._install import install_hint

__all__ = ["add_commands", "run"]

_SERVE_EPILOG = """\
examples:
  tessera serve                                   # SQLite ./tessera.db, http://127.0.0.1:8000
  tessera serve --database postgresql://postgres@127.0.0.1/tessera --port 9000 --workers 2
  TESSERA_ISSUER=https://auth.example.com tessera serve --host 0.0.0.0
"""

_CLIENTS_DESCRIPTION = """\
Register the applications that ask this server for tokens, by the grant they use:
  client_credentials    a service acting for itself (the default without --redirect-uri):
                        a secret, or --jwks FILE for private_key_jwt
  authorization_code    an app acting for a person who signs in at /authorize (PKCE S256):
                        --redirect-uri URI; with refresh_token unless --grant says otherwise
  refresh_token         new tokens for the person without signing in again (rotated on use;
                        ask for the offline_access scope to get one)
A browser or mobile app holds no secret: --type public (authorization_code + PKCE only).
Every client needs --audience (the API its tokens are for) unless the server has a
default_audience, or it only signs people in (scope openid).
"""

_CLIENTS_EPILOG = """\
examples:
  tessera clients add reports --scope "read:docs write:docs" --audience https://api.example
  tessera clients add batch --scope read:docs --audience https://api.example --jwks batch.jwks
  tessera clients list
  tessera clients update reports --add-scope admin:docs --remove-scope write:docs
  tessera clients rotate-secret reports --json
  tessera clients add web --scope "read:docs offline_access" --audience https://api.example \\
      --redirect-uri https://app.example/callback
  tessera clients add spa --type public --scope read:docs --audience https://api.example \\
      --redirect-uri http://127.0.0.1:5173/callback
"""

_ROTATE_EPILOG = """\
Without --now (the safe way) the new key is published in /jwks.json at once and signs only
after jwks_max_age + 30 s (930 s by default): every verifier that honours Cache-Control
holds it before the first token it signs, so no verifier rejects a token. The current key
signs until then, then stays published until its last token has expired.

--now is for a compromised key: the new key signs at once, before verifiers have it. A
verifier that fetched the JWKS less than its refetch cooldown ago rejects every token signed
by the new key until that cooldown ends: up to 30 s with the defaults of jose
(cooldownDuration) and Nimbus JOSE+JWT (rate limit), up to 5 s with tessera.resource
(unknown_kid_cooldown; up to 30 s while it is being sent made-up kids).
Tokens signed by the old key keep verifying until it leaves JWKS; to stop them as well, also
run `tessera keys retire OLD_KID --unpublish`.

examples:
  tessera keys rotate                      # scheduled: publish now, sign in 930 s
  tessera keys rotate --now                # emergency: sign with a new key at once
  tessera keys retire OLD_KID --unpublish  # and refuse the compromised key's tokens
"""

_UPDATE_EPILOG = """\
examples:
  tessera clients update reports --add-audience https://reports.example
  tessera clients update reports --scope "read:docs"          # replaces every scope
  tessera clients update web --remove-redirect-uri https://old.example/cb \\
      --add-redirect-uri https://app.example/cb
"""

_USERS_EPILOG = """\
examples:
  tessera users add alice                       # asks for the password twice
  printf '%s\\n' "$PASSWORD" | tessera users add bob --password-stdin
  tessera users list
  tessera users set-password alice
  tessera users update alice --email alice@example.org --email-verified --name "Alice Liddell"
  tessera users update alice --claim locale=en-GB --unset phone_number
  tessera users show alice --json
  tessera users remove bob
"""

_CLAIM_FLAGS = (
    ("--email", "email", "email address (OpenID claim email; scope email)"),
    ("--name", "name", "full name (claim name; scope profile)"),
    ("--given-name", "given_name", "given name (scope profile)"),
    ("--family-name", "family_name", "family name (scope profile)"),
    ("--phone", "phone_number", "phone number, E.164 recommended (scope phone)"),
    ("--address", "address", "postal address, one line (address.formatted; scope address)"),
)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE", help="settings file (default: ./tessera.toml if present)"
    )
    parser.add_argument(
        "--database",
        metavar="URL",
        help="SQLite path or URL, or postgresql://... (default ./tessera.db)",
    )


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``serve``, ``db``, ``keys``, ``clients``, ``users`` and ``audit`` to a subparsers
    object."""
    serve = subparsers.add_parser(
        "serve",
        help="run the OAuth 2.0 authorization server",
        description="Run the OAuth 2.0 authorization server and OpenID provider.\n"
        "Grants: client_credentials, authorization_code (PKCE S256) and refresh_token\n"
        "(rotated on use). JWT access tokens (RFC 9068), ID tokens and UserInfo, introspection\n"
        "(RFC 7662) and revocation (RFC 7009), JWKS with key rotation, RFC 8414 and OpenID\n"
        "discovery metadata; optional dynamic registration and client metadata documents.",
        epilog=_SERVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--issuer", help="issuer URL (default http://HOST:PORT)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument(
        "--access-log",
        action="store_true",
        default=None,
        help="log one line per request (method, route, status, latency, client, grant, "
        "outcome, request id)",
    )
    serve.add_argument(
        "--metrics",
        action="store_true",
        default=None,
        help="serve Prometheus metrics at /metrics (TESSERA_METRICS_TOKEN: require a bearer)",
    )
    serve.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="text (default) or json: one JSON object per line, with the request id",
    )
    serve.set_defaults(server_command="serve", handler=_handler)

    db = subparsers.add_parser("db", help="database schema (migrations)")
    db_sub = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply the migrations (serve does it on start)")
    _common(upgrade)
    upgrade.set_defaults(server_command="db upgrade", handler=_handler)

    keys = subparsers.add_parser("keys", help="the server's signing keys and their rotation")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="COMMAND", required=True)
    listing = keys_sub.add_parser("list", help="keys with their state and schedule")
    _common(listing)
    _json(listing)
    listing.set_defaults(server_command="keys list", handler=_handler)
    rotate = keys_sub.add_parser(
        "rotate",
        help="publish a new key now; it signs after one JWKS cache period",
        description="Start a key rotation: a new key, published now.",
        epilog=_ROTATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(rotate)
    _json(rotate)
    rotate.add_argument(
        "--now",
        action="store_true",
        help="sign with the new key at once; verifiers that fetched JWKS within their refetch "
        "cooldown (30 s in jose and Nimbus, 5 s in tessera.resource) reject its tokens until "
        "it ends (see below)",
    )
    rotate.add_argument(
        "--alg",
        help="the ring to rotate: signing_alg (access tokens, the default) or "
        "id_token_signing_alg (ID tokens)",
    )
    rotate.set_defaults(server_command="keys rotate", handler=_handler)
    retire = keys_sub.add_parser(
        "retire", help="stop signing with a key now; it stays published until its tokens expire"
    )
    _common(retire)
    _json(retire)
    retire.add_argument("kid")
    retire.add_argument(
        "--unpublish",
        action="store_true",
        help="also remove it from JWKS now, so its tokens stop verifying (compromised key)",
    )
    retire.set_defaults(server_command="keys retire", handler=_handler)

    clients = subparsers.add_parser(
        "clients",
        help="register and manage OAuth clients",
        description=_CLIENTS_DESCRIPTION,
        epilog=_CLIENTS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    clients_sub = clients.add_subparsers(dest="clients_command", metavar="COMMAND", required=True)
    add = clients_sub.add_parser("add", help="register a client; prints its secret once")
    _common(add)
    _json(add)
    add.add_argument("name")
    add.add_argument(
        "--scope", default="", help='scopes it may ask for, e.g. "read:docs write:docs"'
    )
    add.add_argument(
        "--audience",
        action="append",
        default=[],
        metavar="URI",
        help="the API (resource) its tokens are for (repeatable; the first is the default "
        "aud); required unless the server has default_audience or the scope has openid",
    )
    add.add_argument(
        "--jwks", metavar="FILE", help="public JWK Set: the client uses private_key_jwt"
    )
    add.add_argument(
        "--type",
        dest="client_type",
        choices=("confidential", "public"),
        default="confidential",
        help="public: no secret (browser or mobile app; PKCE only); default confidential",
    )
    add.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        metavar="URI",
        dest="redirect_uris",
        help="where /authorize may send the code (repeatable; matched exactly)",
    )
    add.add_argument(
        "--grant",
        action="append",
        metavar="TYPE",
        dest="grant_types",
        choices=("client_credentials", "authorization_code", "refresh_token"),
        help="allowed grant (repeatable): client_credentials, authorization_code or "
        "refresh_token; default authorization_code + refresh_token with --redirect-uri or "
        "--type public, else client_credentials",
    )
    add.add_argument(
        "--post-logout-redirect-uri",
        action="append",
        default=[],
        metavar="URI",
        dest="post_logout_redirect_uris",
        help="OpenID: where /logout may send the browser afterwards (repeatable; exact match)",
    )
    add.add_argument(
        "--backchannel-logout-uri",
        metavar="URI",
        help="OpenID: where logout tokens are POSTed when the person signs out",
    )
    add.add_argument(
        "--subject-type",
        choices=("public", "pairwise"),
        default="public",
        help="OpenID: pairwise gives this client (its sector) its own sub for each person",
    )
    add.add_argument(
        "--sector-identifier",
        metavar="HOST",
        help="OpenID pairwise: clients with the same sector see the same sub "
        "(default: the redirect URIs' host)",
    )
    add.add_argument(
        "--id-token-alg",
        metavar="ALG",
        help="OpenID: id_token_signed_response_alg (default id_token_signing_alg, RS256)",
    )
    add.set_defaults(server_command="clients add", handler=_handler)
    _add_clients_update(clients_sub)
    for name, help_text in (
        ("list", "every client"),
        ("show", "one client (by name or id)"),
        ("remove", "delete a client (its issued tokens expire on their own)"),
        ("rotate-secret", "a new secret (printed once); the old one stops working"),
    ):
        child = clients_sub.add_parser(name, help=help_text)
        _common(child)
        _json(child)
        if name != "list":
            child.add_argument("client", metavar="NAME_OR_ID")
        child.set_defaults(server_command=f"clients {name}", handler=_handler)
    _add_users(subparsers)
    _add_audit(subparsers)


def _add_clients_update(clients_sub: argparse._SubParsersAction[Any]) -> None:
    update = clients_sub.add_parser(
        "update",
        help="change a client's scopes, audiences or redirect URIs (its id and secret stay)",
        description="Change what a client may ask for; its id, secret and keys stay.\n"
        "--scope, --audience and --redirect-uri replace the whole list; the --add- and\n"
        "--remove- forms change one entry. Access tokens already issued keep what they were\n"
        "given until they expire (revoke them, POST /revoke, to take a scope back at once);\n"
        "a refresh gets only the grant's scopes and audiences the client still has\n"
        "(invalid_scope or invalid_target when none is left; the refresh token stays valid).",
        epilog=_UPDATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(update)
    _json(update)
    update.add_argument("client", metavar="NAME_OR_ID")
    update.add_argument("--scope", help='the new scopes, replacing all, e.g. "read:docs"')
    for flag, dest, metavar, what, whole in (
        ("scope", "scopes", "SCOPE", "a scope", ""),
        ("audience", "audiences", "URI", "an audience", "audiences"),
        ("redirect-uri", "redirect_uris", "URI", "a redirect URI", "redirect URIs"),
    ):
        if whole:
            update.add_argument(
                f"--{flag}",
                action="append",
                default=[],
                metavar=metavar,
                dest="audience" if flag == "audience" else dest,
                help=f"the new {whole}, replacing all (repeatable)",
            )
        update.add_argument(
            f"--add-{flag}",
            action="append",
            default=[],
            metavar=metavar,
            dest=f"add_{dest}",
            help=f"add {what} (repeatable)",
        )
        update.add_argument(
            f"--remove-{flag}",
            action="append",
            default=[],
            metavar=metavar,
            dest=f"remove_{dest}",
            help=f"remove {what} (repeatable)",
        )
    update.set_defaults(server_command="clients update", handler=_handler)


def _add_audit(subparsers: argparse._SubParsersAction[Any]) -> None:
    audit = subparsers.add_parser(
        "audit",
        help="administrative actions recorded in the database (newest first)",
        description="List the audit trail: who (OS user@host) did what (clients, users, keys) "
        "and when. Secrets, passwords and claim values are never recorded.",
        epilog="examples:\n  tessera audit --since 7d\n  tessera audit --action clients "
        "--limit 20\n  tessera audit --action 'keys rotate' --json\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(audit)
    _json(audit)
    audit.add_argument(
        "--since", metavar="WHEN", help="a duration ago (90m, 7d) or a UTC date/time (2026-12-01)"
    )
    audit.add_argument(
        "--action", metavar="ACTION", help="one action ('clients add') or a group ('clients')"
    )
    audit.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    audit.set_defaults(server_command="audit", handler=_handler)


def _add_users(subparsers: argparse._SubParsersAction[Any]) -> None:
    users = subparsers.add_parser(
        "users",
        help="people who sign in at /authorize",
        epilog=_USERS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    users_sub = users.add_subparsers(dest="users_command", metavar="COMMAND", required=True)
    for name, help_text in (
        ("add", "create a user (password hashed with argon2id)"),
        ("list", "every user"),
        ("remove", "delete a user"),
        ("set-password", "replace a user's password"),
        ("update", "set or remove the OpenID claims of a user (email, name, ...)"),
        ("show", "one user with their OpenID claims"),
    ):
        child = users_sub.add_parser(name, help=help_text)
        _common(child)
        _json(child)
        if name != "list":
            child.add_argument("username", metavar="NAME")
        if name in ("add", "set-password"):
            child.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the password from the first line of stdin (else prompt twice)",
            )
        if name in ("add", "update"):
            _claim_options(child, update=name == "update")
        child.set_defaults(server_command=f"users {name}", handler=_handler)


def _claim_options(parser: argparse.ArgumentParser, *, update: bool) -> None:
    """The OpenID claim flags of ``users add`` and ``users update``."""
    for flag, claim, help_text in _CLAIM_FLAGS:
        parser.add_argument(flag, dest=f"claim_{claim}", metavar="VALUE", help=help_text)
    for flag, claim in (("--email-verified", "email"), ("--phone-verified", "phone_number")):
        parser.add_argument(
            flag,
            dest=f"claim_{claim}_verified",
            action="store_const",
            const=True,
            help=f"the {claim.replace('_', ' ')} was verified ({claim}_verified: true)",
        )
    parser.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        dest="claims",
        help="any other standard claim (locale=en-GB, picture=https://..., birthdate=...)",
    )
    if update:
        parser.add_argument(
            "--unset",
            action="append",
            default=[],
            metavar="NAME",
            help="remove a claim (repeatable)",
        )


def _handler(args: argparse.Namespace, _out: object = None) -> int:
    """Adapter for the main CLI, which calls ``args.handler(args, out)``."""
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Run the server command named by ``args.server_command``; the exit status."""
    from tessera.server.errors import ServerError

    try:
        from tessera.server import _commands

        command = _commands.COMMANDS[args.server_command]
        return command(args)
    except ServerError as exc:
        sys.stderr.write(f"tessera: {exc}\n")
        return int(getattr(exc, "exit_code", 2))
    except ImportError as exc:
        sys.stderr.write(f"tessera: {exc}; install the server extra: {install_hint('server')}\n")
        return 2
    except Exception as exc:
        from sqlalchemy.exc import OperationalError

        if not isinstance(exc, OperationalError):
            raise
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        sys.stderr.write(f"tessera: the database cannot be used: {reason}\n")
        return 2
