"""Server settings: defaults, then ``tessera.toml`` (``[server]``), then ``TESSERA_*``, then flags.

Durations are seconds or a number with a unit (``90s``, ``15m``, ``12h``, ``30d``). Unknown
keys and bad values are refused with a message naming them, so a typo never falls back to a
default silently.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tessera.server.errors import ServerConfigError

__all__ = [
    "SIGNING_ALGORITHMS",
    "Settings",
    "database_url",
    "load_settings",
    "parse_duration",
]

SIGNING_ALGORITHMS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")
"""Algorithms the server may sign access tokens with (RFC 9068 sec. 2.1 forbids ``none``)."""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_ENV_PREFIX = "TESSERA_"
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+\Z")  # RFC 6749 appendix A.4


def parse_duration(value: object, name: str) -> int:
    """Seconds from an int or a string such as ``"15m"``.

    Raises:
        ServerConfigError: not a positive whole number of seconds.
    """
    if isinstance(value, bool):
        raise ServerConfigError(f"{name} must be a duration such as 600, '10m' or '30d'")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    else:
        raise ServerConfigError(f"{name} must be a duration such as 600, '10m' or '30d'")
    if seconds <= 0:
        raise ServerConfigError(f"{name} must be positive")
    return seconds


def database_url(value: str) -> str:
    """A SQLAlchemy URL from what a person types: a URL or a bare SQLite file path."""
    if "://" not in value:
        return f"sqlite:///{value}"
    scheme, rest = value.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    if scheme not in ("sqlite", "postgresql+psycopg"):
        raise ServerConfigError(
            "database must be a SQLite path, sqlite:///FILE or postgresql://USER@HOST/NAME"
        )
    return value


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs to run; times in seconds."""

    issuer: str = ""
    """The issuer identifier (RFC 8414 sec. 2); defaults to ``http://HOST:PORT``."""
    host: str = "127.0.0.1"
    port: int = 8000
    database: str = "sqlite:///tessera.db"
    database_timeout: float = 1.5
    """Longest a request waits on the database for one operation (a free or new connection,
    its statements, a transaction's retries; PostgreSQL's ``statement_timeout`` too, and
    SQLite's lock wait): the request is answered 503 ``temporarily_unavailable`` after it.
    Commands and migrations are not bounded; background maintenance gets 60 s."""
    database_lock_timeout: float = 0.3
    """Longest one statement of a request waits for a row lock (PostgreSQL ``lock_timeout``):
    a lock held that long belongs to a concurrent request for the same grant, so the
    transaction counts as a lost race (retried, then ``invalid_grant``). At most a third of
    ``database_timeout``, so three attempts fit in it."""
    database_idle_timeout: float = 5.0
    """A serving session idle in a transaction this long is ended by PostgreSQL
    (``idle_in_transaction_session_timeout``): a server that vanished mid-transaction does not
    keep its row locks. At least ``database_timeout``."""
    token_lifetime: int = 600
    """Lifetime of access tokens (``expires_in``)."""
    signing_alg: str = "ES256"
    """The algorithm of the key ring that signs access tokens."""
    id_token_signing_alg: str = "RS256"
    """The default algorithm of ID tokens (OIDC Core sec. 15.1: RS256 is the one every
    relying party supports, and the registration default); a client may register
    ``signing_alg`` instead. Each distinct algorithm has its own rotating key ring."""
    rotation_period: int = 30 * 86400
    """How long one key signs before the next one takes over."""
    jwks_max_age: int = 900
    """``Cache-Control: max-age`` of /jwks.json; new keys are published this long before use."""
    allowed_origins: tuple[str, ...] = ()
    """Origins allowed by CORS (browsers fetching metadata, JWKS or tokens)."""
    default_audience: tuple[str, ...] = ()
    """``aud`` for clients registered without an audience of their own."""
    kek_file: str = "tessera.kek"
    """File holding the key-encryption key (created 0600); ``TESSERA_KEK`` takes precedence."""
    kek: str | None = dataclasses.field(default=None, repr=False)
    """The key-encryption key itself (base64url of 32 bytes), from ``TESSERA_KEK`` only."""
    max_body_size: int = 16384
    """Largest request body accepted, in bytes."""
    max_header_size: int = 16384
    """Largest request head accepted (request line and header fields), in bytes: 431 beyond,
    414 for a longer request target."""
    max_header_line: int = 8192
    """Largest single header field (name and value) accepted, in bytes: 431 beyond (never
    more than ``max_header_size``)."""
    header_timeout: float = 30.0
    """Seconds a client has to send a request's head (line and headers) from its first byte,
    or from connecting: 408 after (slow clients cannot hold connections indefinitely)."""
    assertion_max_lifetime: int = 3600
    """Longest ``exp - now`` accepted for a private_key_jwt client assertion (plus 5 s for
    clocks that differ). An hour by default: Authlib and other mainstream clients sign their
    assertions for that long. Each ``jti`` is kept until its assertion expires, so a shorter
    bound also means a smaller store of used ids."""
    key_cache_ttl: float = 2.0
    """How often a replica re-reads the key table (rotations by others are seen this fast)."""
    maintenance_interval: float = 30.0
    """How often a replica checks the rotation schedule and purges used assertion ids."""
    debugger: bool = True
    """Serve the token debugger page at ``/debugger`` (it verifies against this server's keys)."""
    code_lifetime: int = 60
    """Lifetime of authorization codes (RFC 6749 sec. 4.1.2 recommends at most 10 minutes)."""
    refresh_token_lifetime: int = 30 * 86400
    """Lifetime of each refresh token; every use rotates it and starts a new one."""
    session_lifetime: int = 12 * 3600
    """How long a person stays signed in at the authorization endpoint."""
    login_free_failures: int = 5
    """Failed sign-ins allowed per user and per address before each further one locks."""
    login_lock: int = 30
    """The first lock after the free failures; it doubles with each further failure."""
    login_window: int = 900
    """Failures older than this are forgotten; also the longest lock."""
    client_metadata_documents: bool = False
    """Accept https URLs as ``client_id``: Client ID Metadata Documents, fetched and cached."""
    dynamic_scopes: tuple[str, ...] = ()
    """Scopes a client that registered itself (metadata document, dynamic registration) may
    ask for; its tokens go to ``default_audience``."""
    fetch_allow: tuple[str, ...] = ()
    """Hosts or address ranges (CIDR) that client metadata fetches may reach although they are
    private, loopback or link-local (an intranet's clients, tests)."""
    fetch_timeout: float = 5.0
    """Time limit of one client metadata or JWK Set fetch."""
    fetch_max_bytes: int = 5120
    """Largest client metadata document or JWK Set read, in bytes."""
    fetch_ca_file: str = ""
    """Extra CA certificates (PEM file) trusted for client metadata fetches."""
    client_metadata_cache_min: int = 300
    """Shortest time a fetched metadata document is kept, whatever its Cache-Control says."""
    client_metadata_cache_max: int = 86400
    """Longest time a fetched metadata document is kept, whatever its Cache-Control says."""
    client_metadata_cache_size: int = 1000
    """Most metadata documents held at once (least recently used leaves first)."""
    log_format: str = "text"
    """``text`` (one readable line per event) or ``json`` (one JSON object per line)."""
    access_log: bool = False
    """Log one line per request: method, route, status, latency, client, grant, outcome."""
    metrics: bool = False
    """Serve Prometheus metrics at ``/metrics`` (see ``tessera.server.metrics``)."""
    metrics_token: str | None = dataclasses.field(default=None, repr=False)
    """When set, ``/metrics`` needs ``Authorization: Bearer`` this token (env only)."""
    registration: bool = False
    """Serve dynamic client registration (RFC 7591) and its management (RFC 7592)."""
    registration_initial_token: str | None = dataclasses.field(default=None, repr=False)
    """When set, registering needs ``Authorization: Bearer`` this initial access token."""
    registration_max_clients: int = 1000
    """Most clients that may have registered themselves at once."""

    @property
    def token_endpoint(self) -> str:
        """The token endpoint URL (under the issuer's path)."""
        return self.issuer + "/token"

    @property
    def authorization_endpoint(self) -> str:
        """The authorization endpoint URL (RFC 6749 sec. 3.1)."""
        return self.issuer + "/authorize"

    @property
    def introspection_endpoint(self) -> str:
        """The introspection endpoint URL (RFC 7662)."""
        return self.issuer + "/introspect"

    @property
    def revocation_endpoint(self) -> str:
        """The revocation endpoint URL (RFC 7009)."""
        return self.issuer + "/revoke"

    @property
    def userinfo_endpoint(self) -> str:
        """The OpenID Connect UserInfo endpoint URL (OIDC Core sec. 5.3)."""
        return self.issuer + "/userinfo"

    @property
    def end_session_endpoint(self) -> str:
        """The RP-initiated logout endpoint URL (OpenID RP-Initiated Logout 1.0)."""
        return self.issuer + "/logout"

    @property
    def openid_configuration_url(self) -> str:
        """The OpenID Connect discovery URL: the issuer with the well-known path appended."""
        return self.issuer + "/.well-known/openid-configuration"

    @property
    def key_algorithms(self) -> tuple[str, ...]:
        """The algorithms of the key rings: access tokens' first, then ID tokens' if other."""
        return tuple(dict.fromkeys((self.signing_alg, self.id_token_signing_alg)))

    @property
    def secure_cookies(self) -> bool:
        """Session cookies carry ``Secure`` unless the issuer is on loopback over http."""
        parts = urlsplit(self.issuer)
        return not (parts.scheme == "http" and parts.hostname in _LOOPBACK)

    @property
    def registration_endpoint(self) -> str:
        """The dynamic client registration endpoint URL (RFC 7591 sec. 3)."""
        return self.issuer + "/register"

    @property
    def jwks_uri(self) -> str:
        """The JWK Set URL."""
        return self.issuer + "/jwks.json"

    @property
    def metadata_url(self) -> str:
        """The RFC 8414 sec. 3 metadata URL: the well-known segment goes before the path."""
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path}"

    @property
    def issuer_path(self) -> str:
        """The path part of the issuer ('' for a bare origin)."""
        return urlsplit(self.issuer).path

    @property
    def pending_period(self) -> int:
        """How long a new key is published before it signs: one JWKS cache period + skew."""
        return self.jwks_max_age + CLOCK_SKEW

    @property
    def retired_period(self) -> int:
        """How long a retired key stays published: every token it signed must have expired."""
        return self.token_lifetime + CLOCK_SKEW


CLOCK_SKEW = 30
_LOOPBACK = ("localhost", "127.0.0.1", "::1")
"""Seconds added to the publication periods for clocks that differ between machines."""

_FIELDS = {field.name: field for field in dataclasses.fields(Settings)}
_DURATIONS = {
    "token_lifetime",
    "rotation_period",
    "jwks_max_age",
    "assertion_max_lifetime",
    "code_lifetime",
    "refresh_token_lifetime",
    "session_lifetime",
    "login_lock",
    "login_window",
    "client_metadata_cache_min",
    "client_metadata_cache_max",
}
_FLOATS = {
    "key_cache_ttl",
    "maintenance_interval",
    "fetch_timeout",
    "header_timeout",
    "database_timeout",
    "database_lock_timeout",
    "database_idle_timeout",
}
_INTS = {
    "port",
    "max_body_size",
    "max_header_size",
    "max_header_line",
    "login_free_failures",
    "fetch_max_bytes",
    "client_metadata_cache_size",
    "registration_max_clients",
}
_LISTS = {"allowed_origins", "default_audience", "dynamic_scopes", "fetch_allow"}
_BOOLS = {"debugger", "client_metadata_documents", "registration", "access_log", "metrics"}
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
# Secrets belong in the environment (or a 0600 file of their own), not in tessera.toml.
_NOT_IN_FILE = {"kek", "registration_initial_token", "metrics_token"}


def _coerce(name: str, value: Any) -> Any:
    if name in _DURATIONS:
        return parse_duration(value, name)
    if name in _INTS:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ServerConfigError(f"{name} must be a positive whole number")
        return value
    if name in _FLOATS:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ServerConfigError(f"{name} must be a number of seconds") from None
        if isinstance(value, bool) or not number > 0:
            raise ServerConfigError(f"{name} must be a positive number of seconds")
        return number
    if name in _BOOLS:
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            value = value.strip().lower() in _TRUE
        if not isinstance(value, bool):
            raise ServerConfigError(f"{name} must be true or false")
        return value
    if name in _LISTS:
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ServerConfigError(f"{name} must be a list of strings")
        return tuple(value)
    if not isinstance(value, str):
        raise ServerConfigError(f"{name} must be a string")
    return value


def _from_file(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise ServerConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ServerConfigError(f"{path} is not valid TOML: {exc}") from None
    section = document.get("server", {})
    if not isinstance(section, dict):
        raise ServerConfigError(f"{path}: [server] must be a table")
    for name in section:
        if name not in _FIELDS or name in _NOT_IN_FILE:
            raise ServerConfigError(f"{path}: unknown setting server.{name}")
    return dict(section)


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in _FIELDS:
        value = env.get(_ENV_PREFIX + name.upper())
        if value is not None and value != "":
            found[name] = value
    if "database" not in found and env.get("TESSERA_DATABASE_URL"):
        found["database"] = env["TESSERA_DATABASE_URL"]
    return found


def load_settings(
    config: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Settings from defaults < the TOML file < ``TESSERA_*`` variables < ``overrides``.

    ``config`` defaults to ``TESSERA_CONFIG`` or ``./tessera.toml`` when that file exists.
    Overrides that are None are ignored (argparse leaves unset flags as None).

    Raises:
        ServerConfigError: unreadable file, unknown setting or bad value.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = config if config is not None else env.get("TESSERA_CONFIG")
    if path is not None:
        values.update(_from_file(Path(path)))
    elif Path("tessera.toml").is_file():
        values.update(_from_file(Path("tessera.toml")))
    values.update(_from_env(env))
    for name, value in overrides.items():
        if name not in _FIELDS:
            raise ServerConfigError(f"unknown setting {name}")
        if value is not None:
            values[name] = value
    settings = {name: _coerce(name, value) for name, value in values.items()}
    if "database" in settings:
        settings["database"] = database_url(settings["database"])
    return _validated(Settings(**settings))


def _validated(settings: Settings) -> Settings:
    if settings.signing_alg not in SIGNING_ALGORITHMS:
        raise ServerConfigError(f"signing_alg must be one of {', '.join(SIGNING_ALGORITHMS)}")
    if settings.id_token_signing_alg not in SIGNING_ALGORITHMS:
        raise ServerConfigError(
            f"id_token_signing_alg must be one of {', '.join(SIGNING_ALGORITHMS)}"
        )
    issuer = settings.issuer or f"http://{_host_for_url(settings.host)}:{settings.port}"
    parts = urlsplit(issuer)
    local = parts.hostname in _LOOPBACK
    if (
        parts.scheme not in ("https", "http")
        or (parts.scheme == "http" and not local)
        or not parts.netloc
        or "#" in issuer
        or "?" in issuer
    ):
        # RFC 8414 sec. 2: an https URL with no query or fragment (http only on loopback).
        raise ServerConfigError(
            "issuer must be an https URL without query or fragment (http only for localhost)"
        )
    issuer = issuer.rstrip("/")
    if settings.rotation_period < 2 * settings.pending_period:
        raise ServerConfigError(
            "rotation_period must be at least twice jwks_max_age + 30 s (a key is published "
            "one cache period before it signs)"
        )
    if settings.token_lifetime > settings.rotation_period:
        raise ServerConfigError("token_lifetime must not exceed rotation_period")
    if settings.client_metadata_cache_min > settings.client_metadata_cache_max:
        raise ServerConfigError(
            "client_metadata_cache_min must not exceed client_metadata_cache_max"
        )
    if settings.database_lock_timeout * 3 > settings.database_timeout:
        raise ServerConfigError(
            "database_lock_timeout must be at most a third of database_timeout (a lost race is "
            "retried twice within database_timeout)"
        )
    if settings.database_idle_timeout < settings.database_timeout:
        raise ServerConfigError("database_idle_timeout must be at least database_timeout")
    if settings.max_header_size < 1024:
        raise ServerConfigError("max_header_size must be at least 1024 bytes")
    token = settings.registration_initial_token
    if token is not None and not 16 <= len(token) <= 512:
        raise ServerConfigError("registration_initial_token must have 16 to 512 characters")
    for entry in settings.dynamic_scopes:
        if not _SCOPE_TOKEN.match(entry):
            raise ServerConfigError(f"dynamic_scopes: {entry!r} is not a scope token")
    origins = tuple(
        origin.rstrip("/") if origin != "*" else origin for origin in settings.allowed_origins
    )
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and (
            parts.scheme not in ("https", "http")
            or not parts.netloc
            or parts.path
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            # a browser's Origin header is scheme://host[:port], compared as an exact string
            raise ServerConfigError(
                f"allowed_origins: {origin!r} is not an origin (scheme://host[:port], no path)"
            )
    if settings.metrics_token is not None and not 16 <= len(settings.metrics_token) <= 512:
        raise ServerConfigError("metrics_token must have 16 to 512 characters")
    if settings.log_format not in ("text", "json"):
        raise ServerConfigError("log_format must be text or json")
    return dataclasses.replace(settings, issuer=issuer, allowed_origins=origins)


def _host_for_url(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding to it
        return "localhost"
    return f"[{host}]" if ":" in host else host
