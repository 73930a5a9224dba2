"""The official ``mcp`` SDK client against an MCP server protected by ``tessera.resource``
and Tessera as its authorization server, all real servers on 127.0.0.1.

The SDK's ``OAuthClientProvider`` does everything a real MCP client does: the tool call gets
a 401, it reads the RFC 9728 metadata named by the challenge, Tessera's RFC 8414 metadata,
then either presents its Client ID Metadata Document URL (served over https by a test CA) or
registers dynamically (RFC 7591), runs the code flow with PKCE (a person signs in and
consents: played with httpx on the real forms), exchanges the code, calls the tool, and
later refreshes its token. The example server in examples/ is the one under test.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from documenthost import DocumentHost, document_host
from mcphelp import (
    MemoryStorage,
    Person,
    call_add_twice_with_a_refresh,
    provider_for,
    serve_asgi,
)
from serverhelp import Databases, RunningServer, bound_socket, running_server

import tessera

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mcp_server.py"


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("tessera_example_mcp_server", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Stack:
    """Tessera, the https document host and the example MCP server, running together."""

    def __init__(
        self, issuer: RunningServer, host: DocumentHost, mcp_url: str, sdk_url: str
    ) -> None:
        self.issuer = issuer
        self.host = host
        self.mcp_url = mcp_url
        self.sdk_url = sdk_url
        """The example protected through the SDK's hooks and tessera's TokenVerifier."""


@pytest.fixture(scope="module")
def stack(
    backend: str, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    sock, sdk_sock = bound_socket(), bound_socket()
    mcp_url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    sdk_url = f"http://127.0.0.1:{sdk_sock.getsockname()[1]}/mcp"
    with (
        document_host(tmp_path_factory.mktemp("mcp-docs")) as host,
        running_server(
            databases.new(backend),
            backend,
            registration=True,
            client_metadata_documents=True,
            fetch_allow=["127.0.0.1"],
            fetch_ca_file=str(host.ca_file),
            dynamic_scopes=["mcp:tools", "offline_access"],
            default_audience=[mcp_url, sdk_url],
        ) as issuer,
    ):
        example = load_example()
        app = example.create_app(issuer.url, mcp_url)
        sdk_app = example.create_sdk_app(issuer.url, sdk_url)
        with serve_asgi(app, sock), serve_asgi(sdk_app, sdk_sock):
            yield Stack(issuer, host, mcp_url, sdk_url)


def claims_of(stack: Stack, token: str) -> dict[str, Any]:
    keys = tessera.KeySet.from_jwks(stack.issuer.http.get("/jwks.json").text)
    return tessera.decode(
        token,
        keys,
        algorithms=["ES256"],
        issuer=stack.issuer.url,
        audience=stack.mcp_url,
        now=stack.issuer.clock(),
    )


def test_sdk_client_with_a_client_id_metadata_document_calls_a_tool(stack: Stack) -> None:
    path = "/sdk/client-metadata.json"
    metadata_url = stack.host.url(path)
    stack.host.put(
        path,
        {
            "client_id": metadata_url,
            "client_name": "SDK test client",
            "redirect_uris": ["http://127.0.0.1:33418/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
        },
    )
    person = Person(stack.issuer.url, stack.issuer.add_user())
    storage = MemoryStorage()
    provider = provider_for(stack.mcp_url, person, storage, metadata_url)
    assert anyio.run(call_add_twice_with_a_refresh, stack.mcp_url, provider, storage) == ("5", "42")
    assert storage.client is not None
    assert storage.client.client_id == metadata_url
    assert stack.host.hits[path] == 1
    assert "127.0.0.1" in person.consent_pages[0].split("id=client-host>")[1]
    assert storage.tokens is not None
    claims = claims_of(stack, storage.tokens.access_token)
    assert claims["client_id"] == metadata_url
    assert claims["aud"] == stack.mcp_url  # RFC 8707: bound to this MCP server only
    with httpx.Client(timeout=10) as http:
        elsewhere = http.post(
            stack.sdk_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Authorization": f"Bearer {storage.tokens.access_token}"},
        )
    assert elsewhere.status_code == 401  # the other MCP server does not take it
    assert claims["scope"].split()[0] == "mcp:tools"


def test_sdk_client_with_dynamic_registration_only_calls_a_tool(stack: Stack) -> None:
    person = Person(stack.issuer.url, stack.issuer.add_user())
    storage = MemoryStorage()
    provider = provider_for(stack.mcp_url, person, storage, None)
    assert anyio.run(call_add_twice_with_a_refresh, stack.mcp_url, provider, storage) == ("5", "42")
    assert storage.client is not None
    client_id = storage.client.client_id
    assert not client_id.startswith("https://")  # registered, not a metadata document
    assert storage.tokens is not None
    assert claims_of(stack, storage.tokens.access_token)["client_id"] == client_id


def test_challenges_name_the_metadata_and_the_scope(stack: Stack) -> None:
    with httpx.Client(timeout=10) as http:
        answer = http.post(stack.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert answer.status_code == 401
        challenge = answer.headers["www-authenticate"]
        metadata_url = stack.mcp_url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
        assert f'resource_metadata="{metadata_url}"' in challenge
        assert 'scope="mcp:tools"' in challenge
        document = http.get(metadata_url).json()
        assert document["resource"] == stack.mcp_url
        assert document["authorization_servers"] == [stack.issuer.url]
        assert document["scopes_supported"] == ["mcp:tools"]


def test_a_token_without_the_scope_is_insufficient_scope(stack: Stack) -> None:
    registered = stack.issuer.add_client(scope="other", audiences=[stack.mcp_url])
    token = stack.issuer.post_token(
        {"grant_type": "client_credentials"}, auth=(registered.client_id, registered.secret or "")
    ).json()["access_token"]
    with httpx.Client(timeout=10) as http:
        answer = http.post(
            stack.mcp_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 403
    challenge = answer.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="mcp:tools"' in challenge
    assert "resource_metadata=" in challenge


def test_sdk_auth_hooks_with_tessera_token_verifier(stack: Stack) -> None:
    person = Person(stack.issuer.url, stack.issuer.add_user())
    storage = MemoryStorage()
    provider = provider_for(stack.sdk_url, person, storage, None)
    result = anyio.run(call_add_twice_with_a_refresh, stack.sdk_url, provider, storage)
    assert result == ("5", "42")
    with httpx.Client(timeout=10) as http:
        anonymous = http.post(stack.sdk_url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert anonymous.status_code == 401
        assert "resource_metadata=" in anonymous.headers["www-authenticate"]
        forged = http.post(
            stack.sdk_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Authorization": "Bearer " + "e30.e30.e30"},
        )
        assert forged.status_code == 401
