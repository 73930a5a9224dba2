"""The sign-in, consent and error pages of the authorization endpoint: plain HTML forms that
work without JavaScript, one small style sheet, every value HTML-escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

__all__ = [
    "STYLESHEET",
    "consent_page",
    "describe_scope",
    "error_page",
    "logout_page",
    "signed_out_page",
    "signin_page",
]

STYLESHEET = """\
:root { color-scheme: light dark; --accent: #2f5bd3; --muted: #6b7280; --line: #d6d9e0; }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; background: Canvas; }
main { width: min(100% - 2rem, 24rem); padding: 2rem; border: 1px solid var(--line);
  border-radius: 12px; }
h1 { font-size: 1.25rem; margin: 0 0 .25rem; }
p.lead { margin: 0 0 1.5rem; color: var(--muted); }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input[type=text], input[type=password] { width: 100%; padding: .6rem .7rem; font: inherit;
  border: 1px solid var(--line); border-radius: 8px; background: Field; color: FieldText; }
input:focus-visible, button:focus-visible { outline: 2px solid var(--accent);
  outline-offset: 2px; }
button { font: inherit; font-weight: 600; padding: .6rem 1rem; border-radius: 8px;
  border: 1px solid var(--accent); cursor: pointer; }
button.primary { background: var(--accent); color: #fff; }
button.secondary { background: transparent; color: inherit; border-color: var(--line); }
.actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
.actions button { flex: 1; }
ul.scopes { padding-left: 1.2rem; }
ul.scopes code { color: var(--muted); font-size: .85em; }
.error { padding: .6rem .8rem; border-radius: 8px; background: #fde8e8; color: #8a1c1c; }
"""

_WORDS = {
    "offline_access": "Stay connected while you are away (a refresh token)",
    "openid": "Know who you are",
    "profile": "See your profile",
    "email": "See your email address",
    "phone": "See your phone number",
    "address": "See your postal address",
}


def describe_scope(scope: str) -> str:
    """A scope in words: known ones by name, ``verb:noun`` as "Verb your noun"."""
    if scope in _WORDS:
        return _WORDS[scope]
    verb, colon, noun = scope.partition(":")
    if colon and verb and noun:
        return f"{verb.capitalize()} your {noun.replace('_', ' ')}"
    return f"Use “{scope}”"


def _page(title: str, body: str, stylesheet: str) -> str:
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        '<meta name=referrer content="no-referrer">'
        f"<title>{escape(title)}</title>"
        f'<link rel=stylesheet href="{escape(stylesheet)}"></head>'
        f"<body><main>{body}</main></body></html>\n"
    )


def _hidden(fields: Mapping[str, str]) -> str:
    return "".join(
        f'<input type=hidden name="{escape(name)}" value="{escape(value)}">'
        for name, value in fields.items()
    )


def _host_note(client_name: str, client_host: str | None) -> str:
    """For a client that named itself: the host it is identified by, shown prominently."""
    if client_host is None:
        return ""
    return (
        f"<p class=lead id=client-host>This application is run from "
        f"<strong>{escape(client_host)}</strong>; “{escape(client_name)}” is the name it "
        "gave itself. Continue only if you trust that site.</p>"
    )


def signin_page(
    *,
    action: str,
    stylesheet: str,
    client_name: str,
    fields: Mapping[str, str],
    client_host: str | None = None,
    username: str = "",
    error: str | None = None,
) -> str:
    """The sign-in form; it posts the request parameters back with the CSRF token."""
    alert = f"<p class=error role=alert id=error>{escape(error)}</p>" if error else ""
    body = (
        "<h1>Sign in</h1>"
        f"<p class=lead>to continue to <strong>{escape(client_name)}</strong></p>"
        f"{_host_note(client_name, client_host)}{alert}"
        f'<form method=post action="{escape(action)}">{_hidden(fields)}'
        '<input type=hidden name="action" value="login">'
        "<label for=username>User name</label>"
        f'<input type=text id=username name=username value="{escape(username)}" '
        "autocomplete=username autocapitalize=none spellcheck=false required autofocus>"
        "<label for=password>Password</label>"
        "<input type=password id=password name=password autocomplete=current-password required>"
        "<div class=actions><button class=primary type=submit id=signin>Sign in</button></div>"
        "</form>"
    )
    return _page("Sign in", body, stylesheet)


def consent_page(
    *,
    action: str,
    stylesheet: str,
    client_name: str,
    username: str,
    scopes: Sequence[str],
    fields: Mapping[str, str],
    client_host: str | None = None,
    claims: Sequence[str] = (),
) -> str:
    """The consent form: what the application asks for, in words; Allow or Deny.
    ``claims``: details asked for by name beyond the scopes (the OpenID ``claims``
    parameter), listed as such."""
    items = "".join(
        f"<li>{escape(describe_scope(scope))} <code>{escape(scope)}</code></li>" for scope in scopes
    )
    if claims:
        items += (
            "<li>See these details of your profile: "
            f"{escape(', '.join(claims))} <code>claims</code></li>"
        )
    items = items or "<li>Know that you signed in</li>"
    body = (
        f"<h1>Allow {escape(client_name)}?</h1>{_host_note(client_name, client_host)}"
        f"<p class=lead>Signed in as <strong>{escape(username)}</strong>. "
        f"{escape(client_name)} asks to:</p>"
        f"<ul class=scopes>{items}</ul>"
        f'<form method=post action="{escape(action)}">{_hidden(fields)}'
        '<input type=hidden name="action" value="consent">'
        "<div class=actions>"
        "<button class=secondary type=submit name=decision value=deny id=deny>Deny</button>"
        "<button class=primary type=submit name=decision value=allow id=allow>Allow</button>"
        "</div></form>"
    )
    return _page("Allow access", body, stylesheet)


def error_page(*, stylesheet: str, message: str) -> str:
    """A problem the person must see: nothing is sent back to the application."""
    body = (
        "<h1>This request cannot be completed</h1>"
        f"<p class=error role=alert id=error>{escape(message)}</p>"
        "<p class=lead>Go back to the application and try again.</p>"
    )
    return _page("Authorization error", body, stylesheet)


def logout_page(
    *,
    action: str,
    stylesheet: str,
    username: str,
    client_name: str | None,
    fields: Mapping[str, str],
) -> str:
    """Ask before signing out: a request that does not prove it comes from the person's
    application (no matching id_token_hint) must not sign them out by itself."""
    origin = f" {escape(client_name)} asks you to sign out." if client_name else ""
    body = (
        "<h1>Sign out?</h1>"
        f"<p class=lead>Signed in as <strong>{escape(username)}</strong>.{origin}</p>"
        f'<form method=post action="{escape(action)}">{_hidden(fields)}'
        '<input type=hidden name="action" value="logout">'
        "<div class=actions>"
        "<button class=primary type=submit id=logout>Sign out</button>"
        "</div></form>"
    )
    return _page("Sign out", body, stylesheet)


def signed_out_page(*, stylesheet: str) -> str:
    """The end of a sign-out that has nowhere to send the browser."""
    body = "<h1>You are signed out</h1><p class=lead id=signed-out>You may close this page.</p>"
    return _page("Signed out", body, stylesheet)
