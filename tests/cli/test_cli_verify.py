"""``tessera verify``: exit codes, reasons, key sources, and JWKS fetched over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from clihelp import KeyFiles, Runner, clean_env

import tessera

GOOD = ("--iss", "https://issuer.example", "--aud", "api")
VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ATTACKS = json.loads((VECTORS / "attacks" / "attack-tokens.json").read_text(encoding="utf-8"))
CASES = {case["id"]: case for case in ATTACKS["cases"]}


def test_verify_accepts_a_valid_token_with_exit_0(run: Runner, keys: KeyFiles) -> None:
    result = run("verify", keys.token(), "--key", str(keys.ec_public), *GOOD)
    assert result.code == 0, result.err
    assert result.out.startswith("VALID")
    assert '"sub": "alice"' in result.out


def test_verify_json_on_success(run: Runner, keys: KeyFiles) -> None:
    doc = run("verify", keys.token(), "--key", str(keys.ec_public), *GOOD, "--json").json()
    assert doc["valid"] is True
    assert doc["claims"]["sub"] == "alice"
    assert doc["header"]["kid"] == keys.ec.kid


@pytest.mark.parametrize(
    ("claims", "args", "code"),
    [
        ({"exp": 1_000}, GOOD, "expired"),
        ({"sub": "a"}, (), "missing_claim"),
        ({"exp": 4_102_444_800, "iss": "https://evil.example", "aud": "api"}, GOOD,
         "invalid_issuer"),
        ({"exp": 4_102_444_800, "iss": "https://issuer.example", "aud": "other"}, GOOD,
         "invalid_audience"),
        ({"exp": 4_102_444_800, "nbf": 4_000_000_000}, (), "not_yet_valid"),
    ],
)  # fmt: skip
def test_verify_rejects_bad_claims_with_exit_1_and_the_reason(
    run: Runner, keys: KeyFiles, claims: dict[str, object], args: tuple[str, ...], code: str
) -> None:
    result = run("verify", keys.token(claims), "--key", str(keys.ec_public), *args)
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith("tessera: token rejected: ")
    assert f"[{code}]" in result.err
    assert result.err.count("\n") == 1


def test_verify_json_on_rejection_names_code_and_claim(run: Runner, keys: KeyFiles) -> None:
    result = run("verify", keys.token({"exp": 1_000}), "--key", str(keys.ec_public), "--json")
    assert result.code == 1
    assert result.json() == {
        "valid": False,
        "error": {"code": "expired", "message": "the token has expired", "claim": "exp"},
    }


def test_verify_rejects_a_tampered_signature(run: Runner, keys: KeyFiles) -> None:
    token = keys.token()
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    result = run("verify", forged, "--key", str(keys.ec_public), *GOOD)
    assert result.code == 1
    assert "[bad_signature]" in result.err


def test_verify_rejects_alg_none(run: Runner, keys: KeyFiles) -> None:
    result = run("verify", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.", "--key",
                 str(keys.ec_public))  # fmt: skip
    assert result.code == 1
    assert "[algorithm_not_allowed]" in result.err


def test_verify_hints_at_aud_when_the_token_has_one(run: Runner, keys: KeyFiles) -> None:
    result = run("verify", keys.token(), "--key", str(keys.ec_public))
    assert result.code == 1
    assert "(pass --aud)" in result.err


def test_verify_without_key_is_a_usage_error(run: Runner, keys: KeyFiles) -> None:
    result = run("verify", keys.token())
    assert result.code == 2
    assert result.err.count("\n") == 1


def test_verify_with_bad_leeway_is_a_usage_error(run: Runner, keys: KeyFiles) -> None:
    result = run("verify", keys.token(), "--key", str(keys.ec_public), *GOOD, "--leeway", "1h")
    assert result.code == 2
    assert "leeway" in result.err


def test_verify_leeway_and_now(run: Runner, keys: KeyFiles) -> None:
    token = keys.token({"exp": 1_700_000_000})
    args = ("--key", str(keys.ec_public), "--now", "@1700000010")
    assert run("verify", token, *args).code == 1
    assert run("verify", token, *args, "--leeway", "30s").code == 0


def test_verify_reads_token_from_stdin(run: Runner, keys: KeyFiles) -> None:
    result = run("verify", "-", "--key", str(keys.ec_public), *GOOD, stdin=f"Bearer {keys.token()}")
    assert result.code == 0, result.err


def test_verify_with_unbound_ec_pem_infers_from_the_curve(run: Runner, keys: KeyFiles) -> None:
    result = run("verify", keys.token(), "--key", str(keys.ec_public_pem), *GOOD)
    assert result.code == 0, result.err


def test_verify_with_unbound_rsa_pem_needs_alg(run: Runner, keys: KeyFiles) -> None:
    token = tessera.encode({"exp": 4_102_444_800}, keys.rsa, alg="RS256")
    result = run("verify", token, "--key", str(keys.rsa_public_pem))
    assert result.code == 2
    assert "--alg" in result.err
    assert run("verify", token, "--key", str(keys.rsa_public_pem), "--alg", "RS256").code == 0
    result = run("verify", token, "--key", str(keys.rsa_public_pem), "--alg", "PS256")
    assert result.code == 1


@pytest.mark.parametrize("case", ["hs-ec-spki-pem", "hs-ec-openssh-ecdsa", "hs-ec-x962-point"])
def test_verify_refuses_hs256_signed_with_the_public_key(
    run: Runner, tmp_path: Path, case: str
) -> None:
    # Attack catalogue #4: an HS256 token whose "secret" is the verifier's public key.
    public = tessera.Key.from_jwk({k: v for k, v in ATTACKS["keys"]["ec"].items() if k != "alg"})
    (tmp_path / "ec.pem").write_bytes(public.to_pem())
    (tmp_path / "ec.jwk").write_text(json.dumps(ATTACKS["keys"]["ec"]))
    token = CASES[case]["token"]
    for key_file in ("ec.pem", "ec.jwk"):
        result = run("verify", token, "--key", key_file, cwd=tmp_path)
        assert result.code == 1
        assert "[algorithm_not_allowed]" in result.err


def test_verify_with_secret_env_and_file(run: Runner, keys: KeyFiles, tmp_path: Path) -> None:
    token = tessera.encode({"exp": 4_102_444_800}, tessera.Key.from_secret(keys.secret, "HS384"))
    env = clean_env(S=keys.secret.decode())
    result = run("verify", token, "--secret-env", "S", "--alg", "HS384", env=env)
    assert result.code == 0, result.err
    assert keys.secret.decode() not in result.out + result.err
    (tmp_path / "s").write_bytes(keys.secret)
    assert run("verify", token, "--secret-file", "s", "--alg", "HS384", cwd=tmp_path).code == 0
    result = run("verify", token, "--secret-env", "S", env=env)  # bound to HS256 by default
    assert result.code == 1
    assert keys.secret.decode() not in result.out + result.err


def test_verify_with_jwks_file_selects_by_kid(run: Runner, keys: KeyFiles) -> None:
    result = run("verify", keys.token(), "--jwks", str(keys.jwks), *GOOD)
    assert result.code == 0, result.err
    other = tessera.Key.generate("ES256", kid="unknown")
    token = tessera.encode({"exp": 4_102_444_800}, other)
    result = run("verify", token, "--jwks", str(keys.jwks))
    assert result.code == 1
    assert "[key_not_found]" in result.err


# -- JWKS over HTTP ------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """Serves the routes in ``server.routes``: path -> (status, headers, body)."""

    def do_GET(self) -> None:
        routes = self.server.routes  # type: ignore[attr-defined]
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        status, headers, body = routes.get(self.path, (404, {}, b"not found"))
        if status == 0:  # stall: never answer, until the test finishes
            self.server.release.wait(10)  # type: ignore[attr-defined]
            return
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def server(keys: KeyFiles) -> Iterator[ThreadingHTTPServer]:
    """A JWKS server on 127.0.0.1 in a thread, with good, huge, redirecting and stalled routes."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    port = httpd.server_address[1]
    jwks = keys.jwks.read_bytes()
    httpd.routes = {  # type: ignore[attr-defined]
        "/jwks.json": (200, {"Content-Type": "application/json"}, jwks),
        "/huge": (200, {}, b'{"keys": [' + b" " * (600 * 1024) + b"]}"),
        "/same-origin": (302, {"Location": "/jwks.json"}, b""),
        "/other-origin": (302, {"Location": f"http://localhost:{port}/jwks.json"}, b""),
        "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
        "/slow": (0, {}, b""),
        "/error": (500, {}, b"oops"),
        "/not-json": (200, {}, b"<html>"),
    }
    httpd.hits = []  # type: ignore[attr-defined]
    httpd.release = threading.Event()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.release.set()  # type: ignore[attr-defined]
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _url(server: ThreadingHTTPServer, path: str) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def test_verify_fetches_jwks_from_a_url(
    run: Runner, keys: KeyFiles, server: ThreadingHTTPServer
) -> None:
    result = run("verify", keys.token(), "--jwks", _url(server, "/jwks.json"), *GOOD, "--json")
    assert result.code == 0, result.err
    assert result.json()["valid"] is True
    assert server.hits == ["/jwks.json"]  # type: ignore[attr-defined]


def test_verify_follows_a_same_origin_redirect(
    run: Runner, keys: KeyFiles, server: ThreadingHTTPServer
) -> None:
    result = run("verify", keys.token(), "--jwks", _url(server, "/same-origin"), *GOOD)
    assert result.code == 0, result.err


@pytest.mark.parametrize("path", ["/other-origin", "/to-file"])
def test_verify_refuses_a_redirect_to_another_origin(
    run: Runner, keys: KeyFiles, server: ThreadingHTTPServer, path: str
) -> None:
    result = run("verify", keys.token(), "--jwks", _url(server, path), *GOOD)
    assert result.code == 2
    assert "another origin" in result.err
    assert server.hits == [path]  # type: ignore[attr-defined]


def test_verify_refuses_an_oversized_jwks(
    run: Runner, keys: KeyFiles, server: ThreadingHTTPServer
) -> None:
    result = run("verify", keys.token(), "--jwks", _url(server, "/huge"), *GOOD)
    assert result.code == 2
    assert "larger than" in result.err


def test_verify_times_out_on_a_stalled_jwks_server(
    run: Runner, keys: KeyFiles, server: ThreadingHTTPServer
) -> None:
    result = run("verify", keys.token(), "--jwks", _url(server, "/slow"), "--timeout", "0.5")
    assert result.code == 2
    assert "timed out" in result.err


@pytest.mark.parametrize(("path", "message"), [("/error", "HTTP 500"), ("/not-json", "JSON")])
def test_verify_reports_jwks_http_and_format_errors(
    run: Runner, keys: KeyFiles, server: ThreadingHTTPServer, path: str, message: str
) -> None:
    result = run("verify", keys.token(), "--jwks", _url(server, path))
    assert result.code == 2
    assert message in result.err
    assert result.err.count("\n") == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/jwks.json",
        "file:///etc/passwd",
        "ftp://example.com/jwks.json",
        "https://user:pw@example.com/jwks.json",
    ],
)
def test_verify_refuses_jwks_urls_that_are_not_https_or_loopback(
    run: Runner, keys: KeyFiles, url: str
) -> None:
    result = run("verify", keys.token(), "--jwks", url)
    assert result.code == 2
    assert "JWKS URL" in result.err


def test_verify_json_usage_error_is_a_json_document(run: Runner, keys: KeyFiles) -> None:
    result = run("verify", keys.token(), "--jwks", "http://example.com/x", "--json")
    assert result.code == 2
    assert json.loads(result.out)["error"]["code"] == "usage"
