"""The OpenID Connect authorization request parameters (OIDC Core sec. 3.1.2.1), checked.

``claims`` (sec. 5.5) and ``acr_values`` are read into a :class:`ClaimsRequest`.
``request`` and ``request_uri`` (request objects, sec. 6) are refused with their own error
codes: this provider does not support them and says so in its metadata. Sizes are bounded so
that nothing a client sends is stored or echoed unbounded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tessera.server.oidc.claims_request import NO_CLAIMS, ClaimsRequest, parse_claims

__all__ = ["OIDC_PARAMS", "PROMPTS", "OpenIdRequest", "parse_openid"]

OIDC_PARAMS = (
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "id_token_hint",
    "display",
    "ui_locales",
    "claims_locales",
    "acr_values",
    "claims",
    "response_mode",
)
"""Parameters carried through the sign-in and consent forms with the OAuth ones."""
PROMPTS = ("none", "login", "consent", "select_account")
DISPLAYS = ("page", "popup", "touch", "wap")
MAX_NONCE = 512
MAX_HINT = 256
MAX_ID_TOKEN_HINT = 8192
_MAX_AGE = re.compile(r"^[0-9]{1,9}\Z")
_REFUSED = {
    "request": ("request_not_supported", "request objects (request) are not supported"),
    "request_uri": (
        "request_uri_not_supported",
        "request objects by reference (request_uri) are not supported",
    ),
    "registration": ("registration_not_supported", "the registration parameter is not supported"),
}

Fail = Callable[[str, str], Exception]


@dataclass(frozen=True, slots=True)
class OpenIdRequest:
    """The OpenID parameters of one authorization request."""

    nonce: str | None = None
    prompt: frozenset[str] = frozenset()
    max_age: int | None = None
    login_hint: str | None = None
    id_token_hint: str | None = None
    claims: ClaimsRequest = NO_CLAIMS
    """The claims asked for by ``claims`` and ``acr_values`` (``acr`` in the ID token)."""


def parse_openid(params: Mapping[str, str], fail: Fail) -> OpenIdRequest:
    """Check the OpenID parameters (each given at most once, as ``validate`` ensured).

    Raises:
        whatever ``fail(error, description)`` returns: request_not_supported,
        request_uri_not_supported, registration_not_supported or invalid_request.
    """
    for name, (error, description) in _REFUSED.items():
        if name in params:
            raise fail(error, description)
    mode = params.get("response_mode")
    if mode is not None and mode != "query":
        raise fail("invalid_request", "response_mode must be query (the only mode supported)")
    nonce = params.get("nonce")
    if nonce is not None and len(nonce) > MAX_NONCE:
        raise fail("invalid_request", f"nonce is longer than {MAX_NONCE} characters")
    prompt: frozenset[str] = frozenset()
    if "prompt" in params:
        values = params["prompt"].split(" ")
        unknown = [v for v in values if v not in PROMPTS]
        if unknown or not values:
            raise fail("invalid_request", "prompt must be none, login, consent or select_account")
        prompt = frozenset(values)
        if "none" in prompt and len(prompt) > 1:
            raise fail("invalid_request", "prompt=none cannot be combined with other values")
    max_age = None
    if "max_age" in params:
        if not _MAX_AGE.match(params["max_age"]):
            raise fail("invalid_request", "max_age must be a whole number of seconds")
        max_age = int(params["max_age"])
    display = params.get("display")
    if display is not None and display not in DISPLAYS:
        raise fail("invalid_request", "display must be page, popup, touch or wap")
    for name in ("login_hint", "ui_locales", "claims_locales", "acr_values"):
        if len(params.get(name, "")) > MAX_HINT:
            raise fail("invalid_request", f"{name} is longer than {MAX_HINT} characters")
    hint = params.get("id_token_hint")
    if hint is not None and len(hint) > MAX_ID_TOKEN_HINT:
        raise fail("invalid_request", "id_token_hint is too long")
    claims = parse_claims(params["claims"], fail) if "claims" in params else NO_CLAIMS
    acr_values = params.get("acr_values", "").split()
    if acr_values:  # sec. 3.1.2.1: acr asked for as a voluntary claim of the ID token
        claims = claims.with_id_token("acr")
    return OpenIdRequest(
        nonce=nonce,
        prompt=prompt,
        max_age=max_age,
        login_hint=params.get("login_hint"),
        id_token_hint=hint,
        claims=claims,
    )
