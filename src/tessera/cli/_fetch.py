"""Fetching a JWK Set from a URL with the standard library, defensively (attack #14, #52).

Only ``https``, or ``http`` to a loopback host (local development); no credentials in the
URL; no redirect to another origin; a timeout on every socket operation and on the whole
transfer; a size limit. The URL comes from the command line, never from a token.
"""

from __future__ import annotations

import time
from typing import Any

from tessera.cli._errors import UsageError

__all__ = ["DEFAULT_TIMEOUT", "MAX_JWKS_BYTES", "fetch", "is_url"]

DEFAULT_TIMEOUT = 5.0
MAX_JWKS_BYTES = 512 * 1024
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_CHUNK = 16384


def is_url(text: str) -> bool:
    """True when ``text`` looks like a URL rather than a file name."""
    return "://" in text


def _origin(url: str) -> tuple[str, str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise UsageError("the JWKS URL has an invalid port") from None
    if scheme not in ("https", "http"):
        raise UsageError("the JWKS URL must use https (or http to localhost)")
    host = (parts.hostname or "").lower()
    if not host:
        raise UsageError("the JWKS URL has no host")
    if scheme == "http" and host not in _LOOPBACK:
        raise UsageError("the JWKS URL must use https (http is allowed only for localhost)")
    if parts.username is not None or parts.password is not None:
        raise UsageError("the JWKS URL must not carry credentials")
    return scheme, host, port or (443 if scheme == "https" else 80)


def fetch(url: str, *, timeout: float = DEFAULT_TIMEOUT, max_bytes: int = MAX_JWKS_BYTES) -> bytes:
    """GET ``url`` and return the body.

    Raises:
        UsageError: a refused URL or redirect, an HTTP error, a timeout, or a body too large.
    """
    import urllib.error
    import urllib.request

    origin = _origin(url)

    class SameOriginRedirects(urllib.request.HTTPRedirectHandler):
        """Follow a redirect only within the URL's own origin."""

        def redirect_request(
            self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
        ) -> Any:
            try:
                same = _origin(newurl) == origin
            except UsageError:
                same = False
            if not same:
                raise UsageError("the JWKS URL redirects to another origin: refused")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    # Loopback requests must not go through a proxy taken from the environment.
    proxies = urllib.request.ProxyHandler({} if origin[1] in _LOOPBACK else None)
    opener = urllib.request.build_opener(proxies, SameOriginRedirects())
    # The scheme was checked above: https, or http to a loopback host (S310).
    request = urllib.request.Request(  # noqa: S310
        url, headers={"Accept": "application/jwk-set+json, application/json"}
    )
    deadline = time.monotonic() + timeout
    try:
        with opener.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise UsageError(f"the JWKS is larger than {max_bytes} bytes")
            body = bytearray()
            while True:
                chunk = response.read(_CHUNK)
                if not chunk:
                    break
                body += chunk
                if len(body) > max_bytes:
                    raise UsageError(f"the JWKS is larger than {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise UsageError(f"fetching the JWKS took longer than {timeout:g} s")
            return bytes(body)
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:  # urllib itself refused the target (file:, data: ...)
            raise UsageError("the JWKS URL redirects to another origin: refused") from None
        raise UsageError(f"fetching the JWKS failed: HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise UsageError(f"fetching the JWKS timed out after {timeout:g} s") from None
        raise UsageError(f"cannot fetch the JWKS: {reason}") from None
    except TimeoutError:
        raise UsageError(f"fetching the JWKS timed out after {timeout:g} s") from None
    except OSError as exc:
        raise UsageError(f"cannot fetch the JWKS: {exc.strerror or exc}") from None
