"""Client registration for administrators: add, list, show, remove, rotate secrets.

Secrets are ``secrets.token_urlsafe(32)`` (256 random bits), returned once and stored as
SHA-256: for a random secret that long a fast hash is right; slow password hashes are for
passwords people choose. Clients with a JWK Set authenticate with ``private_key_jwt`` and get
no secret; only the public halves of their keys are stored.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError

import tessera
from tessera.server.clientauth import hash_secret
from tessera.server.errors import AdminError
from tessera.server.grants import GRANT_TYPES
from tessera.server.grants.scope import is_scope_token
from tessera.server.storage import clients as client_rows
from tessera.server.storage.clients import ClientRecord
from tessera.server.storage.database import Database

__all__ = [
    "CLIENT_TYPES",
    "NO_AUDIENCE",
    "ListChange",
    "NewClient",
    "add_client",
    "describe",
    "get_client",
    "list_clients",
    "new_id",
    "remove_client",
    "rotate_secret",
    "update_client",
]

_NAME = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,199}\Z")
_SECRET_METHODS = ("client_secret_basic", "client_secret_post")
CLIENT_TYPES = ("confidential", "public")
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
_PRIVATE_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+\Z")  # RFC 8252 sec. 7.1


NO_AUDIENCE = (
    "no --audience and no default_audience: this client could never get a token (every "
    "request would be invalid_target). Pass --audience URI (the API its tokens are for; "
    "repeatable), or set default_audience (tessera.toml [server] or TESSERA_DEFAULT_AUDIENCE) "
    "for the clients registered without one"
)
"""Why a client without an audience is refused when the server has no default one."""


@dataclass(frozen=True, slots=True)
class NewClient:
    """A client just created (or whose secret was just rotated) and its secret, shown once."""

    record: ClientRecord
    secret: str | None


def new_id() -> str:
    """128 random bits, base64url, never starting with ``-`` (a command line reads that as an
    option: ``tessera clients show -abc`` would fail)."""
    while True:
        value = secrets.token_urlsafe(16)
        if not value.startswith("-"):
            return value


def _check_audiences(audiences: Iterable[str]) -> tuple[str, ...]:
    checked = []
    for audience in audiences:
        if not urlsplit(audience).scheme or "#" in audience or any(c.isspace() for c in audience):
            raise AdminError(f"audience {audience!r} must be an absolute URI without a fragment")
        checked.append(audience)
    return tuple(dict.fromkeys(checked))


def _check_redirect_uris(uris: Iterable[str]) -> tuple[str, ...]:
    """Absolute URIs without fragment: https, http on loopback, or a private-use scheme
    (RFC 8252 sec. 7.1, reverse domain name); compared later as exact strings."""
    checked = []
    for uri in uris:
        parts = urlsplit(uri)
        try:
            host = parts.hostname
        except ValueError:
            host = None
        allowed = (
            (parts.scheme == "https" and host)
            or (parts.scheme == "http" and host in _LOOPBACK)
            or _PRIVATE_SCHEME.match(parts.scheme)
        )
        if (
            not allowed
            or "#" in uri
            or "@" in parts.netloc
            or any(c.isspace() or ord(c) < 0x21 or ord(c) > 0x7E for c in uri)
            or len(uri) > 2000
        ):
            raise AdminError(
                f"redirect URI {uri!r} must be https, http on localhost or a private-use "
                "scheme (com.example.app:/cb), without a fragment"
            )
        checked.append(uri)
    return tuple(dict.fromkeys(checked))


def _check_scopes(scope: str) -> tuple[str, ...]:
    tokens = scope.split()
    bad = [t for t in tokens if not is_scope_token(t)]
    if bad:
        raise AdminError(f"not a valid scope token: {bad[0]!r}")
    return tuple(dict.fromkeys(tokens))


def _public_jwks(jwks_text: str) -> str:
    try:
        keyset = tessera.KeySet.from_jwks(jwks_text)
    except tessera.InvalidKey as exc:
        raise AdminError(f"unusable JWK Set: {exc}") from None
    if not len(keyset):
        raise AdminError("the JWK Set holds no keys")
    public = []
    for key in keyset:
        if key.kty == "oct":
            raise AdminError("private_key_jwt needs asymmetric keys (RSA, EC or OKP), not oct")
        public.append(key.public().to_jwk() if key.is_private else key.to_jwk())
    return json.dumps({"keys": public}, separators=(",", ":"))


def add_client(
    db: Database,
    name: str,
    *,
    scope: str,
    audiences: Sequence[str] = (),
    jwks: str | None = None,
    grant_types: Sequence[str] | None = None,
    client_type: str = "confidential",
    redirect_uris: Sequence[str] = (),
    require_audience: bool = False,
    now: float,
) -> NewClient:
    """Register a client: a secret client, a ``private_key_jwt`` one when ``jwks`` is given,
    or a public one (no credentials: PKCE and the tokens it holds are its only proof).

    Without ``grant_types``, a client with redirect URIs (or a public one) gets
    ``authorization_code`` and ``refresh_token``, any other ``client_credentials``.

    With ``require_audience`` (the server has no ``default_audience``), a client without
    audiences is refused unless it asks for ``openid`` (its tokens are then for UserInfo):
    every token request it made would be ``invalid_target``.

    Raises:
        AdminError: bad name, scope, audience, redirect URI or JWK Set, unknown or
            inconsistent grant, no audience where one is required, or a duplicate name.
    """
    if not _NAME.match(name):
        raise AdminError("a client name is 1-200 printable ASCII characters")
    if client_type not in CLIENT_TYPES:
        raise AdminError("a client type is confidential or public")
    public = client_type == "public"
    redirects = _check_redirect_uris(redirect_uris)
    if grant_types is None:
        personal = public or bool(redirects)
        grant_types = ("authorization_code", "refresh_token") if personal else GRANT_TYPES[:1]
    grant_types = tuple(dict.fromkeys(grant_types))
    unknown = [g for g in grant_types if g not in GRANT_TYPES]
    if unknown:
        raise AdminError(f"unsupported grant type {unknown[0]!r}")
    if not grant_types:
        raise AdminError("a client needs at least one grant type")
    if "authorization_code" in grant_types and not redirects:
        raise AdminError("the authorization_code grant needs at least one --redirect-uri")
    if public and "client_credentials" in grant_types:
        raise AdminError("a public client cannot use client_credentials (it has no credentials)")
    if public and jwks is not None:
        raise AdminError("a public client has no keys; drop --jwks or make it confidential")
    secret = None if jwks is not None or public else secrets.token_urlsafe(32)
    if public:
        methods: tuple[str, ...] = ("none",)
    elif secret is not None:
        methods = _SECRET_METHODS
    else:
        methods = ("private_key_jwt",)
    record = ClientRecord(
        client_id=new_id(),
        name=name,
        secret_hash=hash_secret(secret) if secret is not None else None,
        auth_methods=methods,
        grant_types=grant_types,
        scopes=_check_scopes(scope),
        audiences=_check_audiences(audiences),
        jwks=_public_jwks(jwks) if jwks is not None else None,
        created_at=now,
        updated_at=now,
        client_type=client_type,
        redirect_uris=redirects,
    )
    if require_audience and not record.audiences and "openid" not in record.scopes:
        raise AdminError(NO_AUDIENCE)
    try:
        with db.write() as conn:
            client_rows.insert_client(conn, record)
    except IntegrityError:
        raise AdminError(f"a client named {name!r} already exists") from None
    return NewClient(record, secret)


def get_client(db: Database, name_or_id: str) -> ClientRecord:
    """The client with this id or name.

    Raises:
        AdminError: no such client.
    """
    with db.read() as conn:
        record = client_rows.find_by_name_or_id(conn, name_or_id)
    if record is None:
        raise AdminError(f"no client {name_or_id!r}")
    return record


def list_clients(db: Database) -> list[ClientRecord]:
    """Every client, by name."""
    with db.read() as conn:
        return client_rows.list_all(conn)


def remove_client(db: Database, name_or_id: str) -> ClientRecord:
    """Delete a client; its tokens stay valid until they expire (they are self-contained).

    Raises:
        AdminError: no such client.
    """
    from tessera.server.storage import oidc_clients

    record = get_client(db, name_or_id)
    with db.write() as conn:
        client_rows.delete_client(conn, record.client_id)
        oidc_clients.delete_registration(conn, record.client_id)
    return record


def rotate_secret(db: Database, name_or_id: str, *, now: float) -> NewClient:
    """Give a secret client a new secret; the old one stops working at once.

    Raises:
        AdminError: no such client, or a private_key_jwt client (it has no secret).
    """
    record = get_client(db, name_or_id)
    if record.is_public:
        raise AdminError("this is a public client: it has no secret")
    if record.secret_hash is None:
        raise AdminError("this client authenticates with private_key_jwt and has no secret")
    secret = secrets.token_urlsafe(32)
    with db.write() as conn:
        client_rows.set_secret_hash(conn, record.client_id, hash_secret(secret), now)
    return NewClient(get_client(db, record.client_id), secret)


@dataclass(frozen=True, slots=True)
class ListChange:
    """A change to one of a client's lists: replace it (when ``replace`` is given), then
    remove and add entries."""

    replace: tuple[str, ...] | None = None
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.replace is not None or bool(self.add) or bool(self.remove)

    def apply(self, current: Sequence[str], what: str) -> tuple[str, ...]:
        """The new list.

        Raises:
            AdminError: removing an entry the list does not have (a typo, most likely).
        """
        values = list(self.replace if self.replace is not None else current)
        for value in self.remove:
            if value not in values:
                raise AdminError(f"{value!r} is not among its {what}")
        values = [value for value in values if value not in self.remove]
        values += [value for value in self.add if value not in values]
        return tuple(dict.fromkeys(values))


def update_client(
    db: Database,
    name_or_id: str,
    *,
    scopes: ListChange = ListChange(),
    audiences: ListChange = ListChange(),
    redirect_uris: ListChange = ListChange(),
    require_audience: bool = False,
    now: float,
) -> tuple[ClientRecord, ClientRecord]:
    """Change a client's scopes, audiences or redirect URIs, checked as ``add_client`` checks
    them; the client before and after. Tokens already issued keep what they were given.

    Raises:
        AdminError: no such client, nothing to change, a bad or absent entry, a code client
            left without redirect URIs, no audience where one is required (see
            ``add_client``), or a client that registered itself (its registration access
            token manages it, RFC 7592).
    """
    import dataclasses

    if not (scopes or audiences or redirect_uris):
        raise AdminError(
            "nothing to change: give --scope, --audience, --redirect-uri or their "
            "--add-/--remove- forms"
        )
    record = get_client(db, name_or_id)
    with db.read() as conn:
        if client_rows.find_registered(conn, record.client_id) is not None:
            raise AdminError(
                "this client registered itself (dynamic registration): it changes its "
                "metadata with its registration access token (RFC 7592)"
            )
    new_scopes = _check_scopes(" ".join(scopes.apply(record.scopes, "scopes")))
    new_audiences = _check_audiences(audiences.apply(record.audiences, "audiences"))
    new_redirects = _check_redirect_uris(redirect_uris.apply(record.redirect_uris, "redirect URIs"))
    if "authorization_code" in record.grant_types and not new_redirects:
        raise AdminError("the authorization_code grant needs at least one redirect URI")
    if require_audience and not new_audiences and "openid" not in new_scopes:
        raise AdminError(NO_AUDIENCE)
    updated = dataclasses.replace(
        record,
        scopes=new_scopes,
        audiences=new_audiences,
        redirect_uris=new_redirects,
        updated_at=now,
    )
    with db.write() as conn:
        if not client_rows.set_lists(conn, updated):
            raise AdminError(f"no client {name_or_id!r}")
    return record, updated


def describe(record: ClientRecord) -> dict[str, Any]:
    """A client as shown to administrators: never the secret or its hash."""
    view: dict[str, Any] = {
        "client_id": record.client_id,
        "name": record.name,
        "client_type": record.client_type,
        "redirect_uris": list(record.redirect_uris),
        "token_endpoint_auth_methods": list(record.auth_methods),
        "grant_types": list(record.grant_types),
        "scope": " ".join(record.scopes),
        "audiences": list(record.audiences),
        "created_at": int(record.created_at),
        "updated_at": int(record.updated_at),
    }
    if record.jwks is not None:
        view["jwks"] = json.loads(record.jwks)
    return view
