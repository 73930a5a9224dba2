"""Strict parsing of OAuth form bodies (RFC 6749 sec. 3.1-3.2, appendix B).

Parameters sent without a value count as omitted; a parameter sent twice is an error, except
``resource`` (RFC 8707 sec. 2 allows several). Values must be UTF-8 and free of control
characters: nothing a client sends reaches the database or a log unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from tessera.server.errors import InvalidRequest

__all__ = ["KNOWN", "MAX_FIELDS", "Form", "check_content_type", "parse_form"]

MAX_FIELDS = 50
_REPEATABLE = frozenset({"resource"})
KNOWN = frozenset(
    {
        "grant_type",
        "scope",
        "resource",
        "client_id",
        "client_secret",
        "client_assertion",
        "client_assertion_type",
        "audience",
        "code",
        "code_verifier",
        "redirect_uri",
        "refresh_token",
        "token",
        "token_type_hint",
    }
)
"""Parameter names an error message may repeat back."""
_FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Form:
    """The parameters of a token request: single values, and every ``resource``."""

    params: dict[str, str]
    resources: tuple[str, ...] = ()

    def get(self, name: str) -> str | None:
        """The value of ``name``, or None when absent or empty."""
        return self.params.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self.params


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_content_type(value: str | None) -> None:
    """The body must be ``application/x-www-form-urlencoded`` (any charset parameter is UTF-8).

    Raises:
        InvalidRequest: another or no media type.
    """
    media = (value or "").split(";", 1)[0].strip().lower()
    if media != _FORM_TYPE:
        raise InvalidRequest("the request body must be application/x-www-form-urlencoded")


def parse_form(body: bytes) -> Form:
    """Parse a form body.

    Raises:
        InvalidRequest: not UTF-8, too many fields, a repeated parameter or a control character.
    """
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the request body is not a valid UTF-8 form") from None
    params: dict[str, str] = {}
    seen: set[str] = set()
    resources: list[str] = []
    for name, value in pairs:
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise InvalidRequest("parameters must not contain control characters")
        if name in seen and name not in _REPEATABLE:
            shown = f"the {name!r} parameter" if name in KNOWN else "a parameter"
            raise InvalidRequest(f"{shown} is repeated")
        seen.add(name)
        if value == "":
            continue  # RFC 6749 sec. 3.1: a parameter without a value is omitted
        if name in _REPEATABLE:
            resources.append(value)
        else:
            params[name] = value
    return Form(params, tuple(resources))
