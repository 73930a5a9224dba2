"""``tessera lint``: print :func:`tessera.lint.lint`'s findings; exit 1 at ``--fail-on``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from tessera.cli._common import add_key_source, add_now, now_from
from tessera.cli._errors import Rejected, UsageError
from tessera.cli._parser import add_output_options

if TYPE_CHECKING:
    from tessera import Key
    from tessera.cli._output import Output

__all__ = ["define_lint", "run_lint"]

SEVERITIES = ("info", "low", "medium", "high", "critical")
_COLOURS = {
    "critical": ("bold", "red"),
    "high": ("red",),
    "medium": ("yellow",),
    "low": ("cyan",),
    "info": ("dim",),
}

LINT_EXAMPLES = """\
examples:
  tessera lint "$TOKEN"
  tessera lint - --secret-env TOKEN_SECRET < token.txt     # also judge the HMAC secret
  tessera lint "$TOKEN" --key ec-public.jwk --fail-on high --json
  tessera lint "$TOKEN" --max-lifetime 1h

Rules: alg none, unknown alg, weak/short/default HMAC secret and bad signature (with a key),
alg/key confusion, no exp, long lifetime, expired, iat in the future, missing iss/aud/typ,
jku/x5u/jwk/x5c headers, suspicious kid, sensitive-looking claims, malformed time claims.
exit status: 0 clean (below --fail-on), 1 findings at or above --fail-on, 2 usage errors.
"""


def define_lint(p: argparse.ArgumentParser) -> None:
    """The ``lint`` options."""
    p.description = (
        "Report security problems in a token, each with a severity and the RFC section "
        "behind it. The token is parsed strictly but not verified, unless a key is given."
    )
    p.epilog = LINT_EXAMPLES
    p.add_argument("token", nargs="?", metavar="TOKEN", help="the token, or '-' for stdin")
    add_key_source(p, jwks=False, required=False)
    p.add_argument("--max-lifetime", default="24h", metavar="DURATION", help="default: 24h")
    p.add_argument("--fail-on", choices=SEVERITIES, default="low", help="default: low")
    add_now(p)
    add_output_options(p)
    p.set_defaults(handler=run_lint)


def _lint_key(args: argparse.Namespace, token: str) -> Key | None:
    """The key to judge, loaded leniently: a short secret is a finding here, not an error."""
    import base64

    from tessera import Key, decode_unverified
    from tessera.cli._input import read_secret
    from tessera.cli._keyfile import load_key_or_set

    if args.secret_env or args.secret_file:
        secret = read_secret(args.secret_env, args.secret_file)
        k = base64.urlsafe_b64encode(secret).rstrip(b"=").decode("ascii")
        return Key.from_jwk({"kty": "oct", "k": k})
    if not args.key:
        return None
    loaded = load_key_or_set(args.key)
    if isinstance(loaded, Key):
        return loaded
    kid = decode_unverified(token)[0].get("kid")
    key = loaded.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise UsageError("no key in the JWK Set has the token's kid")
    return key


def run_lint(args: argparse.Namespace, out: Output) -> int:
    """Lint the token and print the findings, most severe first."""
    from tessera.cli._input import read_token
    from tessera.cli._times import parse_duration
    from tessera.lint import Severity, lint

    token = read_token(args.token)
    max_lifetime = parse_duration(args.max_lifetime, "--max-lifetime")
    findings = lint(token, _lint_key(args, token), max_lifetime=max_lifetime, now=now_from(args))
    threshold = Severity[args.fail_on.upper()]
    failing = [f for f in findings if f.severity >= threshold]
    if out.json_mode:
        out.emit_json(
            {
                "findings": [
                    {
                        "severity": f.severity.label,
                        "code": f.code,
                        "message": f.message,
                        "rfc_ref": f.rfc_ref,
                    }
                    for f in findings
                ],
                "fail_on": args.fail_on,
                "failed": bool(failing),
            }
        )
    else:
        _print_findings(out, findings)
    if failing:
        plural = "s" if len(failing) != 1 else ""
        raise Rejected(
            f"lint: {len(failing)} finding{plural} at or above {args.fail_on}", reported=True
        )
    return 0


def _print_findings(out: Output, findings: list[Any]) -> None:
    if not findings:
        out.line(out.paint("no findings", "green"))
        return
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity.label] = counts.get(finding.severity.label, 0) + 1
    summary = ", ".join(f"{counts[s]} {s}" for s in reversed(SEVERITIES) if s in counts)
    plural = "s" if len(findings) != 1 else ""
    out.line(out.paint(f"{len(findings)} finding{plural}", "bold") + f" ({summary})")
    width = max(len(f.code) for f in findings)
    for finding in findings:
        label = finding.severity.label
        out.line(
            f"  {out.paint(label.upper().ljust(8), *_COLOURS[label])} "
            f"{finding.code.ljust(width)}  {finding.message}"
        )
        out.line(f"  {'':8} {'':{width}}  {out.paint(finding.rfc_ref, 'dim')}")
