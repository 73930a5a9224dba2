"""The public surface is pinned: a change to it shows up in review."""

import subprocess
import sys

import tessera
from tessera import errors, jws


def test_top_level_exports_are_pinned() -> None:
    assert sorted(tessera.__all__) == [
        "AlgorithmNotAllowedError",
        "ClaimError",
        "ConfigurationError",
        "DecryptionError",
        "ExpiredTokenError",
        "InvalidAudienceError",
        "InvalidIssuerError",
        "InvalidKey",
        "InvalidSubjectError",
        "InvalidToken",
        "InvalidTypeError",
        "Key",
        "KeyNotFoundError",
        "KeySet",
        "Limits",
        "MalformedTokenError",
        "MissingClaimError",
        "NotYetValidError",
        "SignatureError",
        "TesseraError",
        "UnsupportedHeaderError",
        "__version__",
        "decode",
        "decode_unverified",
        "encode",
        "jwe",
        "jws",
    ]


def test_jws_module_exports_are_pinned() -> None:
    assert sorted(jws.__all__) == [
        "Limits",
        "Signer",
        "VerifiedJWS",
        "sign",
        "sign_json",
        "verify",
        "verify_json",
    ]


def test_every_error_derives_from_tessera_error_and_has_a_code() -> None:
    codes = set()
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.TesseraError)
        assert isinstance(cls.code, str)
        codes.add(cls.code)
    assert len(codes) == len(errors.__all__), "codes must be distinct"


def test_token_rejections_derive_from_invalid_token() -> None:
    for cls in (
        errors.MalformedTokenError,
        errors.SignatureError,
        errors.ExpiredTokenError,
        errors.InvalidAudienceError,
        errors.KeyNotFoundError,
        errors.AlgorithmNotAllowedError,
    ):
        assert issubclass(cls, errors.InvalidToken)
    assert not issubclass(errors.InvalidKey, errors.InvalidToken)


def test_import_tessera_pulls_in_no_web_sql_http_or_crypto_library() -> None:
    code = (
        "import sys, tessera\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {"
        "'cryptography', 'starlette', 'fastapi', 'flask', 'httpx', 'sqlalchemy', 'psycopg',"
        "'uvicorn', 'urllib3', 'requests', 'asyncio', 'ssl', 'http', 'sqlite3'}]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_oidc_exports_are_pinned_and_its_errors_are_tessera_errors() -> None:
    from tessera import oidc
    from tessera.oidc import errors as oidc_errors

    assert sorted(oidc.__all__) == [
        "AsyncRelyingParty",
        "AuthTimeError",
        "AuthorizationError",
        "AuthorizationRequest",
        "DiscoveryError",
        "IDToken",
        "IDTokenVerifier",
        "InvalidAuthorizedPartyError",
        "InvalidNonceError",
        "LogoutToken",
        "LogoutTokenError",
        "OIDCError",
        "ProviderMetadata",
        "RelyingParty",
        "StateMismatchError",
        "SubjectMismatchError",
        "TokenEndpointError",
        "TokenHashError",
        "Tokens",
        "UserInfoError",
        "discover_provider",
        "discover_provider_async",
    ]
    core_codes = {getattr(errors, name).code for name in errors.__all__}
    codes = set()
    for name in oidc_errors.__all__:
        cls = getattr(oidc_errors, name)
        assert issubclass(cls, errors.TesseraError)
        codes.add(cls.code)
    assert len(codes) == len(oidc_errors.__all__), "codes must be distinct"
    assert not codes & core_codes


def test_import_tessera_oidc_needs_only_the_core_dependencies() -> None:
    code = (
        "import sys, tessera.oidc\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {"
        "'starlette', 'fastapi', 'flask', 'httpx', 'sqlalchemy', 'uvicorn', 'requests'}]\n"
        "print(','.join(sorted(bad)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
