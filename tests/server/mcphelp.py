"""The official ``mcp`` SDK client, driven as an MCP client would drive it: its
``OAuthClientProvider`` with in-memory storage, and a person who signs in and consents on
Tessera's real pages (httpx on the forms) when the SDK opens the browser."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import AnyUrl
from serverhelp import User, hidden_fields

CALLBACK = "http://127.0.0.1:33418/callback"


class MemoryStorage:
    """The SDK's TokenStorage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Person:
    """Signs in and consents on Tessera's real pages when the SDK opens the browser."""

    def __init__(self, issuer_url: str, user: User) -> None:
        self.issuer_url = issuer_url
        self.user = user
        self.location: str | None = None
        self.consent_pages: list[str] = []

    async def open_browser(self, url: str) -> None:
        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
            page = await browser.get(url)
            assert page.status_code == 200, page.text
            form = self.issuer_url + "/authorize"
            fields = {
                **hidden_fields(page.text),
                "username": self.user.username,
                "password": self.user.password,
            }
            signed = await browser.post(form, data=fields)
            assert signed.status_code == 303, signed.text
            consent = await browser.get(self.issuer_url + signed.headers["location"])
            assert consent.status_code == 200, consent.text
            self.consent_pages.append(consent.text)
            allowed = await browser.post(
                form, data={**hidden_fields(consent.text), "decision": "allow"}
            )
            assert allowed.status_code == 303, allowed.text
            self.location = allowed.headers["location"]

    async def callback(self) -> AuthorizationCodeResult:
        from urllib.parse import parse_qs, urlsplit

        assert self.location is not None
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}
        return AuthorizationCodeResult(
            code=query["code"], state=query.get("state"), iss=query.get("iss")
        )


def provider_for(
    server_url: str, person: Person, storage: MemoryStorage, metadata_url: str | None
) -> OAuthClientProvider:
    """The SDK's OAuth provider for the MCP server at ``server_url``; with ``metadata_url``
    it presents that Client ID Metadata Document, otherwise it registers (RFC 7591)."""
    metadata = OAuthClientMetadata(
        client_name="SDK test client",
        redirect_uris=[AnyUrl(CALLBACK)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        server_url=server_url,
        client_metadata=metadata,
        storage=storage,
        redirect_handler=person.open_browser,
        callback_handler=person.callback,
        client_metadata_url=metadata_url,
    )


async def call_add_twice_with_a_refresh(
    url: str, provider: OAuthClientProvider, storage: MemoryStorage
) -> tuple[str, str]:
    """Call ``add``; expire the access token so the SDK refreshes; call again."""
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        first = await session.call_tool("add", {"a": 2, "b": 3})
        assert storage.tokens is not None
        before = storage.tokens.refresh_token
        provider.context.token_expiry_time = time.time() - 1
        second = await session.call_tool("add", {"a": 40, "b": 2})
        assert storage.tokens.refresh_token != before  # rotated: the refresh grant ran
        return _text(first), _text(second)


def _text(result: Any) -> str:
    assert not result.is_error, result
    return str(result.content[0].text)


@contextlib.contextmanager
def serve_asgi(app: Any, sock: Any) -> Iterator[None]:
    """``app`` under uvicorn in a thread on the already bound ``sock``."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", lifespan="on", ws="none", timeout_graceful_shutdown=1
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the MCP server did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
