"""GET/POST /authorize (RFC 6749 sec. 4.1, RFC 7636): sign-in, consent, the redirect with a
code, and every way a request can be wrong, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import httpx
import pytest
from serverhelp import (
    Browser,
    Client,
    Databases,
    Pkce,
    RunningServer,
    User,
    auth_params,
    hidden_fields,
    query_of,
    running_server,
)

CALLBACK = "https://app.example/callback"
OTHER_CALLBACK = "https://app.example/other"


@pytest.fixture(scope="module")
def server(backend: str, databases: Databases) -> Iterator[RunningServer]:
    """A server that does not throttle: this module fails many sign-ins from one address."""
    with running_server(databases.new(backend), backend, login_free_failures=10_000) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Client:
    return server.add_client(
        scope="read:docs write:docs offline_access", redirect_uris=(CALLBACK, OTHER_CALLBACK)
    )


@pytest.fixture(scope="module")
def user(server: RunningServer) -> User:
    return server.add_user()


@pytest.fixture
def browser(server: RunningServer) -> Iterator[Browser]:
    with Browser(server) as opened:
        yield opened


def assert_error_page(response: httpx.Response, status: int = 400) -> None:
    """Shown to the person, never redirected."""
    assert response.status_code == status, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "cannot be completed" in response.text or "Sign in" in response.text
    assert "Traceback" not in response.text


def assert_redirected_error(response: httpx.Response, error: str, state: str) -> dict[str, str]:
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK + "?")
    query = query_of(location)
    assert query["error"] == error
    assert query["state"] == state
    assert query["error_description"]
    assert "code" not in query
    return query


def test_sign_in_consent_and_redirect_with_code(
    server: RunningServer, client: Client, user: User, browser: Browser
) -> None:
    pkce = Pkce.new()
    params = auth_params(client, CALLBACK, pkce, scope="read:docs offline_access")
    consent = browser.sign_in(params, user)
    assert "Read your docs" in consent.text
    assert "Stay connected while you are away" in consent.text
    assert user.username in consent.text
    location = browser.post(hidden_fields(consent.text), decision="allow").headers["location"]
    assert location.startswith(CALLBACK + "?")
    query = query_of(location)
    assert query["state"] == params["state"]
    assert query["iss"] == server.url  # RFC 9207
    assert len(query["code"]) >= 43


def test_pages_carry_security_headers_and_cookie_flags(client: Client, browser: Browser) -> None:
    page = browser.open(auth_params(client, CALLBACK, Pkce.new()))
    assert page.status_code == 200
    headers = page.headers
    assert headers["cache-control"] == "no-store"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src" not in headers["content-security-policy"]  # default-src 'none'
    cookie = headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # the test issuer is http://127.0.0.1
    assert 'name="csrf_token"' in page.text
    assert "<script" not in page.text.lower()
    css = browser.http.get("/static/tessera.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


def test_signed_in_session_goes_straight_to_consent(
    client: Client, user: User, browser: Browser
) -> None:
    browser.sign_in(auth_params(client, CALLBACK, Pkce.new()), user)
    again = browser.open(auth_params(client, OTHER_CALLBACK, Pkce.new()))
    assert again.status_code == 200
    assert "value=allow" in again.text


def test_sign_in_replaces_the_session_cookie(client: Client, user: User, browser: Browser) -> None:
    page = browser.open(auth_params(client, CALLBACK, Pkce.new()))
    before = page.cookies.get("tessera_session")
    signed = browser.post(hidden_fields(page.text), username=user.username, password=user.password)
    assert signed.status_code == 303
    after = signed.cookies.get("tessera_session")
    assert before
    assert after
    assert before != after


def test_redirect_uri_may_be_omitted_only_with_one_registered(
    server: RunningServer, user: User, browser: Browser
) -> None:
    single = server.add_client(redirect_uris=(CALLBACK,))
    params = auth_params(single, CALLBACK, Pkce.new())
    del params["redirect_uri"]
    assert browser.authorize(params, user).startswith(CALLBACK + "?code=")
    two = server.add_client(redirect_uris=(CALLBACK, OTHER_CALLBACK))
    params = auth_params(two, CALLBACK, Pkce.new())
    del params["redirect_uri"]
    assert_error_page(browser.open(params))


def test_deny_redirects_access_denied(client: Client, user: User, browser: Browser) -> None:
    params = auth_params(client, CALLBACK, Pkce.new())
    location = browser.authorize(params, user, decision="deny")
    query = query_of(location)
    assert query["error"] == "access_denied"
    assert query["state"] == params["state"]


@pytest.mark.parametrize(
    "redirect_uri",
    [
        CALLBACK + "/",  # trailing slash
        CALLBACK + "?next=1",  # extra query
        CALLBACK + "#frag",  # fragment
        "https://evil.example/callback",  # other host
        "https://app.example.evil.example/callback",
        "https://app.example@evil.example/callback",  # userinfo trick
        "http://app.example/callback",  # other scheme
        "https://APP.example/callback",  # case variant
        "https://app.example/callback/../evil",
        "https://app.example:443/callback",  # explicit port
        "//evil.example/callback",
        "javascript:alert(1)",
    ],
)
def test_redirect_uri_variants_show_an_error_page(
    client: Client, browser: Browser, redirect_uri: str
) -> None:
    assert_error_page(browser.open(auth_params(client, redirect_uri, Pkce.new())))


def test_unknown_client_never_redirects(browser: Browser) -> None:
    params = {
        "response_type": "code",
        "client_id": "no-such-client",
        "redirect_uri": "https://evil.example/",
        "code_challenge": Pkce.new().challenge,
        "code_challenge_method": "S256",
    }
    assert_error_page(browser.open(params))
    del params["client_id"]
    assert_error_page(browser.open(params))


def test_open_redirect_attempts_are_refused(client: Client, browser: Browser) -> None:
    pkce = Pkce.new()
    # an error that would normally be redirected, with an unregistered target
    bad = auth_params(client, "https://evil.example/", pkce, response_type="token")
    assert_error_page(browser.open(bad))
    # two redirect URIs, one registered
    query = urlencode(
        [*auth_params(client, CALLBACK, pkce).items(), ("redirect_uri", "https://evil.example/")]
    )
    assert_error_page(browser.http.get("/authorize?" + query))
    # two client ids
    query = urlencode([*auth_params(client, CALLBACK, pkce).items(), ("client_id", "x")])
    assert_error_page(browser.http.get("/authorize?" + query))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"scope": "admin"}, "invalid_scope"),
        ({"scope": 'read:docs "x'}, "invalid_scope"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"response_mode": "form_post"}, "invalid_request"),
        ({"response_mode": "query.jwt"}, "invalid_request"),
    ],
)
def test_bad_requests_are_redirected_with_the_error(
    client: Client, browser: Browser, change: dict[str, str | None], error: str
) -> None:
    params: dict[str, str] = auth_params(client, CALLBACK, Pkce.new())
    for name, value in change.items():
        if value is None:
            params.pop(name)
        else:
            params[name] = value
    response = browser.open(params)
    assert_redirected_error(response, error, params["state"])


def test_response_modes_are_those_the_metadata_advertises(
    server: RunningServer, client: Client, browser: Browser
) -> None:
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        assert server.http.get(path).json()["response_modes_supported"] == ["query"]
    accepted = browser.open(auth_params(client, CALLBACK, Pkce.new(), response_mode="query"))
    assert accepted.status_code == 200
    assert "Sign in" in accepted.text
    # the error goes back in the query, never as a fragment (a mode this server does not use)
    params = auth_params(client, CALLBACK, Pkce.new(), response_mode="fragment")
    query = assert_redirected_error(browser.open(params), "invalid_request", params["state"])
    assert "response_mode" in query["error_description"]
    assert "#" not in browser.open(params).headers["location"]
    # before the client and its redirect URI are known good, an error page, never a redirect
    unknown = {**params, "client_id": "no-such-client"}
    assert_error_page(browser.open(unknown))
    unregistered = auth_params(
        client, "https://evil.example/", Pkce.new(), response_mode="fragment"
    )
    assert_error_page(browser.open(unregistered))


def test_client_without_the_grant_gets_unauthorized_client(
    server: RunningServer, browser: Browser
) -> None:
    machine = server.add_client(redirect_uris=(CALLBACK,), grant_types=("client_credentials",))
    params = auth_params(machine, CALLBACK, Pkce.new())
    assert_redirected_error(browser.open(params), "unauthorized_client", params["state"])


def test_repeated_parameter_is_redirected_invalid_request(client: Client, browser: Browser) -> None:
    params = auth_params(client, CALLBACK, Pkce.new())
    query = urlencode([*params.items(), ("code_challenge_method", "S256")])
    response = browser.http.get("/authorize?" + query)
    assert_redirected_error(response, "invalid_request", params["state"])


def test_missing_csrf_token_is_refused(client: Client, user: User, browser: Browser) -> None:
    page = browser.open(auth_params(client, CALLBACK, Pkce.new()))
    fields = hidden_fields(page.text)
    del fields["csrf_token"]
    response = browser.post(fields, username=user.username, password=user.password)
    assert_error_page(response, 403)
    fields["csrf_token"] = "forged"
    assert_error_page(browser.post(fields, username=user.username, password=user.password), 403)


def test_form_from_another_browser_is_refused(
    server: RunningServer, client: Client, user: User, browser: Browser
) -> None:
    """A cross-site POST carries no session cookie: the CSRF check fails."""
    page = browser.open(auth_params(client, CALLBACK, Pkce.new()))
    with Browser(server) as other:
        response = other.post(
            hidden_fields(page.text), username=user.username, password=user.password
        )
    assert_error_page(response, 403)


def test_consent_without_sign_in_is_refused(client: Client, browser: Browser) -> None:
    page = browser.open(auth_params(client, CALLBACK, Pkce.new()))
    response = browser.post(hidden_fields(page.text), action="consent", decision="allow")
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "Sign in first" in response.text


def test_oversize_form_is_refused(server: RunningServer, client: Client, browser: Browser) -> None:
    page = browser.open(auth_params(client, CALLBACK, Pkce.new()))
    fields = hidden_fields(page.text)
    response = browser.post(fields, username="a", password="x" * server.settings.max_body_size)
    assert_error_page(response, 413)


def test_oversize_query_is_refused(client: Client, browser: Browser) -> None:
    params = auth_params(client, CALLBACK, Pkce.new(), state="s" * 9000)
    assert_error_page(browser.open(params), 414)


def test_form_with_another_media_type_is_refused(browser: Browser) -> None:
    response = browser.http.post("/authorize", json={"client_id": "x"})
    assert_error_page(response, 415)


def test_wrong_password_shows_the_form_again(client: Client, user: User, browser: Browser) -> None:
    page = browser.open(auth_params(client, CALLBACK, Pkce.new()))
    response = browser.post(hidden_fields(page.text), username=user.username, password="nope")
    assert response.status_code == 400
    assert "Wrong user name or password" in response.text
    assert "location" not in response.headers


@pytest.mark.parametrize(
    "username",
    [
        "' OR '1'='1",
        "admin'--",
        '"; DROP TABLE users; --',
        "x' UNION SELECT password_hash FROM users --",
        "%' OR 1=1 --",
    ],
)
def test_sql_looking_usernames_are_just_wrong(
    server: RunningServer, client: Client, user: User, browser: Browser, username: str
) -> None:
    page = browser.open(auth_params(client, CALLBACK, Pkce.new()))
    response = browser.post(hidden_fields(page.text), username=username, password="' OR '1'='1")
    assert response.status_code == 400
    assert "Wrong user name or password" in response.text
    from tessera.server import accounts

    assert user.username in {u.username for u in accounts.list_users(server.db)}


def test_html_in_state_and_username_is_escaped(client: Client, browser: Browser) -> None:
    params = auth_params(client, CALLBACK, Pkce.new(), state='"><script>alert(1)</script>')
    page = browser.open(params)
    assert "<script>" not in page.text
    fields = hidden_fields(page.text)
    assert fields["state"] == params["state"]
    response = browser.post(fields, username="<b>x</b>", password="y")
    assert "<b>x</b>" not in response.text


def test_head_request_is_answered_like_get(client: Client, browser: Browser) -> None:
    response = browser.http.head("/authorize", params=auth_params(client, CALLBACK, Pkce.new()))
    assert response.status_code == 200
    assert response.content == b""


def test_error_redirect_names_the_issuer(
    server: RunningServer, client: Client, browser: Browser
) -> None:
    params = auth_params(client, CALLBACK, Pkce.new(), code_challenge_method="plain")
    query = assert_redirected_error(browser.open(params), "invalid_request", params["state"])
    assert query["iss"] == server.url  # RFC 9207: the app can tell which server answered
