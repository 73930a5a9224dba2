"""The OpenID request parameters at /authorize: prompt, max_age, login_hint, id_token_hint,
request objects refused, and every malformed OpenID parameter answered with its error at the
redirect URI (with state and iss), never a 500; on both backends."""

from __future__ import annotations

import secrets

import pytest
from serverhelp import (
    Browser,
    Client,
    Pkce,
    RunningServer,
    User,
    auth_params,
    hidden_fields,
    query_of,
)

import tessera

CALLBACK = "https://rp.example/cb"


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Client:
    return server.add_client(
        scope="openid profile offline_access", audiences=(), redirect_uris=(CALLBACK,)
    )


@pytest.fixture(scope="module")
def user(server: RunningServer) -> User:
    return server.add_user()


def params(client: Client, **extra: str) -> dict[str, str]:
    return auth_params(client, CALLBACK, Pkce.new(), scope="openid", **extra)


def redirected_error(response: object, error: str, sent: dict[str, str], issuer: str) -> None:
    """The response is a redirect to the client carrying ``error``, the state and iss."""
    status = getattr(response, "status_code", None)
    headers = getattr(response, "headers", {})
    assert status == 302, getattr(response, "text", "")
    location = headers["location"]
    assert location.startswith(CALLBACK + "?")
    query = query_of(location)
    assert query["error"] == error, query
    assert query["state"] == sent["state"]
    assert query["iss"] == issuer


def signed_in_browser(server: RunningServer, client: Client, user: User) -> Browser:
    """A browser whose person signed in and consented once (a live grant)."""
    browser = Browser(server)
    browser.authorize(params(client), user)
    return browser


def id_token_for(server: RunningServer, client: Client, browser: Browser) -> str:
    pkce = Pkce.new()
    request = auth_params(client, CALLBACK, pkce, scope="openid", prompt="none")
    answer = browser.open(request)
    code = query_of(answer.headers["location"])["code"]
    response = server.post_token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": pkce.verifier,
        },
        auth=(client.client_id, client.secret or ""),
    )
    return str(response.json()["id_token"])


def test_prompt_none_without_a_session_is_login_required(
    server: RunningServer, client: Client
) -> None:
    sent = params(client, prompt="none")
    with Browser(server) as browser:
        redirected_error(browser.open(sent), "login_required", sent, server.url)


def test_prompt_none_signed_in_without_consent_is_consent_required(
    server: RunningServer, user: User
) -> None:
    other = server.add_client(scope="openid", audiences=(), redirect_uris=(CALLBACK,))
    first = server.add_client(scope="openid", audiences=(), redirect_uris=(CALLBACK,))
    with signed_in_browser(server, first, user) as browser:
        sent = params(other, prompt="none")
        redirected_error(browser.open(sent), "consent_required", sent, server.url)


def test_prompt_none_signed_in_with_consent_returns_a_code(
    server: RunningServer, client: Client, user: User
) -> None:
    with signed_in_browser(server, client, user) as browser:
        sent = params(client, prompt="none")
        response = browser.open(sent)
        assert response.status_code == 303
        query = query_of(response.headers["location"])
        assert query["code"]
        assert query["state"] == sent["state"]
        assert query["iss"] == server.url


def test_prompt_login_shows_the_sign_in_page_to_a_signed_in_person(
    server: RunningServer, client: Client, user: User
) -> None:
    with signed_in_browser(server, client, user) as browser:
        first_auth = server.clock()
        server.clock.advance(30)
        page = browser.open(params(client, prompt="login"))
        assert page.status_code == 200
        assert "id=password" in page.text
        signed = browser.post(
            hidden_fields(page.text), username=user.username, password=user.password
        )
        assert signed.status_code == 303
        assert "prompt=" not in signed.headers["location"]  # asked and answered
        consent = browser.http.get(signed.headers["location"])
        assert "decision" in consent.text
        token = id_token_for(server, client, browser)
    auth_time = tessera.decode_unverified(token)[1]["auth_time"]
    assert auth_time == int(first_auth) + 30


def test_prompt_select_account_lets_the_person_sign_in_again(
    server: RunningServer, client: Client, user: User
) -> None:
    with signed_in_browser(server, client, user) as browser:
        page = browser.open(params(client, prompt="select_account"))
        assert page.status_code == 200
        assert "id=password" in page.text


def test_prompt_consent_shows_the_consent_page(
    server: RunningServer, client: Client, user: User
) -> None:
    with signed_in_browser(server, client, user) as browser:
        page = browser.open(params(client, prompt="consent"))
        assert page.status_code == 200
        assert "decision" in page.text


def test_max_age_exceeded_forces_sign_in_and_auth_time_is_fresh(
    server: RunningServer, client: Client, user: User
) -> None:
    with signed_in_browser(server, client, user) as browser:
        server.clock.advance(2)
        sent = params(client, max_age="1", prompt="none")
        redirected_error(browser.open(sent), "login_required", sent, server.url)
        page = browser.open(params(client, max_age="1"))
        assert "id=password" in page.text
        signed = browser.post(
            hidden_fields(page.text), username=user.username, password=user.password
        )
        consent = browser.http.get(signed.headers["location"])
        assert "decision" in consent.text
        within = browser.open(params(client, max_age="60", prompt="none"))
        assert within.status_code == 303  # signed in 0 s ago: within max_age
        token = id_token_for(server, client, browser)
    assert tessera.decode_unverified(token)[1]["auth_time"] == int(server.clock())


def test_login_hint_fills_in_the_user_name(server: RunningServer, client: Client) -> None:
    with Browser(server) as browser:
        page = browser.open(params(client, login_hint="ada@example.org"))
    assert page.status_code == 200
    assert 'value="ada@example.org"' in page.text


def test_id_token_hint_of_the_signed_in_person_even_expired(
    server: RunningServer, client: Client, user: User
) -> None:
    with signed_in_browser(server, client, user) as browser:
        hint = id_token_for(server, client, browser)
        server.clock.advance(server.settings.token_lifetime + 60)  # the hint has expired
        response = browser.open(params(client, prompt="none", id_token_hint=hint))
        assert response.status_code == 303
        assert "code" in query_of(response.headers["location"])


def test_id_token_hint_of_someone_else_is_login_required(
    server: RunningServer, client: Client, user: User
) -> None:
    other = server.add_user()
    with signed_in_browser(server, client, other) as browser:
        hint_of_other = id_token_for(server, client, browser)
    with signed_in_browser(server, client, user) as browser:
        sent = params(client, prompt="none", id_token_hint=hint_of_other)
        redirected_error(browser.open(sent), "login_required", sent, server.url)
        page = browser.open(params(client, id_token_hint=hint_of_other))
        assert "id=password" in page.text  # without prompt=none: sign in as them


def test_id_token_hint_not_from_this_server_is_invalid_request(
    server: RunningServer, client: Client, user: User
) -> None:
    forged = tessera.encode(
        {"iss": server.url, "sub": user.user_id, "aud": client.client_id, "iat": 1, "exp": 2},
        tessera.Key.generate("RS256"),
        typ="JWT",
    )
    with signed_in_browser(server, client, user) as browser:
        for hint in (forged, "not.a.jwt", "x" * 300):
            sent = params(client, id_token_hint=hint)
            redirected_error(browser.open(sent), "invalid_request", sent, server.url)


def test_an_access_token_is_not_an_id_token_hint(
    server: RunningServer, client: Client, user: User
) -> None:
    api = server.add_client(scope="read:docs")
    access = server.post_token(
        {"grant_type": "client_credentials"}, auth=(api.client_id, api.secret or "")
    ).json()["access_token"]
    with signed_in_browser(server, client, user) as browser:
        sent = params(client, id_token_hint=access)
        redirected_error(browser.open(sent), "invalid_request", sent, server.url)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("request", "request_not_supported"),
        ("request_uri", "request_uri_not_supported"),
        ("registration", "registration_not_supported"),
    ],
)
def test_request_objects_are_refused(
    server: RunningServer, client: Client, name: str, error: str
) -> None:
    unsigned = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0."
    value = unsigned if name == "request" else "https://rp.example/request.jwt"
    sent = params(client, **{name: value})
    with Browser(server) as browser:
        redirected_error(browser.open(sent), error, sent, server.url)


@pytest.mark.parametrize(
    "bad",
    [
        {"prompt": "sometimes"},
        {"prompt": "none login"},
        {"prompt": "login  consent"},
        {"max_age": "-1"},
        {"max_age": "1.5"},
        {"max_age": "99999999999"},
        {"max_age": "１"},
        {"nonce": "n" * 513},
        {"response_mode": "fragment"},
        {"response_mode": "form_post"},
        {"display": "hologram"},
        {"login_hint": "h" * 257},
        {"ui_locales": "x" * 257},
        {"acr_values": "a" * 257},
    ],
)
def test_malformed_openid_parameters_are_invalid_request(
    server: RunningServer, client: Client, bad: dict[str, str]
) -> None:
    sent = params(client, **bad)
    with Browser(server) as browser:
        redirected_error(browser.open(sent), "invalid_request", sent, server.url)


def test_repeated_openid_parameters_are_invalid_request(
    server: RunningServer, client: Client
) -> None:
    sent = params(client)
    with Browser(server) as browser:
        for name in ("nonce", "prompt", "max_age", "id_token_hint"):
            query = [*sent.items(), (name, "login"), (name, "none")]
            response = browser.http.get("/authorize", params=query)
            redirected_error(response, "invalid_request", sent, server.url)


def test_random_openid_values_never_cause_a_500(server: RunningServer, client: Client) -> None:
    rng = secrets.SystemRandom()
    alphabet = "ab01 .-_~%+/=éø\u202e"
    with Browser(server) as browser:
        for _ in range(60):
            name = rng.choice(["nonce", "prompt", "max_age", "login_hint", "id_token_hint"])
            value = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
            response = browser.open(params(client, **{name: value}))
            assert response.status_code in (200, 302), (name, value, response.text)
