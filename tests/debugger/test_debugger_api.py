"""The debugger's JSON endpoints: verify, encode, lint and generate-key, over the core."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from debuggerhelp import SECRET, Client, MakeClient, b64, fresh_claims, hs256_token, tamper, unb64

import tessera


def verify(client: Client, token: str, key: dict[str, Any], **options: Any) -> dict[str, Any]:
    """POST api/verify and return the JSON (asserting HTTP 200)."""
    response = client.post("/api/verify", json={"token": token, "key": key, "options": options})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def secret_key(secret: bytes = SECRET) -> dict[str, str]:
    return {"kind": "secret", "value": secret.decode()}


# -- verify --------------------------------------------------------------------------------


def test_verify_accepts_good_token_with_text_secret(client: Client) -> None:
    result = verify(client, hs256_token(fresh_claims()), secret_key())
    assert result["valid"] is True
    assert result["signature"] == "valid"
    assert result["claims"]["sub"] == "alice"
    assert result["key"] == {"kid": None, "kty": "oct", "alg": "HS256", "crv": None}


def test_verify_accepts_base64url_secret(client: Client) -> None:
    raw = bytes(range(48))
    token = tessera.encode(fresh_claims(), tessera.Key.from_secret(raw, alg="HS384"))
    key = {"kind": "secret", "value": b64(raw), "encoding": "base64url"}
    result = verify(client, token, key)
    assert result["valid"] is True
    assert result["algorithms"] == ["HS384"]


def test_verify_refuses_malformed_base64url_secret(client: Client) -> None:
    key = {"kind": "secret", "value": "not base64!", "encoding": "base64url"}
    response = client.post("/api/verify", json={"token": hs256_token(fresh_claims()), "key": key})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_key"


def test_verify_rejects_tampered_token_as_bad_signature(client: Client) -> None:
    result = verify(client, tamper(hs256_token(fresh_claims())), secret_key())
    assert result["valid"] is False
    assert result["signature"] == "invalid"
    assert result["error"] == {"code": "bad_signature", "message": "signature verification failed"}


def test_verify_rejects_token_signed_with_another_secret(client: Client) -> None:
    token = hs256_token(fresh_claims(), b"another-secret-of-at-least-32-bytes!!")
    assert verify(client, token, secret_key())["error"]["code"] == "bad_signature"


def test_verify_reports_expired_token_with_valid_signature(client: Client) -> None:
    token = hs256_token(fresh_claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600))
    result = verify(client, token, secret_key())
    assert result["valid"] is False
    assert result["signature"] == "valid"
    assert result["error"] == {
        "code": "expired",
        "message": "the token has expired",
        "claim": "exp",
    }
    assert "expired" in [f["code"] for f in result["findings"]]


def test_verify_reports_token_not_yet_valid(client: Client) -> None:
    token = hs256_token(fresh_claims(nbf=int(time.time()) + 600))
    result = verify(client, token, secret_key())
    assert result["error"]["code"] == "not_yet_valid"
    assert result["error"]["claim"] == "nbf"


def test_verify_leeway_accepts_recently_expired_token(client: Client) -> None:
    token = hs256_token(fresh_claims(exp=int(time.time()) - 5))
    assert verify(client, token, secret_key())["error"]["code"] == "expired"
    assert verify(client, token, secret_key(), leeway=60)["valid"] is True


def test_verify_requires_exp_unless_told_not_to(client: Client) -> None:
    token = hs256_token({"sub": "alice"})
    assert verify(client, token, secret_key())["error"]["code"] == "missing_claim"
    assert verify(client, token, secret_key(), require_exp=False)["valid"] is True


def test_verify_token_with_audience_needs_expected_audience(client: Client) -> None:
    token = hs256_token(fresh_claims(aud="https://api.example"))
    assert verify(client, token, secret_key())["error"]["code"] == "invalid_audience"
    assert verify(client, token, secret_key(), audience="https://other.example")["error"] == {
        "code": "invalid_audience",
        "message": "the token is not meant for this audience",
        "claim": "aud",
    }
    assert verify(client, token, secret_key(), audience="https://api.example")["valid"] is True


def test_verify_checks_expected_issuer_subject_and_type(client: Client) -> None:
    token = hs256_token(fresh_claims())
    assert verify(client, token, secret_key(), issuer="https://evil.example")["error"]["code"] == (
        "invalid_issuer"
    )
    assert verify(client, token, secret_key(), subject="bob")["error"]["code"] == "invalid_subject"
    assert verify(client, token, secret_key(), typ="at+jwt")["error"]["code"] == "invalid_type"
    assert verify(client, token, secret_key(), issuer="https://issuer.example", subject="alice",
                  typ="JWT")["valid"] is True  # fmt: skip


def test_verify_with_pem_public_key(client: Client, rsa_key: tessera.Key) -> None:
    token = tessera.encode(fresh_claims(), rsa_key)
    pem = {"kind": "pem", "value": rsa_key.public().to_pem().decode()}
    result = verify(client, token, pem)
    assert result["valid"] is True
    assert "RS256" in result["algorithms"]
    assert "PS256" in result["algorithms"]
    assert "HS256" not in result["algorithms"]


def test_verify_with_jwk(client: Client, ec_key: tessera.Key) -> None:
    token = tessera.encode(fresh_claims(), ec_key)
    jwk = {"kind": "jwk", "value": json.dumps(ec_key.public().to_jwk())}
    result = verify(client, token, jwk)
    assert result["valid"] is True
    assert result["key"]["kid"] == ec_key.kid
    assert result["notes"] == []


def test_verify_with_private_jwk_works_and_says_so(client: Client, ec_key: tessera.Key) -> None:
    token = tessera.encode(fresh_claims(), ec_key)
    result = verify(client, token, {"kind": "jwk", "value": json.dumps(ec_key.to_jwk(True))})
    assert result["valid"] is True
    assert result["notes"] == ["this is a private key: verifying needs only the public half"]
    assert '"d"' not in json.dumps(result)


def test_verify_with_jwks_picks_key_by_kid(
    client: Client, jwks: str, ec_key: tessera.Key, rsa_key: tessera.Key
) -> None:
    for key in (ec_key, rsa_key):
        result = verify(
            client, tessera.encode(fresh_claims(), key), {"kind": "jwks", "value": jwks}
        )
        assert result["valid"] is True
        assert result["key"]["kid"] == key.kid


def test_verify_with_jwks_reports_unknown_kid(client: Client, jwks: str) -> None:
    token = tessera.encode(fresh_claims(), tessera.Key.generate("ES256"))
    result = verify(client, token, {"kind": "jwks", "value": jwks})
    assert result["error"] == {"code": "key_not_found", "message": "no key matches the token's kid"}
    assert result["signature"] == "not_checked"


def test_verify_tampered_token_with_jwks_is_bad_signature(
    client: Client, jwks: str, ec_key: tessera.Key
) -> None:
    token = tamper(tessera.encode(fresh_claims(), ec_key))
    assert verify(client, token, {"kind": "jwks", "value": jwks})["error"]["code"] == (
        "bad_signature"
    )


def test_verify_public_key_never_becomes_an_hmac_secret(
    client: Client, rsa_key: tessera.Key
) -> None:
    # Attack catalogue #3: an HS256 token "signed" with the PEM text of the public key.
    pem = rsa_key.public().to_pem()
    import hashlib
    import hmac

    head = b64(b'{"alg":"HS256","typ":"JWT"}')
    body = b64(json.dumps(fresh_claims()).encode())
    mac = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    token = f"{head}.{body}.{b64(mac)}"
    result = verify(client, token, {"kind": "pem", "value": pem.decode()})
    assert result["valid"] is False
    assert result["error"]["code"] == "algorithm_not_allowed"


def test_verify_secret_never_verifies_rs256_token(client: Client, rsa_key: tessera.Key) -> None:
    result = verify(client, tessera.encode(fresh_claims(), rsa_key), secret_key())
    assert result["error"]["code"] == "algorithm_not_allowed"


def test_verify_allowed_algorithm_option_restricts(client: Client, rsa_key: tessera.Key) -> None:
    token = tessera.encode(fresh_claims(), rsa_key)
    pem = {"kind": "pem", "value": rsa_key.public().to_pem().decode()}
    assert verify(client, token, pem, algorithms=["PS256"])["error"]["code"] == (
        "algorithm_not_allowed"
    )
    assert verify(client, token, pem, algorithms=["RS256"])["valid"] is True


def test_verify_rejects_alg_none_token(client: Client) -> None:
    head = b64(b'{"alg":"none"}')
    body = b64(json.dumps(fresh_claims()).encode())
    result = verify(client, f"{head}.{body}.", secret_key())
    assert result["valid"] is False
    assert result["signature"] == "not_checked"


def test_verify_reports_malformed_token(client: Client) -> None:
    result = verify(client, "not.a.token", secret_key())
    assert result["valid"] is False
    assert result["error"]["code"] == "malformed"


def test_verify_strips_whitespace_around_token(client: Client) -> None:
    assert verify(client, f"  {hs256_token(fresh_claims())}\n", secret_key())["valid"] is True


def test_verify_includes_lint_findings_judged_with_the_key(client: Client) -> None:
    passphrase = b"correct horse battery staple, a long passphrase"
    result = verify(client, hs256_token(fresh_claims(), passphrase), secret_key(passphrase))
    assert result["valid"] is True
    assert "weak-hmac-secret" in [f["code"] for f in result["findings"]]


def test_verify_short_secret_is_refused_and_judged_by_lint(client: Client) -> None:
    # The jwt.io sample: HS256 with "your-256-bit-secret", 19 bytes and world-known.
    token = (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiw"
        "iaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    )
    result = verify(client, token, secret_key(b"your-256-bit-secret"))
    assert result["valid"] is False
    assert result["signature"] == "not_checked"
    assert result["error"] == {
        "code": "invalid_key",
        "message": "HS256 keys must be at least 32 bytes",
    }
    assert result["findings"][0]["code"] == "known-hmac-secret"
    assert result["findings"][0]["severity"] == "critical"
    short = verify(client, token, secret_key(b"0123456789"))
    assert "short-hmac-secret" in [f["code"] for f in short["findings"]]


def test_verify_never_echoes_the_secret(client: Client) -> None:
    result = verify(client, tamper(hs256_token(fresh_claims())), secret_key())
    assert SECRET.decode() not in json.dumps(result)


def test_verify_with_server_keys(make_client: MakeClient, ec_key: tessera.Key) -> None:
    client = make_client(server_keys=lambda: tessera.KeySet([ec_key.public()]))
    token = tessera.encode(fresh_claims(), ec_key)
    result = verify(client, token, {"kind": "server"})
    assert result["valid"] is True
    assert result["key"]["kid"] == ec_key.kid


def test_server_keys_are_read_on_every_request(make_client: MakeClient) -> None:
    keys = [tessera.Key.generate("ES256")]
    client = make_client(server_keys=lambda: tessera.KeySet([keys[-1].public()]))
    first = tessera.encode(fresh_claims(), keys[0])
    assert verify(client, first, {"kind": "server"})["valid"] is True
    keys.append(tessera.Key.generate("ES256"))  # rotation
    assert verify(client, first, {"kind": "server"})["error"]["code"] == "key_not_found"


def test_server_kind_without_server_keys_is_a_client_error(client: Client) -> None:
    body = {"token": hs256_token(fresh_claims()), "key": {"kind": "server"}}
    response = client.post("/api/verify", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_server_keys"


def test_failing_server_keys_provider_is_503_not_500(make_client: MakeClient) -> None:
    def broken() -> tessera.KeySet:
        raise RuntimeError("database down")

    client = make_client(server_keys=broken)
    body = {"token": hs256_token(fresh_claims()), "key": {"kind": "server"}}
    response = client.post("/api/verify", json=body)
    assert response.status_code == 503
    assert response.json()["error"] == {
        "code": "server_keys_unavailable",
        "message": "the server's keys are unavailable",
    }


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ({"kind": "pem", "value": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"},
         "invalid_key"),
        ({"kind": "jwk", "value": "{not json"}, "invalid_key"),
        ({"kind": "jwks", "value": '{"keys": 3}'}, "invalid_key"),
        ({"kind": "secret", "value": ""}, "invalid_request"),
        ({"kind": "magic", "value": "x"}, "invalid_request"),
        ({"value": "x"}, "invalid_request"),
        ("secret", "invalid_request"),
    ],
)  # fmt: skip
def test_verify_refuses_unusable_keys_with_400(client: Client, key: Any, code: str) -> None:
    response = client.post("/api/verify", json={"token": hs256_token(fresh_claims()), "key": key})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


# -- encode --------------------------------------------------------------------------------


def test_encode_resolves_relative_times(client: Client) -> None:
    before = int(time.time())
    body = {
        "alg": "HS256",
        "header": {"typ": "JWT"},
        "claims": {"sub": "alice", "iat": "now", "nbf": "-1m", "exp": "+15m"},
        "key": secret_key(),
    }
    response = client.post("/api/encode", json=body)
    assert response.status_code == 200, response.text
    claims = response.json()["claims"]
    after = int(time.time())
    assert before <= claims["iat"] <= after
    assert claims["nbf"] == pytest.approx(claims["iat"] - 60, abs=1)
    assert claims["exp"] == pytest.approx(claims["iat"] + 900, abs=1)
    assert response.json()["header"] == {"alg": "HS256", "typ": "JWT"}


def test_encode_round_trips_through_verify(client: Client) -> None:
    body = {"alg": "HS512", "header": {"typ": "JWT"}, "claims": {"sub": "a", "exp": "+5m"},
            "key": secret_key(SECRET * 2)}  # fmt: skip
    token = client.post("/api/encode", json=body).json()["token"]
    assert tessera.decode(token, tessera.Key.from_secret(SECRET * 2, alg="HS512"))["sub"] == "a"
    assert verify(client, token, secret_key(SECRET * 2))["valid"] is True


def test_encode_with_pem_private_key(client: Client, rsa_key: tessera.Key) -> None:
    body = {
        "alg": "PS256",
        "claims": {"sub": "a", "exp": "+5m"},
        "key": {"kind": "pem", "value": rsa_key.to_pem(private=True).decode()},
    }
    response = client.post("/api/encode", json=body)
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    public = tessera.Key.from_pem(rsa_key.public().to_pem(), alg="PS256")
    assert tessera.decode(token, public)["sub"] == "a"
    assert response.json()["header"] == {"alg": "PS256"}


def test_encode_with_encrypted_pem_needs_its_password(client: Client, ec_key: tessera.Key) -> None:
    pem = ec_key.to_pem(private=True, password=b"pass phrase").decode()
    body: dict[str, Any] = {"alg": "ES256", "claims": {"exp": "+5m"},
                            "key": {"kind": "pem", "value": pem}}  # fmt: skip
    assert client.post("/api/encode", json=body).status_code == 400
    body["key"]["password"] = "pass phrase"
    assert client.post("/api/encode", json=body).status_code == 200


def test_encode_keeps_custom_header_members(client: Client, ec_key: tessera.Key) -> None:
    body = {
        "alg": "ES256",
        "header": {"alg": "ES256", "typ": "at+jwt", "kid": "my-key"},
        "claims": {"sub": "a", "exp": "+5m"},
        "key": {"kind": "jwk", "value": json.dumps(ec_key.to_jwk(private=True))},
    }
    header = client.post("/api/encode", json=body).json()["header"]
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": "my-key"}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"alg": "ES256", "claims": {}, "key": {"kind": "secret", "value": SECRET.decode()}},
         "invalid_key"),
        ({"alg": "none", "claims": {}, "key": {"kind": "secret", "value": SECRET.decode()}},
         "invalid_request"),
        ({"alg": "HS256", "claims": {"exp": "+15x"}, "key": {"kind": "secret",
          "value": SECRET.decode()}}, "invalid_time"),
        ({"alg": "HS256", "header": {"alg": "HS512"}, "claims": {},
          "key": {"kind": "secret", "value": SECRET.decode()}}, "configuration"),
        ({"alg": "HS256", "header": {"crit": ["exp"]}, "claims": {},
          "key": {"kind": "secret", "value": SECRET.decode()}}, "configuration"),
        ({"alg": "HS256", "claims": {"aud": 5}, "key": {"kind": "secret",
          "value": SECRET.decode()}}, "configuration"),
        ({"alg": "HS256", "claims": [], "key": {"kind": "secret", "value": SECRET.decode()}},
         "invalid_request"),
        ({"alg": "HS256", "claims": {}, "key": {"kind": "jwks", "value": "{}"}},
         "invalid_request"),
    ],
)  # fmt: skip
def test_encode_refuses_bad_requests_with_400(client: Client, body: Any, code: str) -> None:
    response = client.post("/api/encode", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


def test_encode_refuses_public_key(client: Client, ec_key: tessera.Key) -> None:
    body = {"alg": "ES256", "claims": {}, "key": {"kind": "jwk",
            "value": json.dumps(ec_key.public().to_jwk())}}  # fmt: skip
    response = client.post("/api/encode", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_key",
        "message": "invalid key: a public key cannot sign",
    }


# -- lint ----------------------------------------------------------------------------------


def test_lint_reports_findings_most_severe_first(client: Client) -> None:
    response = client.post("/api/lint", json={"token": hs256_token({"sub": "alice"})})
    assert response.status_code == 200
    findings = response.json()["findings"]
    assert [f["code"] for f in findings] == ["no-exp", "missing-aud", "missing-iss"]
    assert findings[0] == {
        "severity": "high",
        "code": "no-exp",
        "message": "no exp claim: the token never expires",
        "rfc_ref": "RFC 7519 sec. 4.1.4, RFC 9068 sec. 2.2",
    }


def test_lint_with_key_reports_bad_signature(client: Client) -> None:
    token = tamper(hs256_token(fresh_claims(aud="x")))
    response = client.post("/api/lint", json={"token": token, "key": secret_key()})
    assert [f["code"] for f in response.json()["findings"]] == ["bad-signature"]


def test_lint_with_jwks_judges_the_key_named_by_kid(
    client: Client, jwks: str, rsa_key: tessera.Key
) -> None:
    token = tamper(tessera.encode(fresh_claims(aud="x"), rsa_key))
    response = client.post(
        "/api/lint", json={"token": token, "key": {"kind": "jwks", "value": jwks}}
    )
    assert [f["code"] for f in response.json()["findings"]] == ["bad-signature"]


def test_lint_of_malformed_token_gives_the_reason(client: Client) -> None:
    response = client.post("/api/lint", json={"token": "e30.e30"})
    assert response.status_code == 200
    assert response.json() == {
        "findings": [],
        "malformed": {
            "code": "malformed",
            "message": "a compact JWS is three base64url segments separated by dots",
        },
    }


def test_lint_refuses_duplicate_claim_names_that_the_browser_would_hide(client: Client) -> None:
    # JSON.parse keeps the last duplicate silently; the server's strict parser says why not.
    body = b64(b'{"sub":"alice","sub":"admin"}')
    token = f"eyJhbGciOiJIUzI1NiJ9.{body}.c2ln"
    response = client.post("/api/lint", json={"token": token})
    assert response.json()["malformed"]["code"] == "malformed"


# -- generate-key --------------------------------------------------------------------------


def test_generate_hmac_key_returns_base64url_secret(client: Client) -> None:
    data = client.post("/api/generate-key", json={"alg": "HS384"}).json()
    assert data["kind"] == "secret"
    assert data["encoding"] == "base64url"
    assert len(unb64(data["secret"])) == 48


@pytest.mark.parametrize("alg", ["ES256", "ES384", "ES512", "ES256K", "EdDSA", "Ed25519", "PS256"])
def test_generate_asymmetric_key_returns_pair(client: Client, alg: str) -> None:
    data = client.post("/api/generate-key", json={"alg": alg}).json()
    private = tessera.Key.from_jwk(data["private_jwk"])
    public = tessera.Key.from_jwk(data["public_jwk"])
    assert private.is_private
    assert not public.is_private
    assert data["jwks"] == {"keys": [data["public_jwk"]]}
    assert public.alg == alg
    assert public.kid == data["kid"]
    token = tessera.encode({"exp": 4102444800}, private)
    assert tessera.decode(token, tessera.Key.from_pem(data["public_pem"], alg=alg))


@pytest.mark.parametrize(
    "body",
    [{"alg": "none"}, {"alg": "RSA-OAEP"}, {}, {"alg": "RS256", "size": 1024},
     {"alg": "ES256", "size": 2048}, {"alg": "RS256", "size": "2048"}],
)  # fmt: skip
def test_generate_key_refuses_bad_requests(client: Client, body: dict[str, Any]) -> None:
    response = client.post("/api/generate-key", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
