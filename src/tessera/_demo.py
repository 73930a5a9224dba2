"""`make demo` and `make serve`: the whole system on 127.0.0.1, told for a person to read.

`make demo` starts the authorization server (``tessera serve``, SQLite in a temporary folder)
and the demo API ("the secured building") as subprocesses on free ports, registers two clients
with the real CLI, gets their tokens with client_credentials, tries every door, shows forged,
expired and foreign tokens refused, rotates the issuer's key and shows the API verifying both
the old and the new token. Then a person signs in to a small web app with OpenID Connect
(:mod:`tessera._demo_oidc`), and an MCP client calls a tool on an MCP server behind Tessera
(:mod:`tessera._demo_mcp`, skipped without the mcp SDK; ``--mcp`` runs only that act). Then it
stops everything and exits 0, or 1 if any step did not behave as told. `make serve` starts
the issuer and the API and keeps them running until Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import html
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import tessera

if TYPE_CHECKING:
    import httpx

    from tessera.jose.jwk import Key

DOORS = (("GET", "/lobby"), ("GET", "/lab"), ("POST", "/vault"))
CLIENTS = (("lab-assistant", "lab:enter"), ("vault-courier", "vault:open"))
EXPECTED = {
    "lab-assistant": {"/lobby": 200, "/lab": 200, "/vault": 403},
    "vault-courier": {"/lobby": 200, "/lab": 403, "/vault": 200},
}
API_COOLDOWN = 1.0
"""The demo API re-asks the issuer for its JWKS at most this often (the toolkit's default: 30 s,
5 s for a kid it does not know)."""
STATS_PATH = "/_demo/jwks-fetches"
_PARAM = re.compile(r'(\w+)="([^"]*)"')


# -- printing ---------------------------------------------------------------------------------


class Story:
    """Prints the story and keeps count of the steps that did not behave as told."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour
        self.failures: list[str] = []
        self.skipped: list[str] = []
        self.checks = 0
        self.number = 0

    def paint(self, text: str, code: str) -> str:
        """``text`` in an ANSI style, only when writing to a terminal."""
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def step(self, title: str) -> None:
        """A numbered heading."""
        self.number += 1
        print("\n" + self.paint(f"== {self.number}. {title}", "1"), flush=True)

    def say(self, text: str = "") -> None:
        """A line of the story, flushed at once (the reader follows it live)."""
        print(text, flush=True)

    def command(self, words: Sequence[str]) -> None:
        """A command line the demo runs, as a person would type it."""
        print(self.paint("  $ " + " ".join(words), "2"), flush=True)

    def check(self, ok: bool, what: str) -> bool:
        """Record an expectation; an unmet one is printed at once and fails the demo."""
        self.checks += 1
        if not ok:
            self.failures.append(what)
            print(self.paint(f"  !! UNEXPECTED: {what}", "1;31"), flush=True)
        return ok

    def verdict(self, granted: bool) -> str:
        """GRANTED or DENIED, padded to one width."""
        return self.paint("GRANTED", "1;32") if granted else self.paint("DENIED ", "1;31")


def _short(text: str, keep: int = 12) -> str:
    """``text`` cut to ``keep`` characters and an ellipsis."""
    return text if len(text) <= keep + 1 else text[:keep] + "…"


def _clock(seconds: Any) -> str:
    """A NumericDate as a UTC time of day (the demo's tokens live minutes, not days)."""
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return time.strftime("%H:%M:%SZ", time.gmtime(seconds))
    return str(seconds)


def _describe_token(story: Story, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Print a token shortly: its size, header and claims (decoded without verifying)."""
    header, claims = tessera.decode_unverified(token)
    story.say(f"  token    {token[:24]}…{token[-8:]}  ({len(token)} characters)")
    story.say("  header   " + "  ".join(f"{k}={_short(str(v), 16)}" for k, v in header.items()))
    parts = []
    for name, value in claims.items():
        if name in ("iat", "exp", "nbf", "auth_time", "updated_at"):
            parts.append(f"{name}={_clock(value)}")
        elif name == "jti":
            parts.append(f"{name}={_short(str(value), 8)}")
        else:
            parts.append(f"{name}={value}")
    line = "  claims  "
    for part in parts:
        if len(line) + len(part) > 98:
            story.say(line)
            line = "          "
        line += " " + part
    story.say(line)
    return header, claims


def _reason(response: httpx.Response) -> str:
    """Why a door said no, from the RFC 6750 reply: JSON body and WWW-Authenticate."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    challenge = dict(_PARAM.findall(response.headers.get("www-authenticate", "")))
    error = body.get("error") or challenge.get("error") or "?"
    reason = f"{error}: {body.get('error_description') or challenge.get('error_description')}"
    if challenge.get("scope"):
        reason += f' (needs scope="{challenge["scope"]}")'
    return reason


_HIDDEN = re.compile(r'<input type=hidden name="([^"]*)" value="([^"]*)">')


def hidden_fields(page: str) -> dict[str, str]:
    """The hidden inputs of the first form on one of Tessera's pages (the demo plays the
    person at the browser: it posts the forms back as a browser would)."""
    form = page.split("</form>", 1)[0]
    return {html.unescape(k): html.unescape(v) for k, v in _HIDDEN.findall(form)}


def finish(story: Story, started: float) -> int:
    """Print the verdict; the exit status (1 when any check failed)."""
    elapsed = time.monotonic() - started
    if story.failures:
        story.say(
            story.paint(
                f"\n{len(story.failures)} of {story.checks} checks FAILED ({elapsed:.1f} s)", "1;31"
            )
        )
        return 1
    skipped = f" (skipped: {', '.join(story.skipped)})" if story.skipped else ""
    story.say(
        story.paint(
            f"\nEverything behaved as told: {story.checks} checks passed in {elapsed:.1f} s"
            f"{skipped}.",
            "1;32",
        )
    )
    return 0


# -- processes --------------------------------------------------------------------------------


class DemoError(Exception):
    """A step that cannot go on (a process that did not start, a command that failed)."""


def _free_port() -> int:
    """A port free on 127.0.0.1 now (the servers bind it a moment later)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """A server subprocess whose output goes to a log file in the demo's folder."""

    name: str
    url: str
    command: list[str]
    log: Path
    env: dict[str, str]
    cwd: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process, its output going to the log file."""
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
            )

    def tail(self) -> str:
        """The log's last lines, to explain a failure."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return ""

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, http: httpx.Client, path: str, timeout: float = 30) -> None:
        """Poll ``path`` until it answers 200; DemoError if the process dies or time runs out."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise DemoError(f"{self.name} exited at start:\n{self.tail()}")
            try:
                if http.get(self.url + path, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise DemoError(f"{self.name} did not answer {path} within {timeout:.0f} s:\n{self.tail()}")

    def stop(self) -> None:
        """Stop the process gracefully, killing it after 10 s."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()  # uvicorn shuts down gracefully on SIGTERM (SIGINT may be ignored)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@dataclass
class Client:
    """A registered client and its credentials."""

    name: str
    scope: str
    client_id: str
    secret: str


@dataclass
class System:
    """The issuer and the API running from one temporary folder."""

    folder: Path
    issuer: Service
    api: Service
    http: httpx.Client
    env: dict[str, str]
    clients: dict[str, Client] = field(default_factory=dict)

    @property
    def database(self) -> Path:
        """The issuer's SQLite file."""
        return self.folder / "tessera.db"

    def tessera(self, story: Story | None, *args: str, stdin: str | None = None) -> Any:
        """Run ``tessera ARGS --database DB --json`` (the real CLI); its JSON output."""
        shown = ["tessera", *(shlex.quote(arg) for arg in args)]
        if story is not None:
            story.command(shown)
        command = [sys.executable, "-m", "tessera", *args]
        command += ["--database", str(self.database), "--json"]
        done = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.folder,
            timeout=60,
        )
        if done.returncode != 0:
            raise DemoError(f"`{' '.join(shown)}` failed ({done.returncode}):\n{done.stderr}")
        return json.loads(done.stdout)

    def register(self, story: Story | None, name: str, scope: str) -> Client:
        """Register a client for the API's audience with ``tessera clients add``."""
        view = self.tessera(
            story, "clients", "add", name, "--scope", scope, "--audience", self.api.url
        )
        client = Client(name, scope, view["client_id"], view["client_secret"])
        self.clients[name] = client
        return client

    def token(self, client: Client) -> str:
        """A token for ``client`` by client_credentials (client_secret_basic)."""
        reply = self.http.post(
            self.issuer.url + "/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, client.secret),
        )
        if reply.status_code != 200:
            raise DemoError(f"the token request failed: {reply.status_code} {reply.text}")
        token = reply.json()["access_token"]
        assert isinstance(token, str)
        return token

    def jwks_kids(self) -> list[str]:
        """The kids the issuer publishes now."""
        keys = self.http.get(self.issuer.url + "/jwks.json").json()["keys"]
        return [str(key["kid"]) for key in keys]

    def api_fetches(self) -> int:
        """How many times the API has fetched the issuer's JWKS."""
        return int(self.http.get(self.api.url + STATS_PATH).json()["fetches"])

    def call(self, method: str, path: str, token: str | None) -> httpx.Response:
        """Knock on one of the API's doors with ``token`` (None: no Authorization header)."""
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return self.http.request(method, self.api.url + path, headers=headers)

    def issuer_key(self) -> Key:
        """The issuer's current signing key, read from its database with its KEK.

        Only the demo does this (to forge tokens with a genuine signature but wrong claims);
        the key never leaves the issuer otherwise.
        """
        from tessera.server.config import load_settings
        from tessera.server.kek import KEK
        from tessera.server.keys import KeyManager
        from tessera.server.storage.database import Database

        settings = load_settings(
            os.devnull,
            env={},
            database=str(self.database),
            kek_file=str(self.folder / "tessera.kek"),
        )
        db = Database(settings.database, pool_size=1)
        try:
            kek = KEK.load(None, settings.kek_file, create=False)
            return KeyManager(db, kek, settings).signing_key()
        finally:
            db.dispose()


def _environment(folder: Path) -> dict[str, str]:
    """The subprocesses' environment: no TESSERA_* from the caller, the demo's own settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_CONFIG=os.devnull,
        TESSERA_KEK_FILE=str(folder / "tessera.kek"),
        TESSERA_JWKS_MAX_AGE="30",
        TESSERA_KEY_CACHE_TTL="0.25",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextlib.contextmanager
def running_system() -> Iterator[System]:
    """Start the issuer and the API on free ports; stop both and delete the folder afterwards."""
    import httpx

    folder = Path(tempfile.mkdtemp(prefix="tessera-demo-"))
    env = _environment(folder)
    issuer_port, api_port = _free_port(), _free_port()
    issuer_url = f"http://127.0.0.1:{issuer_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    python = sys.executable
    issuer = Service(
        "the authorization server",
        issuer_url,
        [
            *(python, "-m", "tessera", "serve"),
            *("--database", str(folder / "tessera.db"), "--port", str(issuer_port)),
        ],
        folder / "serve.log",
        env,
        folder,
    )
    api = Service(
        "the demo API",
        api_url,
        [
            *(python, "-m", "tessera._demo", "--api", "--issuer", issuer_url),
            *("--audience", api_url, "--port", str(api_port)),
        ],
        folder / "api.log",
        env,
        folder,
    )
    http = httpx.Client(timeout=10)
    try:
        issuer.start()
        api.start()
        issuer.wait_ready(http, "/healthz")
        api.wait_ready(http, "/.well-known/oauth-protected-resource")
        yield System(folder, issuer, api, http, env)
    finally:
        http.close()
        api.stop()
        issuer.stop()
        shutil.rmtree(folder, ignore_errors=True)


# -- the story --------------------------------------------------------------------------------


def _try_doors(story: Story, system: System, client: Client, token: str) -> None:
    """Every door with one client's token; each answer checked against EXPECTED."""
    for method, path in DOORS:
        reply = system.call(method, path, token)
        granted = reply.status_code == 200
        why = "" if granted else "  " + _reason(reply)
        story.say(
            f"  {client.name:<14} {method:<4} {path:<7} {story.verdict(granted)} "
            f"{reply.status_code}{why}"
        )
        expected = EXPECTED[client.name][path]
        story.check(
            reply.status_code == expected,
            f"{method} {path} for {client.name} gave {reply.status_code}, not {expected}",
        )


def _forge(token: str, **changes: Any) -> str:
    """The same token with some claims changed and the original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


def _refusals(story: Story, system: System, token: str) -> None:
    """Tokens that must not open even the lobby, each refused with its reason."""
    header, claims = tessera.decode_unverified(token)
    now = int(time.time())
    real = system.issuer_key()
    stranger = tessera.Key.generate("ES256")
    fresh = {**claims, "iat": now, "exp": now + 300, "jti": f"demo-{now}"}
    cases: list[tuple[str, str, str | None, str]] = [
        ("no badge at all", "/lobby", None, "unauthorized"),
        (
            "tampered: scope edited to add vault:open, signature kept",
            "/vault",
            _forge(token, scope="lab:enter vault:open"),
            "invalid_token",
        ),
        (
            "expired: genuine issuer signature, exp 5 minutes ago",
            "/lobby",
            tessera.encode({**fresh, "iat": now - 900, "exp": now - 300}, real, typ="at+jwt"),
            "invalid_token",
        ),
        (
            "misdirected: genuine signature, aud=https://elsewhere.example",
            "/lobby",
            tessera.encode({**fresh, "aud": "https://elsewhere.example"}, real, typ="at+jwt"),
            "invalid_token",
        ),
        (
            "not an access token: typ=JWT (an ID token, say)",
            "/lobby",
            tessera.encode(fresh, real, typ="JWT"),
            "invalid_token",
        ),
        (
            "forged: a stranger's key, the issuer's kid copied",
            "/lobby",
            tessera.encode(fresh, stranger, typ="at+jwt", headers={"kid": header["kid"]}),
            "invalid_token",
        ),
        (
            "foreign: a stranger's own issuer, iss=https://evil.example",
            "/lobby",
            tessera.encode({**fresh, "iss": "https://evil.example"}, stranger, typ="at+jwt"),
            "invalid_token",
        ),
    ]
    for label, path, candidate, error in cases:
        method = "POST" if path == "/vault" else "GET"
        reply = system.call(method, path, candidate)
        story.say(f"  {label}")
        story.say(
            f"      {method} {path} -> {story.verdict(reply.status_code == 200)} "
            f"{reply.status_code}  {_reason(reply)}"
        )
        if candidate is None:
            story.say(f"      WWW-Authenticate: {reply.headers.get('www-authenticate')}")
        body_error = reply.json().get("error") if reply.status_code < 500 else None
        story.check(
            reply.status_code == 401 and body_error == error,
            f"{label}: got {reply.status_code} {body_error}, not 401 {error}",
        )


def _rotation(
    story: Story, system: System, client: Client, old_token: str, first_fetch: float
) -> None:
    """Rotate with the CLI; the API must refetch once and accept the new and the old token."""
    old_kid = str(tessera.decode_unverified(old_token)[0]["kid"])
    before = system.api_fetches()
    story.say(f"  JWKS now: {', '.join(system.jwks_kids())}")
    view = system.tessera(story, "keys", "rotate", "--now")
    new_kid = str(view["kid"])
    story.say(f"  new key {new_kid} ({view['alg']}) signs from {view['signs_from']}")
    story.say(
        "  (--now skips the usual wait: a new key is published one JWKS cache period "
        "before it signs)"
    )
    for key in system.tessera(story, "keys", "list")["keys"]:
        story.say(
            f"  {key['kid']}  {key['state']:<8} signs from {key['signs_from']}  "
            f"leaves JWKS {key['removed_at']}"
        )
    deadline = time.monotonic() + 10
    new_token = system.token(client)
    while tessera.decode_unverified(new_token)[0].get("kid") != new_kid:
        if time.monotonic() > deadline:
            story.check(False, f"the issuer still signs with {old_kid} 10 s after the rotation")
            return
        time.sleep(0.1)
        new_token = system.token(client)
    kids = system.jwks_kids()
    story.say(f"  JWKS now: {', '.join(kids)}  (the old key stays until its tokens expire)")
    story.check(old_kid in kids and new_kid in kids, "the JWKS does not list both keys")
    story.say(f"\n  A new token for {client.name}:")
    _describe_token(story, new_token)
    # The API asks the issuer at most once per cooldown; the demo is faster than that.
    time.sleep(max(0.0, first_fetch + API_COOLDOWN + 0.1 - time.monotonic()))
    for label, token, kid in (("new token", new_token, new_kid), ("old token", old_token, old_kid)):
        reply = system.call("GET", "/lab", token)
        granted = reply.status_code == 200
        why = "" if granted else "  " + _reason(reply)
        story.say(
            f"  {label}  kid={kid}  GET /lab {story.verdict(granted)} {reply.status_code}{why}"
        )
        story.check(granted, f"the {label} (kid {kid}) was refused after the rotation")
    after = system.api_fetches()
    story.say(
        f"  The API met the unknown kid and refetched the JWKS: {after - before} new fetch, "
        f"{after} in all.\n  Both tokens were checked by signature (this API keeps no token cache)."
    )
    story.check(after - before == 1, f"the API fetched the JWKS {after - before} times, not once")
    story.check(old_kid != new_kid, "the rotation kept the same kid")


def story_main(colour: bool) -> int:
    """Run the whole story; return the exit status."""
    from tessera._demo_mcp import mcp_act
    from tessera._demo_oidc import oidc_act

    started = time.monotonic()
    story = Story(colour)
    story.say(story.paint("Tessera: the secured building", "1"))
    story.say(
        "An authorization server issues badges (access tokens); an API opens its doors by "
        "the badge's\nscopes, checking it against the issuer's published keys only. Then a "
        "person signs in to a\nweb app with OpenID Connect, and an MCP client calls a tool."
    )
    try:
        with running_system() as system:
            story.step("Start the authorization server and the demo API")
            story.say(
                f"  issuer   {system.issuer.url}   (tessera serve, SQLite in {system.folder})"
            )
            story.say(f"  API      {system.api.url}   (tessera.demo_api; keys found by discovery)")
            meta = system.http.get(
                system.issuer.url + "/.well-known/oauth-authorization-server"
            ).json()
            story.say(
                f"  metadata token_endpoint={meta['token_endpoint']}  jwks_uri={meta['jwks_uri']}"
            )
            story.say(f"  JWKS     kid={', '.join(system.jwks_kids())}")
            resource = system.http.get(
                system.api.url + "/.well-known/oauth-protected-resource"
            ).json()
            story.say(
                f"  the API's RFC 9728 metadata: authorization_servers="
                f"{resource.get('authorization_servers')} scopes="
                f"{resource.get('scopes_supported')}"
            )

            story.step("Register two clients with the real CLI")
            clients = [system.register(story, name, scope) for name, scope in CLIENTS]
            for client in clients:
                story.say(f"  {client.name:<14} client_id={client.client_id}  scope={client.scope}")

            story.step("Each client gets a token (client_credentials) and tries every door")
            tokens: dict[str, str] = {}
            first_fetch = 0.0  # when the API's first JWKS fetch is surely over
            for client in clients:
                token = tokens[client.name] = system.token(client)
                story.say(f"\n  {client.name} asks {system.issuer.url}/token and gets:")
                _, claims = _describe_token(story, token)
                story.check(claims.get("scope") == client.scope, f"{client.name}'s scope")
                _try_doors(story, system, client, token)
                first_fetch = first_fetch or time.monotonic()
            me = system.call("GET", "/me", tokens["vault-courier"]).json()
            story.say(
                f"\n  GET /me as vault-courier: client_id={me.get('client_id')} "
                f"scopes={me.get('scopes')} aud={me.get('aud')}"
            )
            story.check(me.get("client_id") == clients[1].client_id, "/me names the client")

            story.step("Badges that must not open anything")
            story.say(
                "  ('genuine signature' below: signed with the issuer's own key, which the demo "
                "reads from\n  the issuer's database to play a careless issuer)"
            )
            _refusals(story, system, tokens["lab-assistant"])

            story.step("Rotate the issuer's key while the API keeps running")
            _rotation(story, system, clients[0], tokens["lab-assistant"], first_fetch)

            story.step("OpenID Connect: a person signs in to a web app")
            oidc_act(story, system)

            mcp_act(story)

            story.step("Stop everything")
        story.say(
            f"  the authorization server and the API stopped; {system.folder} removed: "
            f"{'yes' if not system.folder.exists() else 'NO'}"
        )
        story.check(not system.folder.exists(), "the demo folder was not removed")
    except DemoError as exc:
        story.check(False, str(exc))
    return finish(story, started)


# -- make serve -------------------------------------------------------------------------------


def _tessera_command() -> str:
    """How to call the ``tessera`` script installed next to this Python."""
    script = Path(sys.executable).parent / "tessera"
    return str(script) if script.exists() else "tessera"


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve_main(colour: bool) -> int:
    """Start the system, print where everything is, and keep it running until Ctrl-C."""
    story = Story(colour)
    try:
        with running_system() as system:
            for name, scope in CLIENTS:
                system.register(None, name, scope)
            iss, api = system.issuer.url, system.api.url
            lines = [
                story.paint("Tessera is running", "1") + " (Ctrl-C stops both servers and "
                f"deletes {system.folder})",
                "",
                f"  Authorization server   {iss}",
                f"    metadata             {iss}/.well-known/oauth-authorization-server",
                f"    JWKS                 {iss}/jwks.json",
                f"    token debugger       {iss}/debugger/",
                f"  Demo API               {api}   (doors: GET /lobby, GET /lab, POST /vault, "
                "GET /me)",
                f"    API docs             {api}/docs   (Authorize with a client below)",
                f"    resource metadata    {api}/.well-known/oauth-protected-resource",
                "",
                "  Clients (client_credentials; client_secret_basic or client_secret_post):",
            ]
            for client in system.clients.values():
                lines.append(
                    f"    {client.name:<14} scope={client.scope:<11} client_id={client.client_id}"
                )
                lines.append(f"    {'':<14} client_secret={client.secret}")
            first = next(iter(system.clients.values()))
            lines += [
                "",
                "  Try it:",
                f"    curl -s -u '{first.client_id}:{first.secret}' -d "
                f"grant_type=client_credentials {iss}/token",
                f"    curl -i -H 'Authorization: Bearer <access_token>' {api}/lab",
                "  Rotate the issuer's key (published now, signs after one JWKS cache period, "
                "60 s here):",
                f"    TESSERA_KEK_FILE={system.folder}/tessera.kek TESSERA_JWKS_MAX_AGE=30 \\",
                f"      {_tessera_command()} keys rotate --database {system.database}",
            ]
            story.say("\n".join(lines))
            while system.issuer.alive() and system.api.alive():
                time.sleep(0.5)
            story.say("a server stopped on its own:\n" + system.issuer.tail() + system.api.tail())
            return 1
    except KeyboardInterrupt:
        story.say("\nstopped; the demo folder is removed.")
        return 0
    except DemoError as exc:
        story.say(f"tessera demo: {exc}")
        return 1


# -- the demo API process ---------------------------------------------------------------------


def api_main(issuer: str, audience: str, port: int) -> int:
    """Serve the demo API with a short JWKS cooldown and a route counting its JWKS fetches.

    Every request checks the signature (no verified-token cache), so the story shows what the
    keys allow, not what was remembered.
    """
    import uvicorn

    from tessera.demo_api import create_app
    from tessera.resource import AsyncJWKSClient, CachePolicy

    keys = AsyncJWKSClient.from_issuer(issuer, cache=CachePolicy(min_ttl=30, cooldown=API_COOLDOWN))
    app = create_app(issuer, audience, keys=keys, token_cache_size=0)

    @app.get(STATS_PATH, include_in_schema=False)
    async def fetches() -> dict[str, int]:
        """How many times this API fetched the issuer's JWKS."""
        return {"fetches": keys.fetches}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tessera._demo [--serve]``; the exit status."""
    parser = argparse.ArgumentParser(prog="python -m tessera._demo", description=__doc__)
    parser.add_argument("--serve", action="store_true", help="keep both servers running")
    parser.add_argument("--mcp", action="store_true", help="the MCP story (tessera._demo_mcp)")
    parser.add_argument("--api", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--issuer", help=argparse.SUPPRESS)
    parser.add_argument("--audience", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.api:
        return api_main(args.issuer, args.audience, args.port)
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    try:
        import httpx  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        sys.stderr.write(f"the demo needs the server extras ({exc}): pip install -e '.[dev]'\n")
        return 2
    signal.signal(signal.SIGTERM, _interrupt)  # clean up the servers on SIGTERM too
    if args.mcp:
        from tessera._demo_mcp import main as mcp_main

        return mcp_main([])
    if args.serve:
        return serve_main(colour)
    try:
        return story_main(colour)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted: both servers stopped, the demo folder removed\n")
        return 130


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: the acts in the other demo
    # modules import tessera._demo, and its DemoError must be the one story_main catches.
    from tessera._demo import main as _main

    sys.exit(_main())
