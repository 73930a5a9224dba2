"""sector_identifier_uri at /register (OpenID Dynamic Client Registration 1.0 sec. 2 and 5,
Core sec. 8.1): the document is fetched from a real https server (a test CA) under the SSRF
rules, must be a JSON array listing every redirect URI, and its host becomes the sector:
clients of one sector see the same pairwise sub. Bad documents, failed fetches and private
addresses are invalid_client_metadata. Both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from documenthost import Answer, DocumentHost, document_host
from serverhelp import (
    Browser,
    Client,
    Databases,
    Pkce,
    RunningServer,
    User,
    auth_params,
    query_of,
    running_server,
)

import tessera

CALLBACK = "https://rp.example/cb"
OTHER = "https://app2.example/cb"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentHost]:
    with document_host(tmp_path_factory.mktemp("sector")) as running:
        yield running


@pytest.fixture(scope="module")
def server(backend: str, databases: Databases, host: DocumentHost) -> Iterator[RunningServer]:
    with running_server(
        databases.new(backend),
        backend,
        registration=True,
        fetch_allow=["127.0.0.1"],
        fetch_ca_file=str(host.ca_file),
        fetch_timeout=1.0,
        dynamic_scopes=["openid", "profile"],
    ) as running:
        yield running


def document(sector_uri: str | None, redirects: list[str], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_name": "A sector app",
        "redirect_uris": redirects,
        "grant_types": ["authorization_code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid",
        "subject_type": "pairwise",
        **extra,
    }
    if sector_uri is not None:
        body["sector_identifier_uri"] = sector_uri
    return body


def serve_list(host: DocumentHost, path: str, uris: object) -> str:
    return host.put(
        path, Answer(json.dumps(uris).encode(), headers={"content-type": "application/json"})
    )


def register(server: RunningServer, body: dict[str, Any]) -> httpx.Response:
    return server.http.post("/register", json=body)


def refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == "invalid_client_metadata", body
    assert words in body["error_description"], body


def sub_of(server: RunningServer, client_id: str, redirect: str, user: User) -> str:
    pkce = Pkce.new()
    params = auth_params(Client(client_id, None, "sector app"), redirect, pkce, scope="openid")
    with Browser(server) as browser:
        location = browser.authorize(params, user)
    response = server.post_token(
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": query_of(location)["code"],
            "redirect_uri": redirect,
            "code_verifier": pkce.verifier,
        }
    )
    assert response.status_code == 200, response.text
    return str(tessera.decode_unverified(response.json()["id_token"])[1]["sub"])


def test_clients_of_one_sector_share_pairwise_subjects(
    server: RunningServer, host: DocumentHost
) -> None:
    user = server.add_user()
    shared = serve_list(host, "/apps/sector.json", [CALLBACK, OTHER, "https://x.example/cb"])
    first = register(server, document(shared, [CALLBACK]))
    assert first.status_code == 201, first.text
    assert first.json()["sector_identifier_uri"] == shared
    second = register(server, document(shared, [OTHER, CALLBACK]))  # two hosts, one sector
    assert second.status_code == 201, second.text
    # The same path on another host name of the document server: another sector.
    elsewhere_uri = serve_list(host, "/apps/elsewhere.json", [CALLBACK])
    elsewhere_uri = elsewhere_uri.replace("127.0.0.1", "localhost")
    elsewhere = register(server, document(elsewhere_uri, [CALLBACK]))
    assert elsewhere.status_code == 201, elsewhere.text
    plain = register(server, document(None, [CALLBACK]))  # sector: its redirect host
    assert plain.status_code == 201, plain.text
    subs = {
        "first": sub_of(server, first.json()["client_id"], CALLBACK, user),
        "second": sub_of(server, second.json()["client_id"], OTHER, user),
        "elsewhere": sub_of(server, elsewhere.json()["client_id"], CALLBACK, user),
        "plain": sub_of(server, plain.json()["client_id"], CALLBACK, user),
    }
    assert subs["first"] == subs["second"]
    assert subs["first"] != subs["elsewhere"]
    assert subs["plain"] not in (subs["first"], subs["elsewhere"])
    assert user.user_id not in subs.values()
    assert host.hits["/apps/sector.json"] == 2  # fetched at each registration


def test_a_redirect_uri_missing_from_the_document_is_refused(
    server: RunningServer, host: DocumentHost
) -> None:
    uri = serve_list(host, "/missing/sector.json", [CALLBACK])
    refused(register(server, document(uri, [CALLBACK, OTHER])), repr(OTHER))


@pytest.mark.parametrize(
    "content",
    [
        {"redirect_uris": [CALLBACK]},
        CALLBACK,
        [CALLBACK, 5],
        [[CALLBACK]],
        None,
    ],
)
def test_a_document_that_is_no_array_of_strings_is_refused(
    server: RunningServer, host: DocumentHost, content: object
) -> None:
    uri = serve_list(host, "/shape/sector.json", content)
    refused(register(server, document(uri, [CALLBACK])), "JSON array of redirect URI strings")


def test_a_document_that_is_not_json_is_refused(server: RunningServer, host: DocumentHost) -> None:
    uri = host.put("/text/sector.json", Answer(b"[https://rp.example/cb]"))
    refused(register(server, document(uri, [CALLBACK])), "is not JSON")


def test_an_oversized_document_is_refused(server: RunningServer, host: DocumentHost) -> None:
    many = [CALLBACK] + [f"https://rp.example/cb/{n:06d}" for n in range(400)]
    uri = serve_list(host, "/big/sector.json", many)
    refused(register(server, document(uri, [CALLBACK])), "exceeds 5120 bytes")


def test_a_slow_document_is_refused(server: RunningServer, host: DocumentHost) -> None:
    body = json.dumps([CALLBACK]).encode()
    uri = host.put("/slow/sector.json", Answer(body, delay=2.5))
    refused(register(server, document(uri, [CALLBACK])), "did not answer within 1.0 s")


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (Answer(b"gone", 404), "answered HTTP 404"),
        (Answer(b"", 302, {"location": "https://rp.example/s.json"}), "redirect; not followed"),
    ],
)
def test_a_failed_fetch_is_refused(
    server: RunningServer, host: DocumentHost, answer: Answer, words: str
) -> None:
    uri = host.put("/failed/sector.json", answer)
    refused(register(server, document(uri, [CALLBACK])), words)


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:9/sector.json",
        "ftp://rp.example/sector.json",
        "https://user:pw@rp.example/sector.json",
        "https://rp.example/sector.json#frag",
        "sector.json",
        "",
    ],
)
def test_a_sector_uri_that_is_not_https_is_refused(server: RunningServer, uri: str) -> None:
    refused(register(server, document(uri, [CALLBACK])), "must be an https URI")


def test_a_sector_uri_that_is_not_a_string_is_refused(server: RunningServer) -> None:
    body = document(None, [CALLBACK], sector_identifier_uri=["https://rp.example/s.json"])
    refused(register(server, body), "sector_identifier_uri must be a string")


def test_an_update_checks_the_document_again(server: RunningServer, host: DocumentHost) -> None:
    uri = serve_list(host, "/update/sector.json", [CALLBACK])
    created = register(server, document(uri, [CALLBACK]))
    assert created.status_code == 201, created.text
    client_id = created.json()["client_id"]
    auth = {"Authorization": f"Bearer {created.json()['registration_access_token']}"}
    path = f"/register/{client_id}"
    wider = {**document(uri, [CALLBACK, OTHER]), "client_id": client_id}
    refused(server.http.put(path, json=wider, headers=auth), repr(OTHER))
    serve_list(host, "/update/sector.json", [OTHER])  # the sector now lists another app only
    same = {**document(uri, [CALLBACK]), "client_id": client_id}
    refused(server.http.put(path, json=same, headers=auth), repr(CALLBACK))
    serve_list(host, "/update/sector.json", [CALLBACK, OTHER])
    updated = server.http.put(path, json=wider, headers=auth)
    assert updated.status_code == 200, updated.text
    assert updated.json()["redirect_uris"] == [CALLBACK, OTHER]
    assert host.hits["/update/sector.json"] == 1  # fetched again for this update


def test_a_public_client_may_name_a_sector_document(
    server: RunningServer, host: DocumentHost
) -> None:
    uri = serve_list(host, "/public/sector.json", [CALLBACK])
    created = register(server, document(uri, [CALLBACK], subject_type="public"))
    assert created.status_code == 201, created.text  # checked, but public subs stay the user id
    user = server.add_user()
    assert sub_of(server, created.json()["client_id"], CALLBACK, user) == user.user_id
    bad = serve_list(host, "/public/bad.json", [OTHER])
    refused(register(server, document(bad, [CALLBACK], subject_type="public")), repr(CALLBACK))


def test_a_private_address_is_refused_without_the_allow_list(
    backend: str, databases: Databases, host: DocumentHost
) -> None:
    uri = serve_list(host, "/private/sector.json", [CALLBACK])
    with running_server(
        databases.new(backend),
        backend,
        registration=True,
        fetch_ca_file=str(host.ca_file),
        fetch_timeout=1.0,
        dynamic_scopes=["openid"],
    ) as strict:
        refused(register(strict, document(uri, [CALLBACK])), "private, loopback or link-local")
        named = uri.replace("127.0.0.1", "localhost")
        refused(register(strict, document(named, [CALLBACK])), "private, loopback or link-local")
    assert host.hits["/private/sector.json"] == 0
