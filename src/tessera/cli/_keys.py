"""``tessera keygen`` and ``tessera jwk ...``: make, convert, fingerprint and collect keys.

Private keys go to files created with mode 0600 and are never written over an existing file
without ``--force``. ``keygen`` prints a private key only when asked with ``--out -``
(a shell redirect would create the file with the umask's mode, usually world-readable).
"""

from __future__ import annotations

import argparse
import json
import os
from typing import TYPE_CHECKING, Any

from tessera.cli._errors import UsageError
from tessera.cli._parser import add_output_options

if TYPE_CHECKING:
    from tessera import Key
    from tessera.cli._output import Output

__all__ = [
    "define_jwk",
    "define_keygen",
    "run_convert",
    "run_keygen",
    "run_set",
    "run_thumbprint",
]

KEYGEN_EXAMPLES = """\
examples:
  tessera keygen ES256 --out ec.jwk --public-out ec-public.jwk
  tessera keygen RS256 --size 3072 --format pem --out rsa.pem --public-out rsa-public.pem
  tessera keygen EdDSA --kid signing-2025 --out ed.jwk
  tessera keygen HS256 --out secret.jwk          # a random 32-byte secret as an oct JWK
  tessera keygen ES256 --out - --json             # print it (think before you do)

The private file is created with mode 0600 and never overwritten without --force.
The kid defaults to the RFC 7638 thumbprint (a random id for HMAC secrets). PEM does not
record the algorithm: pass --alg when you use a PEM key whose type fits several (RSA, Ed25519).
"""

JWK_EXAMPLES = """\
examples:
  tessera jwk convert rsa.pem --alg RS256 --out rsa.jwk    # PEM -> JWK (private stays private)
  tessera jwk convert ec.jwk --to pem                       # JWK -> PEM
  tessera jwk public ec.jwk --out ec-public.jwk             # public half
  tessera jwk thumbprint ec.jwk --uri                       # RFC 7638 / RFC 9278
  tessera jwk set ec-public.jwk rsa.pem old-jwks.json --out jwks.json
"""


def _algorithms() -> list[str]:
    from tessera.jose.jwa import JWS_ALGORITHMS

    return list(JWS_ALGORITHMS)


def define_keygen(p: argparse.ArgumentParser) -> None:
    """The ``keygen`` options."""
    p.description = "Generate a new private key bound to ALG."
    p.epilog = KEYGEN_EXAMPLES
    p.add_argument("alg", metavar="ALG", choices=_algorithms(), help="e.g. ES256, RS256, EdDSA")
    p.add_argument("--kid", help="key id (default: the RFC 7638 thumbprint)")
    p.add_argument("--out", metavar="FILE", help="private key file (mode 0600), or - for stdout")
    p.add_argument("--public-out", metavar="FILE", help="public key file")
    p.add_argument("--format", choices=("jwk", "pem"), default="jwk", help="default: jwk")
    p.add_argument("--size", type=int, help="RSA modulus bits (2048) or HMAC secret bytes")
    p.add_argument("--crv", help="curve, e.g. Ed448 for EdDSA")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    add_output_options(p)
    p.set_defaults(handler=run_keygen)


def define_jwk(p: argparse.ArgumentParser) -> None:
    """The ``jwk`` group: ``convert``, ``public``, ``thumbprint``, ``set``."""
    from tessera.cli._parser import Formatter

    p.description = (
        "Convert PEM <-> JWK, take the public half, compute thumbprints and build or merge "
        "JWK Sets."
    )
    p.epilog = JWK_EXAMPLES
    actions: Any = p.add_subparsers(dest="jwk_command", metavar="ACTION", required=True)
    for name, public in (("convert", False), ("public", True)):
        c = actions.add_parser(
            name,
            help="the public half of a key" if public else "PEM <-> JWK",
            description="Write the public half of a private key."
            if public
            else "Convert a key between PEM and JWK.",
            epilog=JWK_EXAMPLES,
            formatter_class=Formatter,
        )
        c.add_argument("file", metavar="FILE", help="a PEM or JWK file ('-' for stdin)")
        c.add_argument(
            "--to",
            choices=("jwk", "pem"),
            help="output format (default: " + ("the input's)" if public else "the other one)"),
        )
        if not public:
            c.add_argument("--public", action="store_true", help="export only the public half")
        c.add_argument("--alg", help="bind this algorithm (PEM carries none)")
        c.add_argument("--kid", help="set the key id")
        c.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
        c.add_argument("--force", action="store_true", help="overwrite an existing file")
        add_output_options(c)
        c.set_defaults(handler=run_convert, public=public, same_format=public)

    c = actions.add_parser(
        "thumbprint",
        help="the RFC 7638 thumbprint",
        description="Print a key's RFC 7638 JWK thumbprint (SHA-256).",
        formatter_class=Formatter,
    )
    c.add_argument("file", metavar="FILE", help="a PEM or JWK file")
    c.add_argument("--uri", action="store_true", help="as an RFC 9278 thumbprint URI")
    add_output_options(c)
    c.set_defaults(handler=run_thumbprint)

    c = actions.add_parser(
        "set",
        help="build or merge a JWK Set",
        description="Build a JWK Set from key files and merge existing JWK Sets. Keys without "
        "a kid get their thumbprint (secrets a random id); duplicate kids are refused.",
        formatter_class=Formatter,
    )
    c.add_argument("files", nargs="+", metavar="FILE", help="PEM, JWK or JWK Set files")
    c.add_argument("--private", action="store_true", help="keep private members (file 0600)")
    c.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    c.add_argument("--force", action="store_true", help="overwrite an existing file")
    add_output_options(c)
    c.set_defaults(handler=run_set)


def _serialise(key: Key, fmt: str, *, private: bool) -> bytes:
    if fmt == "pem":
        return key.to_pem(private=private)
    return (json.dumps(key.to_jwk(private=private), indent=2) + "\n").encode("utf-8")


def _emit(out: Output, path: str | None, data: bytes, *, private: bool, force: bool) -> str | None:
    """Write ``data`` to ``path`` (None or '-' mean stdout); return the path written."""
    from tessera.cli._keyfile import write_file

    if path is None or path == "-":
        out.stream.write(data.decode("utf-8"))
        return None
    write_file(path, data, private=private, force=force)
    return path


def _refuse_existing(paths: list[str | None], force: bool) -> None:
    if force:
        return
    for path in paths:
        if path and path != "-" and os.path.lexists(path):
            raise UsageError(f"{path} exists: pass --force to overwrite it")


def run_keygen(args: argparse.Namespace, out: Output) -> int:
    """Generate a key and write it (private 0600) and, optionally, its public half."""
    from tessera import Key
    from tessera.cli._keyfile import write_file
    from tessera.jose.jwa import JWS_ALGORITHMS

    symmetric = JWS_ALGORITHMS[args.alg].is_symmetric
    if symmetric and args.format == "pem":
        raise UsageError("HMAC secrets have no PEM form: use --format jwk")
    if symmetric and args.public_out:
        raise UsageError("an HMAC secret has no public half")
    if args.out is None:
        raise UsageError("where should the private key go? pass --out FILE (or --out - to print)")
    _refuse_existing([args.out, args.public_out], args.force)
    key = Key.generate(args.alg, kid=args.kid, size=args.size, crv=args.crv)
    private_data = _serialise(key, args.format, private=True)
    public = None if symmetric else key.public()
    info: dict[str, Any] = {
        "alg": key.alg,
        "kid": key.kid,
        "kty": key.kty,
        "crv": key.crv,
        # A secret's thumbprint is a hash of the secret: never print it.
        "thumbprint": None if symmetric else key.thumbprint(),
        "public_jwk": public.to_jwk() if public is not None else None,
    }
    if args.out == "-":
        if out.json_mode:
            info["private_key"] = (
                key.to_jwk(private=True) if args.format == "jwk" else private_data.decode()
            )
        else:
            out.stream.write(private_data.decode("utf-8"))
    else:
        write_file(args.out, private_data, private=True, force=args.force)
        info["private_key_file"] = args.out
    if args.public_out and public is not None:
        public_data = _serialise(public, args.format, private=False)
        write_file(args.public_out, public_data, private=False, force=args.force)
        info["public_key_file"] = args.public_out
    if out.json_mode:
        out.emit_json(info)
    elif args.out != "-":
        out.line(f"{key.alg} key, kid {key.kid}")
        out.line(f"  private: {args.out} (mode 0600)")
        if args.public_out:
            out.line(f"  public:  {args.public_out}")
    return 0


def run_convert(args: argparse.Namespace, out: Output) -> int:
    """PEM <-> JWK (``jwk convert``), or the public half (``jwk public``)."""
    from tessera import Key
    from tessera.cli._input import read_file
    from tessera.cli._keyfile import is_pem, parse_key

    data = read_file(args.file, "key file")
    key = parse_key(data, args.file, args.alg, args.kid)
    if not isinstance(key, Key):
        raise UsageError(f"{args.file} is a JWK Set; 'jwk set' works on sets")
    if key.kty == "oct" and (args.public or args.to == "pem"):
        raise UsageError("an HMAC secret has neither a public half nor a PEM form")
    if args.to is not None:
        fmt = args.to
    elif key.kty == "oct":
        fmt = "jwk"
    elif args.same_format:
        fmt = "pem" if is_pem(data) else "jwk"
    else:
        fmt = "jwk" if is_pem(data) else "pem"
    private = key.is_private and not args.public
    target = key if private or not key.is_private else key.public()
    output = _serialise(target, fmt, private=private)
    if not out.json_mode:
        _emit(out, args.out, output, private=private, force=args.force)
        return 0
    written = None
    if args.out is not None and args.out != "-":
        written = _emit(out, args.out, output, private=private, force=args.force)
    body: Any = json.loads(output) if fmt == "jwk" else output.decode("ascii")
    out.emit_json({"format": fmt, "private": private, "key": body, "file": written})
    return 0


def run_thumbprint(args: argparse.Namespace, out: Output) -> int:
    """Print the RFC 7638 thumbprint (or RFC 9278 URI)."""
    from tessera.cli._keyfile import load_key

    key = load_key(args.file)
    value = key.thumbprint_uri() if args.uri else key.thumbprint()
    if out.json_mode:
        out.emit_json({"thumbprint": key.thumbprint(), "uri": key.thumbprint_uri()})
    else:
        out.line(value)
    return 0


def run_set(args: argparse.Namespace, out: Output) -> int:
    """Collect keys and JWK Sets into one JWK Set."""
    import secrets

    from tessera import Key, KeySet
    from tessera.cli._keyfile import load_key_or_set

    keys: list[Key] = []
    for path in args.files:
        loaded = load_key_or_set(path)
        for key in [loaded] if isinstance(loaded, Key) else list(loaded):
            if key.kid is None:
                # A secret's thumbprint would publish a hash of the secret: use a random id.
                key = key.with_kid(
                    secrets.token_urlsafe(16) if key.kty == "oct" else key.thumbprint()
                )
            if not args.private and key.kty != "oct" and key.is_private:
                key = key.public()
            keys.append(key)
    if not args.private and any(k.kty == "oct" for k in keys):
        raise UsageError("a public JWK Set cannot hold HMAC secrets (pass --private)")
    data = KeySet(keys).to_jwks(private=args.private)
    text = (json.dumps(data, indent=2) + "\n").encode("utf-8")
    if out.json_mode and (args.out is None or args.out == "-"):
        out.emit_json(data)
        return 0
    written = _emit(out, args.out, text, private=args.private, force=args.force)
    if written and out.json_mode:
        out.emit_json({"file": written, "keys": len(keys)})
    return 0
