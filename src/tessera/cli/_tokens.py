"""``tessera encode``, ``decode`` and ``verify``: thin wrappers over the core functions.

Every token is produced and parsed by :func:`tessera.encode`, :func:`tessera.decode` and
:func:`tessera.decode_unverified`; nothing here parses a token itself.
"""

from __future__ import annotations

from tessera.cli._common import (
    add_key_source,
    add_now,
    key_from_args,
    now_from,
    print_times,
    times_of,
)
from tessera.cli._errors import Rejected, UsageError

TYPE_CHECKING = False  # typing costs start-up time; mypy reads the block below
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from tessera import InvalidToken
    from tessera.cli._output import Output

__all__ = [
    "define_decode",
    "define_encode",
    "define_verify",
    "run_decode",
    "run_encode",
    "run_verify",
]

DECODE_EXAMPLES = """\
examples:
  tessera decode eyJhbGciOi...            # header, claims, times; nothing is verified
  pbpaste | tessera decode                # from a pipe ("Bearer " and spaces are stripped)
  tessera decode - --json < token.txt     # machine-readable

A token on the command line is visible to other local users (ps); prefer stdin for live ones.
"""

ENCODE_EXAMPLES = """\
examples:
  tessera encode --key ec.jwk --iss https://issuer.example --sub alice --aud api --exp 15m
  tessera encode '{"role": "admin"}' --key ec.pem --alg ES256 --claim level=3 --jti auto
  TOKEN_SECRET=... tessera encode --secret-env TOKEN_SECRET --sub svc --exp 1h
  tessera encode @claims.json --key rsa.jwk --typ at+jwt --header x5t=abc

CLAIMS is a JSON object, '-' (stdin) or @FILE. --claim values are typed: 42, true, null,
[..], {..}, "quoted" strings; anything else is a string. iat defaults to now and exp to 15m
(pass --exp none for a token that never expires; lint will flag it).
Times: 15m, 1h, 2d, 3600 (seconds), @EPOCH, ISO dates; in the past: --iat=-5m (with "=").
"""

VERIFY_EXAMPLES = """\
examples:
  tessera verify "$TOKEN" --key ec-public.jwk --iss https://issuer.example --aud api
  tessera verify - --jwks https://issuer.example/.well-known/jwks.json --aud api < token
  tessera verify "$TOKEN" --secret-env TOKEN_SECRET --alg HS256 --json

exit status: 0 valid, 1 rejected (the reason is printed), 2 usage or key errors.
"""


def define_decode(p: argparse.ArgumentParser) -> None:
    """The ``decode`` options."""
    from tessera.cli._parser import add_output_options

    p.description = (
        "Show a token's header and claims, with times in ISO and relative form. "
        "Nothing is verified: use 'tessera verify' before trusting anything."
    )
    p.epilog = DECODE_EXAMPLES
    p.add_argument("token", nargs="?", metavar="TOKEN", help="the token, or '-' for stdin")
    add_now(p)
    add_output_options(p)
    p.set_defaults(handler=run_decode)


def define_encode(p: argparse.ArgumentParser) -> None:
    """The ``encode`` options."""
    from tessera.cli._parser import add_output_options

    p.description = "Sign a JWT with a key file, or an HMAC secret from the environment or a file."
    p.epilog = ENCODE_EXAMPLES
    p.add_argument("claims", nargs="?", metavar="CLAIMS", help="JSON object, '-' or @FILE")
    add_key_source(p, jwks=False, required=True)
    p.add_argument("--alg", help="signing algorithm (default: the key's own)")
    p.add_argument("--claim", action="append", default=[], metavar="NAME=VALUE", help="a claim")
    p.add_argument("--iss", help="issuer")
    p.add_argument("--sub", help="subject")
    p.add_argument("--aud", action="append", default=[], help="audience (repeat for several)")
    p.add_argument("--scope", action="append", default=[], help="scope (repeat; space-joined)")
    p.add_argument("--exp", metavar="TIME", help="expiry: 15m, 1h, an ISO date, none (def. 15m)")
    p.add_argument("--nbf", metavar="TIME", help="not before: now, 5m, an ISO date ...")
    p.add_argument("--iat", metavar="TIME", help="issued at (default: now; none to omit)")
    p.add_argument("--jti", metavar="ID", help="token id, or 'auto' for a random one")
    p.add_argument("--header", action="append", default=[], metavar="NAME=VALUE", help="header")
    p.add_argument("--typ", default="JWT", help="typ header (default JWT; '' to omit)")
    add_now(p)
    add_output_options(p)
    p.set_defaults(handler=run_encode)


def define_verify(p: argparse.ArgumentParser) -> None:
    """The ``verify`` options."""
    from tessera.cli._parser import add_output_options

    p.description = (
        "Verify the signature with the given key(s), then exp/nbf/iat and the expected "
        "issuer, audience, subject and type."
    )
    p.epilog = VERIFY_EXAMPLES
    p.add_argument("token", nargs="?", metavar="TOKEN", help="the token, or '-' for stdin")
    add_key_source(p, jwks=True, required=True)
    p.add_argument("--alg", action="append", default=[], help="allowed algorithm (repeatable)")
    p.add_argument("--iss", action="append", default=[], help="expected issuer (repeatable)")
    p.add_argument("--aud", action="append", default=[], help="expected audience (repeatable)")
    p.add_argument("--sub", help="expected subject")
    p.add_argument("--typ", help="expected typ header, e.g. at+jwt")
    p.add_argument("--leeway", default="0", metavar="SECONDS", help="clock skew (max 300 s)")
    p.add_argument("--max-age", metavar="DURATION", help="reject tokens issued longer ago")
    p.add_argument("--require", action="append", default=[], metavar="CLAIM", help="required")
    p.add_argument("--allow-no-exp", action="store_true", help="accept tokens without exp")
    p.add_argument("--timeout", type=float, default=5.0, help="JWKS fetch timeout (s)")
    add_now(p)
    add_output_options(p)
    p.set_defaults(handler=run_verify)


# -- decode ----------------------------------------------------------------------------------


def run_decode(args: argparse.Namespace, out: Output) -> int:
    """Print the header and claims without verifying anything."""
    from tessera import decode_unverified
    from tessera.cli._input import read_token

    token = read_token(args.token)
    header, claims = decode_unverified(token)
    now = now_from(args)
    times = times_of(claims, now)
    if out.json_mode:
        out.emit_json({"verified": False, "header": header, "claims": claims, "times": times})
        return 0
    out.line(
        out.paint("UNVERIFIED", "bold", "red")
        + out.paint(": the signature was not checked; run 'tessera verify' to trust it", "red")
    )
    out.line()
    out.line(out.paint("Header", "bold"))
    out.line(out.render(header))
    out.line()
    out.line(out.paint("Claims", "bold"))
    out.line(out.render(claims))
    print_times(out, times, now)
    return 0


# -- encode ----------------------------------------------------------------------------------


def _claims_argument(arg: str | None) -> dict[str, Any]:
    from tessera.cli._input import read_file, read_json_object

    if arg is None:
        return {}
    if arg == "-":
        data = read_file("-")
    elif arg.startswith("@"):
        data = read_file(arg[1:], "claims file")
    elif arg.lstrip().startswith("{"):
        data = arg.encode("utf-8")
    else:
        raise UsageError("CLAIMS must be a JSON object, '-' for stdin or @FILE")
    return read_json_object(data, "claims")


def _set_time(
    claims: dict[str, Any], name: str, value: str | None, default: str | None, now: float
) -> None:
    from tessera.cli._times import parse_time

    if value is None:
        if name in claims or default is None:
            return
        value = default
    if value.lower() == "none":
        claims.pop(name, None)
    else:
        claims[name] = parse_time(value, now, f"--{name}")


def run_encode(args: argparse.Namespace, out: Output) -> int:
    """Sign the claims and print the token."""
    import secrets

    import tessera
    from tessera.cli._input import parse_assignment
    from tessera.cli._keyfile import signing_algorithm

    now = now_from(args)
    claims = _claims_argument(args.claims)
    for item in args.claim:
        name, value = parse_assignment(item, "--claim")
        claims[name] = value
    for name in ("iss", "sub"):
        if getattr(args, name) is not None:
            claims[name] = getattr(args, name)
    if args.aud:
        claims["aud"] = args.aud[0] if len(args.aud) == 1 else list(args.aud)
    if args.scope:
        claims["scope"] = " ".join(args.scope)
    _set_time(claims, "iat", args.iat, "now", now)
    _set_time(claims, "nbf", args.nbf, None, now)
    _set_time(claims, "exp", args.exp, "15m", now)
    if args.jti is not None:
        claims["jti"] = secrets.token_urlsafe(16) if args.jti == "auto" else args.jti
    headers = dict(parse_assignment(item, "--header") for item in args.header)
    key = key_from_args(args, alg=args.alg)
    if not isinstance(key, tessera.Key):
        raise UsageError("encode needs a single key")
    token = tessera.encode(
        claims, key, alg=signing_algorithm(key, args.alg), headers=headers, typ=args.typ or None
    )
    if out.json_mode:
        header, _ = tessera.decode_unverified(token)
        out.emit_json({"token": token, "header": header, "claims": claims})
    else:
        out.line(token)
    return 0


# -- verify ----------------------------------------------------------------------------------


def _rejection(exc: InvalidToken, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    from tessera import ClaimError, InvalidAudienceError

    message = str(exc)
    if isinstance(exc, InvalidAudienceError) and not args.aud:
        message += " (pass --aud)"
    detail: dict[str, Any] = {"code": exc.code, "message": message}
    if isinstance(exc, ClaimError):
        detail["claim"] = exc.claim
    return f"token rejected: {message} [{exc.code}]", detail


def run_verify(args: argparse.Namespace, out: Output) -> int:
    """Verify signature and claims; exit 1 with the reason when the token is rejected."""
    import tessera
    from tessera.cli._input import read_token
    from tessera.cli._keyfile import verifying_algorithms
    from tessera.cli._times import parse_duration

    token = read_token(args.token)
    if (args.secret_env or args.secret_file) and len(args.alg) > 1:
        raise UsageError("an HMAC secret is bound to one algorithm: pass one --alg")
    keys = key_from_args(args, alg=args.alg[0] if len(args.alg) == 1 else None)
    assert keys is not None  # the key-source group is required
    algorithms = verifying_algorithms(keys, args.alg)
    require = [] if args.allow_no_exp else ["exp"]
    require += [name for name in args.require if name not in require]
    now = now_from(args)
    try:
        claims = tessera.decode(
            token,
            keys,
            algorithms=algorithms,
            issuer=args.iss or None,
            audience=args.aud or None,
            subject=args.sub,
            typ=args.typ,
            leeway=parse_duration(args.leeway, "--leeway"),
            require=require,
            now=now,
            max_age=parse_duration(args.max_age, "--max-age") if args.max_age else None,
        )
    except tessera.InvalidToken as exc:
        line, detail = _rejection(exc, args)
        if out.json_mode:
            out.emit_json({"valid": False, "error": detail})
        raise Rejected(line, reported=True) from None
    # The signature has been verified above, so this header is the authentic one.
    header, _ = tessera.decode_unverified(token)
    times = times_of(claims, now)
    if out.json_mode:
        out.emit_json({"valid": True, "header": header, "claims": claims, "times": times})
        return 0
    kid = header.get("kid")
    signer = f"signature {header.get('alg')}" + (f" by key {kid}" if isinstance(kid, str) else "")
    out.line(out.paint("VALID", "bold", "green") + f": {signer}; claims checked")
    out.line()
    out.line(out.paint("Claims", "bold"))
    out.line(out.render(claims))
    print_times(out, times, now)
    return 0
