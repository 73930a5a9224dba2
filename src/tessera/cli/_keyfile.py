"""Keys on disk: loading PEM, JWK and JWK Set files, choosing algorithms, writing key files.

Private key files are created with mode 0600 through ``os.open(O_CREAT | O_EXCL)``, so they
are never readable by others, not even for an instant, and never replace an existing file
unless ``--force`` asks (then through a fresh temporary file and an atomic rename).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tessera.cli._errors import UsageError
from tessera.cli._input import read_file, read_json_object

if TYPE_CHECKING:
    from tessera import Key, KeySet

__all__ = [
    "fitting_algorithms",
    "is_pem",
    "load_key",
    "load_key_or_set",
    "oct_key",
    "parse_key",
    "signing_algorithm",
    "verifying_algorithms",
    "write_file",
]


def load_key_or_set(path: str, alg: str | None = None, kid: str | None = None) -> Key | KeySet:
    """A key (PEM or JWK) or a key set (JWK Set) from ``path``.

    Raises:
        UsageError: unreadable, neither PEM nor JSON, or an ``alg`` on a JWK Set.
        InvalidKey: the key itself is unusable (the caller reports it).
    """
    return parse_key(read_file(path, "key file"), path, alg, kid)


def is_pem(data: bytes) -> bool:
    """True for PEM text (``-----BEGIN ...``)."""
    return data.lstrip().startswith(b"-----BEGIN")


def parse_key(data: bytes, path: str, alg: str | None, kid: str | None) -> Key | KeySet:
    """A key or key set from the bytes of a PEM, JWK or JWK Set file named ``path``."""
    from tessera import Key, KeySet

    stripped = data.lstrip()
    if stripped.startswith(b"-----BEGIN"):
        return Key.from_pem(data, alg=alg, kid=kid)
    if not stripped.startswith(b"{"):
        raise UsageError(f"key file {path} is neither PEM nor a JWK (JSON)")
    obj = read_json_object(data, f"key file {path}")
    if "keys" in obj and "kty" not in obj:
        if alg is not None or kid is not None:
            raise UsageError(f"{path} is a JWK Set: --alg/--kid apply to single keys")
        return KeySet.from_jwks(obj)
    if kid is not None:
        obj["kid"] = kid
    return Key.from_jwk(obj, alg=alg)


def load_key(path: str, alg: str | None = None, kid: str | None = None) -> Key:
    """A single key from ``path`` (a JWK Set is refused).

    Raises:
        UsageError: not a single key.
    """
    from tessera import Key

    loaded = load_key_or_set(path, alg, kid)
    if not isinstance(loaded, Key):
        raise UsageError(f"{path} is a JWK Set; pass a file holding one key")
    return loaded


def oct_key(secret: bytes, alg: str | None) -> Key:
    """A symmetric key from secret bytes, bound to ``alg`` (HS256 by default)."""
    from tessera import Key

    return Key.from_secret(secret, alg=alg or "HS256")


def fitting_algorithms(key: Key) -> list[str]:
    """Every JWS algorithm this key's type and curve can serve."""
    from tessera.jose.jwa import JWS_ALGORITHMS

    return [
        a.name
        for a in JWS_ALGORITHMS.values()
        if a.kty == key.kty and (not a.curves or key.crv in a.curves)
    ]


def signing_algorithm(key: Key, alg: str | None) -> str:
    """The algorithm to sign with: ``--alg``, else the key's own, else the only one it fits.

    Raises:
        UsageError: the key is unbound and fits several algorithms.
    """
    if alg is not None:
        return alg
    if key.alg is not None:
        return key.alg
    fits = fitting_algorithms(key)
    if len(fits) == 1:
        return fits[0]
    raise UsageError(f"the key does not say its algorithm: pass --alg ({', '.join(fits)})")


def verifying_algorithms(keys: Key | KeySet, algs: Iterable[str] | None) -> list[str] | None:
    """The allow-list for a verification: ``--alg`` values, else what the key(s) dictate.

    A bound key needs none (the core uses its algorithm). An unbound key is allowed only
    algorithms of one family that its type fits (an EC curve names one; Ed25519 fits EdDSA and
    Ed25519); an RSA or symmetric key without ``alg`` must be given ``--alg``.

    Raises:
        UsageError: an unbound key that fits more than one family.
    """
    from tessera import Key
    from tessera.jose.jwa import JWS_ALGORITHMS

    if algs:
        return list(algs)
    unbound = [k for k in ([keys] if isinstance(keys, Key) else list(keys)) if k.alg is None]
    if not unbound:
        return None
    allowed: set[str] = set()
    for key in unbound:
        fits = fitting_algorithms(key)
        families = {JWS_ALGORITHMS[name].family for name in fits}
        if len(families) != 1 or key.kty == "oct":
            raise UsageError(
                f"the {key.kty} key does not say its algorithm: pass --alg ({', '.join(fits)})"
            )
        allowed.update(fits)
    return sorted(allowed)


def write_file(path: str, data: bytes, *, private: bool, force: bool) -> None:
    """Write ``data`` to a new file: mode 0600 when ``private``, never over a file unless
    ``force`` (then via a temporary file and an atomic rename, so the mode is always ours).

    Raises:
        UsageError: the file exists without ``force``, or the write fails.
    """
    mode = 0o600 if private else 0o644
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    target = path
    if force and os.path.lexists(path):
        import secrets

        target = os.path.join(
            os.path.dirname(path) or ".", f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp"
        )
    try:
        fd = os.open(target, flags, mode)
    except FileExistsError:
        raise UsageError(f"{path} exists: pass --force to overwrite it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            if private:
                os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
        if target != path:
            os.replace(target, path)
    except OSError as exc:
        if target != path:
            with contextlib.suppress(OSError):
                os.unlink(target)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
