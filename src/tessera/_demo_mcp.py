"""`make demo-mcp`: an MCP server protected by Tessera, and the official MCP SDK's client
getting in with no prior setup, told for a person to read.

It starts ``tessera serve`` (dynamic registration on, SQLite in a temporary folder) and an MCP
server (the SDK's ``MCPServer`` behind ``tessera.resource.mcp.protect``) as subprocesses, then
runs the SDK's ``OAuthClientProvider`` in this process: the 401 and its challenge, discovery,
registration, sign-in and consent (the demo plays the person on the real pages), the tool
call, a refresh, and a token without the scope refused with ``insufficient_scope``. Exit 0
when everything behaved as told, 1 otherwise.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tessera._demo import (
    DemoError,
    Service,
    Story,
    _environment,
    _free_port,
    _short,
    finish,
    hidden_fields,
)

if TYPE_CHECKING:
    import httpx
    from mcp.shared.auth import (
        AuthorizationCodeResult,
        OAuthClientInformationFull,
        OAuthToken,
    )

__all__ = ["main", "mcp_act", "mcp_available"]

SCOPE = "mcp:tools"
PASSWORD = "demo password 4 mcp"
CALLBACK = "http://127.0.0.1:33418/callback"


@dataclass
class _Stack:
    folder: Path
    issuer: Service
    mcp: Service
    http: httpx.Client
    env: dict[str, str]

    @property
    def mcp_url(self) -> str:
        return self.mcp.url + "/mcp"


@contextlib.contextmanager
def _running() -> Iterator[_Stack]:
    import httpx

    folder = Path(tempfile.mkdtemp(prefix="tessera-demo-mcp-"))
    issuer_port, mcp_port = _free_port(), _free_port()
    issuer_url, mcp_url = f"http://127.0.0.1:{issuer_port}", f"http://127.0.0.1:{mcp_port}"
    env = _environment(folder)
    env.update(
        TESSERA_REGISTRATION="true",
        TESSERA_DYNAMIC_SCOPES=f"{SCOPE} offline_access",
        TESSERA_DEFAULT_AUDIENCE=mcp_url + "/mcp",
    )
    python = sys.executable
    database = str(folder / "tessera.db")
    issuer = Service(
        "the authorization server",
        issuer_url,
        [python, "-m", "tessera", "serve", "--database", database, "--port", str(issuer_port)],
        folder / "serve.log",
        env,
        folder,
    )
    mcp = Service(
        "the MCP server",
        mcp_url,
        [python, "-m", "tessera._demo_mcp", "--server", issuer_url, mcp_url + "/mcp"],
        folder / "mcp.log",
        env,
        folder,
    )
    http = httpx.Client(timeout=10)
    try:
        issuer.start()
        issuer.wait_ready(http, "/healthz")
        mcp.start()
        mcp.wait_ready(http, "/.well-known/oauth-protected-resource/mcp")
        yield _Stack(folder, issuer, mcp, http, env)
    finally:
        http.close()
        mcp.stop()
        issuer.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _cli(story: Story, stack: _Stack, *args: str, stdin: str | None = None) -> str:
    import subprocess

    story.command(["tessera", *args])
    command = [
        sys.executable,
        "-m",
        "tessera",
        *args,
        "--database",
        str(stack.folder / "tessera.db"),
    ]
    done = subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        env=stack.env,
        cwd=stack.folder,
        timeout=60,
    )
    if done.returncode != 0:
        raise DemoError(f"`tessera {' '.join(args)}` failed:\n{done.stderr}")
    return done.stdout


@dataclass
class _Client:
    """The SDK client's storage and the person at its browser, narrating as they go."""

    story: Story
    stack: _Stack
    username: str
    tokens: OAuthToken | None = None
    info: OAuthClientInformationFull | None = None
    location: str = ""
    refreshes: list[str] = field(default_factory=list)

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        if self.tokens is not None:
            self.refreshes.append(tokens.refresh_token or "")
            self.story.say(
                f"  refreshed: new access token, refresh token {_short(tokens.refresh_token or '')}"
            )
        else:
            self.story.say(
                f"  token: scope={tokens.scope!r} expires_in={tokens.expires_in} "
                f"refresh_token={_short(tokens.refresh_token or '')}"
            )
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.story.say(
            f"  registered at {self.stack.issuer.url}/register (RFC 7591): "
            f"client_id={client_info.client_id} auth={client_info.token_endpoint_auth_method}"
        )
        self.info = client_info

    async def open_browser(self, url: str) -> None:
        import httpx

        query = parse_qs(urlsplit(url).query)
        self.story.say(
            "  the SDK opens the browser: /authorize with PKCE "
            f"({query.get('code_challenge_method', ['?'])[0]}), "
            f"scope={query.get('scope', [''])[0]!r}"
        )
        form = self.stack.issuer.url + "/authorize"
        async with httpx.AsyncClient(follow_redirects=False, timeout=10) as browser:
            page = await browser.get(url)
            fields = {**hidden_fields(page.text), "username": self.username, "password": PASSWORD}
            signed = await browser.post(form, data=fields)
            consent = await browser.get(self.stack.issuer.url + signed.headers["location"])
            self.story.say(f"  {self.username} signs in and allows the application")
            allowed = await browser.post(
                form, data={**hidden_fields(consent.text), "decision": "allow"}
            )
            if allowed.status_code != 303:
                raise DemoError(f"consent failed: {allowed.status_code} {allowed.text[:200]}")
            self.location = allowed.headers["location"]

    async def callback(self) -> AuthorizationCodeResult:
        from mcp.shared.auth import AuthorizationCodeResult

        query = {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}
        self.story.say(f"  back at {CALLBACK} with code, state and iss={query.get('iss')}")
        return AuthorizationCodeResult(
            code=query["code"], state=query.get("state"), iss=query.get("iss")
        )


async def _session(story: Story, stack: _Stack, client: _Client) -> list[str]:
    import httpx2
    from mcp.client.auth import OAuthClientProvider
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.auth import OAuthClientMetadata
    from pydantic import AnyUrl

    provider = OAuthClientProvider(
        server_url=stack.mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="Tessera demo MCP client",
            redirect_uris=[AnyUrl(CALLBACK)],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=client,
        redirect_handler=client.open_browser,
        callback_handler=client.callback,
    )
    answers = []
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        streamable_http_client(stack.mcp_url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        result = await session.call_tool("add", {"a": 2, "b": 3})
        answers.append(_text(result))
        story.say(f"  tools/call add(2, 3) -> {answers[-1]}")
        story.step("MCP: the access token expires; the SDK refreshes it (rotation)")
        provider.context.token_expiry_time = time.time() - 1
        result = await session.call_tool("add", {"a": 40, "b": 2})
        answers.append(_text(result))
        story.say(f"  tools/call add(40, 2) -> {answers[-1]}")
    return answers


def _text(result: Any) -> str:
    if result.is_error or not result.content:
        raise DemoError(f"the tool call failed: {result}")
    return str(result.content[0].text)


def mcp_available() -> bool:
    """True when the mcp SDK can be imported (it comes with the dev and mcp extras)."""
    try:
        import mcp  # noqa: F401
    except ImportError:
        return False
    return True


INSTALL_HINT = "pip install -e '.[mcp]' (or '.[dev]'), then make demo-mcp"


def mcp_act(story: Story) -> None:
    """The MCP act, numbered on in ``story``: its own Tessera (dynamic registration on) and
    MCP server; skipped, saying how to install it, when the mcp SDK is missing."""
    if not mcp_available():
        story.step("MCP: a client with no prior setup calls a tool (SKIPPED)")
        story.say(f"  the mcp SDK is not installed: {INSTALL_HINT}")
        story.skipped.append("MCP")
        return
    import anyio

    with _running() as stack:
        story.step("MCP: start Tessera (dynamic registration on) and an MCP server behind it")
        story.say(f"  authorization server {stack.issuer.url}   (tessera serve)")
        story.say(f"  MCP server           {stack.mcp_url}   (mcp SDK + tessera.resource.mcp)")
        _cli(story, stack, "users", "add", "alice", "--password-stdin", stdin=PASSWORD + "\n")

        story.step("MCP: a request without a token")
        probe = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        answer = stack.http.post(stack.mcp_url, json=probe)
        challenge = answer.headers.get("www-authenticate", "")
        story.say(f"  {answer.status_code}  WWW-Authenticate: {challenge}")
        story.check(answer.status_code == 401, "the MCP server answers 401")
        story.check('scope="mcp:tools"' in challenge, "the challenge names the scope")
        story.check("resource_metadata=" in challenge, "the challenge names the metadata")

        story.step("MCP: the SDK's OAuthClientProvider: discovery, registration, PKCE, tool call")
        client = _Client(story, stack, "alice")
        answers = anyio.run(_session, story, stack, client)
        story.check(answers == ["5", "42"], "both tool calls answered")
        story.check(len(client.refreshes) == 1, "the SDK refreshed its token once")

        story.step("MCP: a token without mcp:tools is refused with insufficient_scope")
        out = _cli(
            story,
            stack,
            *("clients", "add", "probe", "--scope", "other", "--audience", stack.mcp_url),
            "--json",
        )
        view = json.loads(out)
        token = stack.http.post(
            stack.issuer.url + "/token",
            data={"grant_type": "client_credentials"},
            auth=(view["client_id"], view["client_secret"]),
        ).json()["access_token"]
        refused = stack.http.post(
            stack.mcp_url, json=probe, headers={"Authorization": f"Bearer {token}"}
        )
        story.say(
            f"  {refused.status_code}  WWW-Authenticate: {refused.headers.get('www-authenticate')}"
        )
        story.check(refused.status_code == 403, "403 for the wrong scope")
        story.check(
            'error="insufficient_scope"' in refused.headers.get("www-authenticate", ""),
            "the challenge says insufficient_scope",
        )
    story.say(
        f"  both MCP-act servers stopped; {stack.folder} removed: "
        f"{'yes' if not stack.folder.exists() else 'NO'}"
    )
    story.check(not stack.folder.exists(), "the MCP act's folder was not removed")


def story_main(colour: bool) -> int:
    """Run the MCP act alone (``make demo-mcp``); the exit status."""
    started = time.monotonic()
    story = Story(colour)
    story.say(story.paint("Tessera for MCP: a client with no prior setup calls a tool", "1"))
    try:
        mcp_act(story)
    except DemoError as exc:
        story.check(False, str(exc))
    return finish(story, started)


def server_main(issuer: str, resource: str) -> int:
    """Serve the demo MCP server (one ``add`` tool) at ``resource``, tokens from ``issuer``."""
    import uvicorn
    from mcp.server.mcpserver import MCPServer

    from tessera.resource import Verifier
    from tessera.resource.mcp import protect

    server: MCPServer[Any] = MCPServer("tessera-demo")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    app = protect(
        server.streamable_http_app(),
        Verifier.from_issuer(issuer, audience=resource),
        resource=resource,
        authorization_servers=[issuer],
        scopes=[SCOPE],
    )
    port = urlsplit(resource).port or 80
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m tessera._demo_mcp`` (the story) or ``--server ISSUER RESOURCE``."""
    import os

    args = sys.argv[1:] if argv is None else argv
    if not mcp_available():
        sys.stderr.write(f"the MCP demo needs the mcp SDK: {INSTALL_HINT}\n")
        return 2
    if args[:1] == ["--server"] and len(args) == 3:
        return server_main(args[1], args[2])
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    return story_main(colour)


if __name__ == "__main__":
    sys.exit(main())
