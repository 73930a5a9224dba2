"""`make demo`'s OpenID Connect act: a person signs in to a small web app with Tessera.

The person is created with ``tessera users add``, the app registered with ``tessera clients
add``; the app ("the guestbook", :mod:`tessera._demo_webapp`: FastAPI with
``tessera.oidc.fastapi.SignIn``) runs as a subprocess on a free port. The demo plays the
person's browser with httpx: the app's login route, Tessera's sign-in and consent pages, the
callback, the app's page showing the ID token's claims and UserInfo, and signing out.
"""

from __future__ import annotations

import html
import re
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tessera._demo import (
    DemoError,
    Service,
    Story,
    System,
    _clock,
    _describe_token,
    _free_port,
    _reason,
    _short,
    hidden_fields,
)
from tessera._demo_webapp import SECRET_VARIABLE

if TYPE_CHECKING:
    import httpx

__all__ = ["oidc_act"]

USERNAME = "ada"
PASSWORD = "correct horse battery staple"
EMAIL = "ada@example.org"
NAME = "Ada Lovelace"
SCOPE = "openid profile email"
_CONSENT_ITEM = re.compile(r"<li>(.*?) <code>(.*?)</code></li>")


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def _path(url: str) -> str:
    """``url`` without its scheme and host, shortened, for the story."""
    parts = urlsplit(url)
    text = parts.path + ("?" + parts.query if parts.query else "")
    return text if len(text) <= 60 else text[:59] + "…"


def _expect_redirect(story: Story, reply: httpx.Response, what: str) -> str:
    """The Location of a 303/302 reply; DemoError otherwise (the act cannot go on)."""
    if reply.status_code not in (302, 303) or "location" not in reply.headers:
        raise DemoError(f"{what}: {reply.status_code} {reply.text[:300]}")
    return str(reply.headers["location"])


def _start_app(system: System, client_id: str, secret: str, port: int) -> Service:
    env = {**system.env, SECRET_VARIABLE: secret}
    app = Service(
        "the guestbook app",
        f"http://127.0.0.1:{port}",
        [
            *(sys.executable, "-m", "tessera._demo_webapp"),
            *(system.issuer.url, client_id, str(port)),
        ],
        system.folder / "webapp.log",
        env,
        system.folder,
    )
    app.start()
    return app


def _sign_in(story: Story, system: System, browser: httpx.Client, app: str) -> tuple[str, str]:
    """The person opens the app's page, signs in at Tessera and consents; the callback URL
    and the nonce the app sent."""
    issuer = system.issuer.url
    first = browser.get(app + "/me")
    login = _expect_redirect(story, first, "GET /me without a session")
    story.say(f"  GET /me               -> {first.status_code} {login}   (nobody signed in)")
    story.check(login.startswith("/auth/login"), "the app sends a stranger to its login route")
    started = browser.get(app + login)
    authorize = _expect_redirect(story, started, "the app's login route")
    request = _query(authorize)
    story.say(f"  GET /auth/login       -> {started.status_code} {issuer}/authorize?…")
    story.say(
        f"      client_id={request.get('client_id')} scope={request.get('scope')!r}\n"
        f"      code_challenge_method={request.get('code_challenge_method')} "
        f"state={_short(request.get('state', ''))} nonce={_short(request.get('nonce', ''))}"
    )
    story.check(authorize.startswith(issuer + "/authorize?"), "the app redirects to Tessera")
    story.check(request.get("code_challenge_method") == "S256", "the app uses PKCE S256")
    story.check(bool(request.get("nonce")), "the app sends a nonce")
    page = browser.get(authorize)
    story.say(f"  GET /authorize        -> {page.status_code} Tessera's sign-in page")
    if page.status_code != 200 or "type=password" not in page.text:
        raise DemoError(f"no sign-in page: {page.status_code} {page.text[:300]}")
    fields = {**hidden_fields(page.text), "username": USERNAME, "password": PASSWORD}
    signed = browser.post(issuer + "/authorize", data=fields)
    consent_url = _expect_redirect(story, signed, "signing in")
    story.say(
        f"  POST /authorize       -> {signed.status_code}   ({USERNAME} types her password: "
        "signed in at Tessera)"
    )
    consent = browser.get(issuer + consent_url)
    items = [
        f"{html.unescape(words)} ({html.unescape(scope)})"
        for words, scope in _CONSENT_ITEM.findall(consent.text)
    ]
    story.say(f"  the consent page: the guestbook asks to: {'; '.join(items)}")
    story.check(len(items) == 3, f"the consent page lists the 3 scopes, not {len(items)}")
    allowed = browser.post(
        issuer + "/authorize", data={**hidden_fields(consent.text), "decision": "allow"}
    )
    callback = _expect_redirect(story, allowed, "consenting")
    back = _query(callback)
    story.say(
        f"  POST /authorize       -> {allowed.status_code} {_path(callback)}   "
        f"({USERNAME} clicks Allow)\n"
        f"      code={_short(back.get('code', ''))} iss={back.get('iss')}"
    )
    story.check(back.get("state") == request.get("state"), "the state comes back unchanged")
    story.check(back.get("iss") == issuer, "the redirect names the issuer (RFC 9207)")
    return callback, request.get("nonce", "")


def _show_user(
    story: Story, system: System, page: dict[str, Any], user_id: str, client_id: str, nonce: str
) -> None:
    """What the app learnt: the ID token's header and claims, and UserInfo; checked."""
    token = page.get("id_token")
    claims = page.get("id_token_claims") or {}
    userinfo = page.get("userinfo") or {}
    story.say(f"  GET /me               -> 200 {page.get('greeting')!r}")
    story.say("\n  The ID token the app verified (signature, iss, aud, exp, nonce, at_hash):")
    if isinstance(token, str):
        header, _ = _describe_token(story, token)
        story.check(header.get("typ") == "JWT", "the ID token's typ is JWT (not at+jwt)")
        story.check(header.get("alg") == "RS256", "the ID token is signed RS256")
    else:
        story.check(False, "the app shows no ID token")
    story.say(f"  amr={claims.get('amr')}: she signed in with a password (RFC 8176)")
    story.say("\n  UserInfo, which the app fetched with its access token:")
    story.say(
        "  "
        + "  ".join(f"{k}={_clock(v) if k == 'updated_at' else v}" for k, v in userinfo.items())
    )
    story.check(claims.get("iss") == system.issuer.url, "the ID token's iss is the issuer")
    story.check(claims.get("aud") == client_id, "the ID token's aud is the app's client_id")
    story.check(claims.get("sub") == user_id, "the ID token's sub is the person's user id")
    story.check(claims.get("nonce") == nonce, "the ID token echoes the nonce")
    story.check(bool(claims.get("at_hash")), "the ID token carries at_hash")
    story.check(claims.get("amr") == ["pwd"], "the ID token says amr [pwd]")
    story.check(userinfo.get("sub") == claims.get("sub"), "UserInfo's sub is the ID token's")
    story.check(userinfo.get("email") == EMAIL, "UserInfo gives the email (scope email)")
    story.check(userinfo.get("name") == NAME, "UserInfo gives the name (scope profile)")
    story.check(userinfo.get("preferred_username") == USERNAME, "UserInfo gives preferred_username")
    if isinstance(token, str):
        door = system.call("GET", "/lobby", token)
        story.say(
            f"\n  The ID token is no badge: the demo API's GET /lobby -> "
            f"{story.verdict(door.status_code == 200)} {door.status_code}  {_reason(door)}"
        )
        story.check(door.status_code == 401, "the ID token does not open the API's doors")


def _sign_out(story: Story, system: System, browser: httpx.Client, app: str) -> None:
    """The app's logout route, Tessera's end_session_endpoint, and back; both sessions end."""
    out = browser.get(app + "/auth/logout")
    logout = _expect_redirect(story, out, "the app's logout route")
    asked = _query(logout)
    story.say(
        f"  GET /auth/logout      -> {out.status_code} {system.issuer.url}/logout?…  "
        f"(id_token_hint={'yes' if asked.get('id_token_hint') else 'no'}, "
        f"post_logout_redirect_uri={asked.get('post_logout_redirect_uri')})"
    )
    story.check(logout.startswith(system.issuer.url + "/logout?"), "logout goes to Tessera")
    ended = browser.get(logout)
    home = _expect_redirect(story, ended, "Tessera's logout")
    story.say(f"  GET /logout           -> {ended.status_code} {home}   (signed out at Tessera)")
    story.check(home.startswith(app + "/"), "Tessera sends the browser back to the app")
    again = browser.get(app + "/me")
    story.say(
        f"  GET /me               -> {again.status_code} {again.headers.get('location')}  "
        "(signed out of the app)"
    )
    story.check(again.status_code == 303, "the app forgot the person")
    login = browser.get(app + str(again.headers.get("location", "/auth/login")))
    page = browser.get(str(login.headers.get("location", "")))
    asks = page.status_code == 200 and "type=password" in page.text
    story.say(
        f"  signing in again      -> {page.status_code} "
        f"{'the password is asked again' if asks else 'no sign-in page'}"
    )
    story.check(asks, "Tessera's session ended too: the password is asked again")


def oidc_act(story: Story, system: System) -> None:
    """The act: create the person and the app's client, run the app, sign in, sign out."""
    import httpx

    port = _free_port()
    app = f"http://127.0.0.1:{port}"
    person = system.tessera(
        story,
        *("users", "add", USERNAME, "--password-stdin"),
        *("--email", EMAIL, "--name", NAME),
        stdin=PASSWORD + "\n",
    )
    user_id = str(person["user_id"])
    story.say(f"  {USERNAME}: user_id={user_id}  claims={person.get('claims')}")
    view = system.tessera(
        story,
        *("clients", "add", "guestbook", "--scope", SCOPE),
        *("--redirect-uri", app + "/auth/callback", "--post-logout-redirect-uri", app + "/"),
    )
    client_id, secret = str(view["client_id"]), str(view["client_secret"])
    story.say(
        f"  guestbook: client_id={client_id}  grants={' + '.join(view['grant_types'])}  "
        f"ID tokens {view.get('openid', {}).get('id_token_signed_response_alg')}"
    )
    service = _start_app(system, client_id, secret, port)
    try:
        service.wait_ready(system.http, "/")
        story.say(
            f"  the guestbook app     {app}   (FastAPI + tessera.oidc.fastapi.SignIn; "
            "Tessera found by discovery)\n"
        )
        with httpx.Client(timeout=10, follow_redirects=False) as browser:
            callback, nonce = _sign_in(story, system, browser, app)
            done = browser.get(callback)
            landing = _expect_redirect(story, done, "the app's callback")
            story.say(
                f"  GET /auth/callback    -> {done.status_code} {landing}   (the app exchanged "
                "the code,\n      verified the ID token and asked UserInfo)"
            )
            page = browser.get(app + landing)
            if page.status_code != 200:
                raise DemoError(f"the app's page: {page.status_code} {page.text[:300]}")
            _show_user(story, system, page.json(), user_id, client_id, nonce)
            story.say()
            _sign_out(story, system, browser, app)
    finally:
        service.stop()
