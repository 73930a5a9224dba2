"""Recognise a PEM block's key algorithm from its DER structure, before ``cryptography`` loads it.

Loading a DSA key makes ``cryptography`` (>= 51) emit a deprecation warning, and DSA has no JOSE
algorithm anyway: so DSA is refused here, from the block's label or the algorithm identifier of
its PKCS#8, SubjectPublicKeyInfo or certificate, without calling the deprecated API. Only the few
DER headers on the way to that identifier are read; everything else is left to ``cryptography``.
"""

from __future__ import annotations

import binascii
import re

_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]{1,64})-----\r?\n(.*?)-----END \1-----", re.DOTALL)
# id-dsa, 1.2.840.10040.4.1 (RFC 3279 section 2.3.2), as a DER OBJECT IDENTIFIER.
_DSA_OID = bytes.fromhex("06072a8648ce380401")
_SEQUENCE = 0x30
_INTEGER = 0x02
_CONTEXT_0 = 0xA0


class _Der:
    """A forward-only reader of DER tag-length-value headers (no values are interpreted)."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def header(self) -> tuple[int, int]:
        """Read one tag and length; return (tag, length). Raises ValueError when malformed."""
        data, pos = self.data, self.pos
        if pos + 2 > len(data):
            raise ValueError("truncated DER")
        kind, first = data[pos], data[pos + 1]
        pos += 2
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or pos + count > len(data):
                raise ValueError("bad DER length")
            length = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        if pos + length > len(data):
            raise ValueError("DER value overruns its container")
        self.pos = pos
        return kind, length

    def enter(self, kind: int) -> None:
        """Step into a constructed value with this tag."""
        found, _ = self.header()
        if found != kind:
            raise ValueError("unexpected DER tag")

    def skip(self) -> int:
        """Step over one whole value; return its tag."""
        kind, length = self.header()
        self.pos += length
        return kind

    def startswith(self, prefix: bytes) -> bool:
        return self.data.startswith(prefix, self.pos)


def _algorithm_is_dsa(der: _Der) -> bool:
    """At an AlgorithmIdentifier: is its OID id-dsa?"""
    der.enter(_SEQUENCE)
    return der.startswith(_DSA_OID)


def _is_dsa(label: bytes, der: bytes) -> bool:
    reader = _Der(der)
    if label == b"PRIVATE KEY":  # PKCS#8: SEQUENCE { version, AlgorithmIdentifier, ... }
        reader.enter(_SEQUENCE)
        if reader.skip() != _INTEGER:
            return False
        return _algorithm_is_dsa(reader)
    if label == b"PUBLIC KEY":  # SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, ... }
        reader.enter(_SEQUENCE)
        return _algorithm_is_dsa(reader)
    if label in (b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"):
        reader.enter(_SEQUENCE)  # Certificate
        reader.enter(_SEQUENCE)  # TBSCertificate
        if reader.data[reader.pos : reader.pos + 1] == bytes([_CONTEXT_0]):
            reader.skip()  # [0] version
        for _ in range(5):  # serialNumber, signature, issuer, validity, subject
            reader.skip()
        reader.enter(_SEQUENCE)  # subjectPublicKeyInfo
        return _algorithm_is_dsa(reader)
    return False


def is_dsa(data: bytes) -> bool:
    """True when the first PEM block holds a DSA key (or a certificate for one).

    Malformed blocks answer False: ``cryptography`` then refuses them with its own error.
    """
    match = _BLOCK.search(data)
    if match is None:
        return False
    label = match.group(1)
    if label == b"DSA PRIVATE KEY":
        return True
    body = match.group(2)
    if b":" in body:  # RFC 1421 headers (Proc-Type, DEK-Info): traditional formats only
        return False
    try:
        return _is_dsa(label, binascii.a2b_base64(body))
    except (ValueError, binascii.Error):
        return False
