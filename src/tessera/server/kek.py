"""The key-encryption key (KEK): signing keys are stored AES-256-GCM encrypted under it.

The KEK comes from ``TESSERA_KEK`` (base64url of 32 bytes) or from a file that is created
with mode 0600 on first start and refused when others may read it. Each stored key is
encrypted with a fresh 96-bit nonce and its ``kid`` as associated data, so a ciphertext moved
to another row fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tessera.server.errors import ServerConfigError

__all__ = ["KEK"]

_KEY_BYTES = 32
_NONCE_BYTES = 12
_VERSION = b"\x01"


def _decode(text: str, where: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ServerConfigError(f"{where} is not base64url") from None
    if len(raw) != _KEY_BYTES:
        raise ServerConfigError(f"{where} must hold 32 bytes (base64url), not {len(raw)}")
    return raw


class KEK:
    """An AES-256-GCM key that seals and opens private JWKs."""

    __slots__ = ("_aead", "_derive")

    def __init__(self, key: bytes) -> None:
        if len(key) != _KEY_BYTES:
            raise ServerConfigError("the key-encryption key must be 32 bytes")
        self._aead = AESGCM(key)
        self._derive = key

    def derive(self, purpose: str) -> bytes:
        """A 32-byte secret for ``purpose`` (HKDF-SHA256): independent of the sealing key, as
        stable as the KEK (the pairwise subject salt)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        return HKDF(hashes.SHA256(), 32, None, purpose.encode()).derive(self._derive)

    def __repr__(self) -> str:
        return "<KEK>"

    @classmethod
    def generate(cls) -> KEK:
        """A new random KEK (tests and first start)."""
        return cls(secrets.token_bytes(_KEY_BYTES))

    @classmethod
    def load(cls, value: str | None, path: str | os.PathLike[str], *, create: bool) -> KEK:
        """The KEK from ``value`` (``TESSERA_KEK``) or from ``path``, created when missing.

        Raises:
            ServerConfigError: malformed KEK, or a file readable by group or others.
        """
        if value:
            return cls(_decode(value, "TESSERA_KEK"))
        file = Path(path)
        if not file.exists():
            if not create:
                raise ServerConfigError(f"no key-encryption key: {file} does not exist")
            return cls(_create(file))
        mode = file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ServerConfigError(
                f"{file} is readable by others (mode {stat.S_IMODE(mode):o}); run chmod 600"
            )
        try:
            text = file.read_text("ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ServerConfigError(f"cannot read {file}: {exc}") from None
        return cls(_decode(text, str(file)))

    def seal(self, plaintext: bytes, kid: str) -> bytes:
        """Encrypt ``plaintext`` bound to ``kid``: version || nonce || ciphertext+tag."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, kid.encode())

    def open(self, sealed: bytes, kid: str) -> bytes:
        """Decrypt what :meth:`seal` made for ``kid``.

        Raises:
            ServerConfigError: wrong KEK or tampered ciphertext.
        """
        if sealed[:1] != _VERSION or len(sealed) < 1 + _NONCE_BYTES + 16:
            raise ServerConfigError(f"stored key {kid} is not in a known format")
        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, kid.encode())
        except InvalidTag:
            raise ServerConfigError(
                f"cannot decrypt stored key {kid}: this is not the key-encryption key it was "
                "stored with (check TESSERA_KEK or kek_file)"
            ) from None


def _create(file: Path) -> bytes:
    key = secrets.token_bytes(_KEY_BYTES)
    text = base64.urlsafe_b64encode(key).rstrip(b"=").decode() + "\n"
    file.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _decode(file.read_text("ascii"), str(file))
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    return key
