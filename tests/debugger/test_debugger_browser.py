"""The real page in Debian's Chromium (headless, driven by Playwright) against a live server.

Every test also checks, at teardown, that the page requested nothing outside its own server
and logged no error (a CSP violation is a console error). Screenshots go to
``artifacts/debugger/``; ``TESSERA_UPDATE_SCREENSHOT=1`` also refreshes ``docs/debugger.png``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from debuggerhelp import SECRET, body, fresh_claims, hs256_token, serve_asgi, serve_routes, tamper

import tessera
from tessera.debugger import create_app

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "debugger"
CHROMIUM = Path(os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}


def _require_browser() -> None:
    """Skip (or, with TESSERA_REQUIRE_SERVICES=1, fail) when Playwright or Chromium is missing."""
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "the playwright package is not installed"
    if reason is None and not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM}: run scripts/install-test-tools.sh"
    if reason is not None:
        if os.environ.get("TESSERA_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{reason} (TESSERA_REQUIRE_SERVICES=1)")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def server_key() -> tessera.Key:
    """The key behind "this server's keys" in the live app."""
    return tessera.Key.generate("ES256")


@pytest.fixture(scope="module")
def base_url(server_key: tessera.Key) -> Iterator[str]:
    """The debugger served by uvicorn on a free 127.0.0.1 port."""
    app = create_app(
        server_keys=lambda: tessera.KeySet([server_key.public()]), allow_private_fetch=True
    )
    with serve_asgi(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@dataclass
class Session:
    """One page with its request log and console problems."""

    page: Any
    base: str
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def paste(self, token: str) -> None:
        """Put ``token`` in the token box as a paste would (an input event)."""
        self.page.fill("#token", token)

    def verify_with(self, kind: str, value: str = "", *, audience: str = "") -> Any:
        """Choose the key, click Verify and return the verdict locator."""
        page = self.page
        page.select_option("#key-kind", kind)
        if kind == "jwks_url":
            page.fill("#key-url", value)
        elif kind != "server":
            page.fill("#key-text", value)
        if audience:
            if page.locator("#checks").get_attribute("open") is None:
                page.click("#checks summary")
            page.fill("#opt-aud", audience)
        page.locator("#verify-result").evaluate("node => node.replaceChildren()")
        page.click("#verify")
        verdict = page.locator("#verify-result .verdict")
        verdict.wait_for()
        return verdict

    def expect_http_errors(self, status: int) -> None:
        """Forget the console lines Chromium logs for HTTP ``status`` answers a test provoked."""
        line = f"the server responded with a status of {status}"
        self.problems[:] = [problem for problem in self.problems if line not in problem]

    def shot(self, name: str) -> Path:
        """A full-page screenshot under artifacts/debugger/."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def _open(browser: Any, base_url: str, viewport: dict[str, int], scheme: str) -> Iterator[Session]:
    context = browser.new_context(viewport=viewport, color_scheme=scheme, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    session = Session(page, base_url)
    page.on("request", lambda request: session.requests.append(request.url))
    page.on(
        "console",
        lambda message: (
            session.problems.append(f"{message.type}: {message.text}")
            if message.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda error: session.problems.append(f"pageerror: {error}"))
    page.goto(base_url)
    page.locator("#state").wait_for()
    yield session
    context.close()
    origin = base_url.rstrip("/") + "/"
    outside = [url for url in session.requests if not url.startswith(origin)]
    assert outside == [], "the page requested something outside its server"
    assert session.problems == []


@pytest.fixture
def session(browser: Any, base_url: str) -> Iterator[Session]:
    """A fresh page at 1280 px, light scheme."""
    yield from _open(browser, base_url, WIDE, "light")


@pytest.fixture
def phone(browser: Any, base_url: str) -> Iterator[Session]:
    """A fresh page at 360 px wide."""
    yield from _open(browser, base_url, PHONE, "light")


@pytest.fixture
def dark(browser: Any, base_url: str) -> Iterator[Session]:
    """A fresh page at 1280 px, dark scheme."""
    yield from _open(browser, base_url, WIDE, "dark")


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


# -- decode --------------------------------------------------------------------------------


def test_pasted_token_shows_claims_and_timeline(session: Session) -> None:
    now = int(time.time())
    claims = fresh_claims(aud="https://api.example", iat=now - 300, nbf=now - 300, exp=now + 600)
    session.paste(hs256_token(claims))
    page = session.page
    expect(page.locator("#claims-json")).to_contain_text('"sub": "alice"')
    expect(page.locator("#header-json")).to_contain_text('"alg": "HS256"')
    expect(page.locator("#state")).to_have_text("valid")
    expect(page.locator("#state")).to_have_attribute("data-state", "valid")
    svg = page.locator("#timeline svg")
    expect(svg.locator("title")).to_have_text(re.compile(r"expires in 10 min: valid\.$"))
    for label in ("iat = nbf", "exp", "now"):
        expect(svg.locator("text", has_text=label).first).to_be_visible()
    hints = page.locator("#claims-hints")
    expect(hints).to_contain_text("Expiration time")
    expect(hints).to_contain_text("expires in 10 min")
    expect(hints).to_contain_text("issued 5 min ago")
    expect(hints).to_contain_text(re.compile(r"UTC: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"))
    expect(hints).to_contain_text("local: ")
    expect(page.locator("#header-hints")).to_contain_text("HMAC with SHA-256")
    expect(page.locator("#token-status")).to_have_text(re.compile("^Decoded in this page"))
    expect(page.locator("#lint .finding")).to_have_count(0)
    expect(page.locator("#lint")).to_have_text("No findings.")
    session.shot("decode")


def test_segments_are_coloured_in_place(session: Session) -> None:
    token = hs256_token(fresh_claims())
    session.paste(token)
    page = session.page
    header, claims, signature = token.split(".")
    paint = page.locator("#token-paint")
    expect(paint.locator(".seg-h")).to_have_text(header)
    expect(paint.locator(".seg-p")).to_have_text(claims)
    expect(paint.locator(".seg-s")).to_have_text(signature)
    colours = [
        paint.locator(f".seg-{part}").evaluate("node => getComputedStyle(node).color")
        for part in "hps"
    ]
    assert len(set(colours)) == 3
    # The textarea's own text is transparent: what shows is the painted layer beneath it.
    text_colour = page.locator("#token").evaluate("node => getComputedStyle(node).color")
    assert text_colour == "rgba(0, 0, 0, 0)"
    box, painted = page.locator("#token").bounding_box(), paint.bounding_box()
    assert box == painted


def test_undecodable_token_says_why(session: Session) -> None:
    session.paste("eyJhbGciOiJIUzI1NiJ9.not*base64.sig")
    page = session.page
    expect(page.locator("#token-status")).to_have_text(
        "Cannot decode: the claims segment contains characters outside base64url (A-Z a-z 0-9 - _)."
    )
    expect(page.locator("#lint")).to_contain_text("The server's strict parser refuses this token")


def test_encrypted_token_is_recognised(session: Session) -> None:
    session.paste("eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y2lwaGVy.dGFn")
    expect(session.page.locator("#token-status")).to_contain_text("encrypted token (JWE)")
    expect(session.page.locator("#header-json")).to_contain_text('"enc": "A256GCM"')


# -- verify --------------------------------------------------------------------------------


def test_verify_good_and_tampered_token_with_secret(session: Session) -> None:
    token = hs256_token(fresh_claims(aud="https://api.example"))
    session.paste(token)
    verdict = session.verify_with("secret", SECRET.decode(), audience="https://api.example")
    expect(verdict).to_have_attribute("data-valid", "true")
    expect(verdict.locator("h3")).to_have_text("Valid")
    expect(verdict).to_contain_text("Signature verified with key without kid (oct, HS256)")
    session.shot("verify")

    session.paste(tamper(token))
    expect(session.page.locator("#claims-json")).to_contain_text('"sub": "mallory"')
    verdict = session.verify_with("secret", SECRET.decode())
    expect(verdict).to_have_attribute("data-valid", "false")
    expect(verdict).to_contain_text("bad_signature: signature verification failed.")
    expect(verdict).to_contain_text("the token was changed after signing")
    expect(verdict).to_contain_text("The signature does not verify with this key.")
    expect(session.page.locator("#lint .finding[data-severity=high]")).to_contain_text(
        "bad-signature"
    )
    session.shot("verify-tampered")


def test_readme_view_shows_verdict_claims_and_lint_together(
    browser: Any, base_url: str, ec_key: tessera.Key, jwks: str
) -> None:
    # The README's picture: one screen with the token, the verdict, claims and lint.
    for session in _open(browser, base_url, {"width": 1280, "height": 1000}, "light"):
        page = session.page
        now = int(time.time())
        claims = fresh_claims(iat=now - 240, exp=now + 660, scope="orders:read", jti="7f3c9a")
        session.paste(tessera.encode(claims, ec_key))
        expect(session.verify_with("jwks", jwks)).to_have_attribute("data-valid", "true")
        expect(page.locator("#lint .finding")).to_have_count(1)
        for selector in ("#verify-result .verdict", "#claims-json", "#lint .finding", "#timeline"):
            assert page.locator(selector).first.is_visible()
            box = page.locator(selector).first.bounding_box()
            assert box is not None
            assert box["y"] + box["height"] <= 1000, f"{selector} is below the first screen"
        page.evaluate("() => window.scrollTo(0, 0)")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "readme.png"))
        if os.environ.get("TESSERA_UPDATE_SCREENSHOT") == "1":
            docs = ROOT / "docs" / "debugger.png"
            docs.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(docs))
            if shutil.which("pngquant"):  # a palette PNG is a third of the size
                subprocess.run(["pngquant", "--quality=70-90", "--speed=1", "--strip", "--force",
                                "--output", str(docs), str(docs)], check=True)  # fmt: skip


def test_jwt_io_sample_secret_is_refused_and_flagged(session: Session) -> None:
    session.paste(
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiw"
        "iaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    )
    expect(session.page.locator("#state")).to_have_text("valid, never expires")
    verdict = session.verify_with("secret", "your-256-bit-secret")
    expect(verdict).to_contain_text("invalid_key: HS256 keys must be at least 32 bytes.")
    expect(verdict).to_contain_text("shorter ones can be guessed")
    critical = session.page.locator("#lint .finding[data-severity=critical]")
    expect(critical).to_contain_text("the HMAC secret is a well-known default")
    session.shot("jwt-io-sample")


def test_verify_wrong_secret_says_signature_does_not_match(session: Session) -> None:
    session.paste(hs256_token(fresh_claims()))
    verdict = session.verify_with("secret", "a-different-secret-that-is-long-enough!")
    expect(verdict).to_contain_text("bad_signature")


def test_verify_good_and_tampered_token_with_jwks(
    session: Session, ec_key: tessera.Key, jwks: str
) -> None:
    token = tessera.encode(fresh_claims(), ec_key)
    session.paste(token)
    verdict = session.verify_with("jwks", jwks)
    expect(verdict).to_have_attribute("data-valid", "true")
    expect(verdict).to_contain_text(f"kid {ec_key.kid} (EC, ES256)")
    session.paste(tamper(token))
    verdict = session.verify_with("jwks", jwks)
    expect(verdict).to_have_attribute("data-valid", "false")
    expect(verdict).to_contain_text("bad_signature")


def test_verify_with_jwks_fetched_by_the_server(
    session: Session, ec_key: tessera.Key, jwks: str
) -> None:
    with serve_routes({"/jwks.json": body(jwks.encode())}) as issuer:
        session.paste(tessera.encode(fresh_claims(), ec_key))
        verdict = session.verify_with("jwks_url", f"{issuer.base}/jwks.json")
        expect(verdict).to_have_attribute("data-valid", "true")
    # The issuer's URL was fetched by the server: the browser never asked for it.
    assert not [url for url in session.requests if issuer.base in url]


def test_verify_with_this_servers_keys(session: Session, server_key: tessera.Key) -> None:
    session.paste(tessera.encode(fresh_claims(), server_key))
    verdict = session.verify_with("server")
    expect(verdict).to_have_attribute("data-valid", "true")
    expect(session.page.locator("#key-text-field")).to_be_hidden()


def test_verify_explains_missing_expected_audience(session: Session) -> None:
    session.paste(hs256_token(fresh_claims(aud="https://api.example")))
    verdict = session.verify_with("secret", SECRET.decode())
    expect(verdict).to_contain_text("invalid_audience")
    expect(verdict).to_contain_text("set the expected audience under Claim checks")
    expect(verdict).to_contain_text("The signature is valid")


def test_expired_token_shows_expired(session: Session) -> None:
    now = int(time.time())
    session.paste(hs256_token(fresh_claims(iat=now - 10800, exp=now - 7200)))
    page = session.page
    expect(page.locator("#state")).to_have_text("expired")
    expect(page.locator("#timeline svg title")).to_have_text(re.compile(r"expired 2 h ago"))
    expect(page.locator("#claims-hints")).to_contain_text("expired 2 h ago")
    verdict = session.verify_with("secret", SECRET.decode())
    expect(verdict).to_contain_text("expired: the token has expired.")
    expect(verdict).to_contain_text("It expired 2 h ago")
    expect(page.locator("#lint")).to_contain_text("the token has expired")
    session.shot("expired")


def test_token_not_valid_yet_shows_so(session: Session) -> None:
    now = int(time.time())
    session.paste(hs256_token(fresh_claims(nbf=now + 7200, exp=now + 10800)))
    expect(session.page.locator("#state")).to_have_text("not yet valid")
    expect(session.page.locator("#claims-hints")).to_contain_text("becomes valid in 2 h")


# -- encode --------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["ES256", "HS256", "EdDSA"])
def test_encode_round_trips_into_decode(session: Session, alg: str) -> None:
    page = session.page
    page.click("#tab-encode")
    page.select_option("#enc-alg", alg)
    expect(page.locator("#enc-header")).to_have_value(re.compile(f'"alg": "{alg}"'))
    page.click("#enc-generate")
    expect(page.locator("#enc-key-text")).not_to_have_value("")
    page.click("#enc-sign")
    expect(page.locator("#enc-status")).to_have_text(f"Signed with {alg}.")
    token = page.locator("#enc-output").input_value()
    header, claims = tessera.decode_unverified(token)
    assert header["alg"] == alg
    assert claims["exp"] - claims["iat"] == 900  # "+15m" from "now"
    if alg == "ES256":
        session.shot("encode")
    page.click("#enc-open")
    expect(page.locator("#panel-decode")).to_be_visible()
    expect(page.locator("#token")).to_have_value(token)
    expect(page.locator("#claims-json")).to_contain_text('"sub": "alice"')
    expect(page.locator("#state")).to_have_text("valid")
    page.click("#verify")
    verdict = page.locator("#verify-result .verdict")
    expect(verdict).to_have_attribute("data-valid", "true")


def test_encode_validates_json_before_signing(session: Session) -> None:
    page = session.page
    page.click("#tab-encode")
    page.fill("#enc-claims", '{"sub": "alice",}')
    expect(page.locator("#enc-claims")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#enc-claims-msg")).to_contain_text("Not valid JSON")
    page.fill("#enc-claims", "[1, 2]")
    expect(page.locator("#enc-claims-msg")).to_have_text("the claims must be a JSON object")
    page.click("#enc-sign")
    expect(page.locator("#enc-status")).to_have_text("Fix the JSON above first.")
    page.fill("#enc-claims", '{"exp": "+15x"}')
    expect(page.locator("#enc-claims")).not_to_have_attribute("aria-invalid", "true")
    page.fill("#enc-key-text", SECRET.decode())
    page.click("#enc-sign")
    expect(page.locator("#enc-status")).to_contain_text("invalid exp '+15x'")
    session.expect_http_errors(400)


# -- privacy, resilience, accessibility ------------------------------------------------------


def test_decoding_works_when_the_server_is_down(session: Session) -> None:
    page = session.page
    page.route("**/api/**", lambda route: route.abort())
    session.paste(hs256_token(fresh_claims()))
    expect(page.locator("#claims-json")).to_contain_text('"sub": "alice"')
    expect(page.locator("#state")).to_have_text("valid")
    expect(page.locator("#lint")).to_contain_text("did not answer. Decoding still works.")
    verdict = session.verify_with("secret", SECRET.decode())
    expect(verdict).to_contain_text("Could not verify")
    expect(verdict).to_contain_text("this page's server did not answer")
    session.problems.clear()  # the aborted requests are logged as network errors


def test_page_makes_no_request_outside_the_server(session: Session, jwks: str) -> None:
    page = session.page
    session.paste(tessera.encode(fresh_claims(), tessera.Key.generate("ES256")))
    expect(page.locator("#lint .finding")).to_have_count(1)  # missing-aud, from api/lint
    session.verify_with("jwks", jwks)
    page.click("#tab-encode")
    page.click("#enc-generate")
    expect(page.locator("#enc-key-text")).not_to_have_value("")
    page.click("#enc-sign")
    expect(page.locator("#enc-status")).to_have_text("Signed with HS256.")
    paths = {url.removeprefix(session.base).split("?")[0] for url in session.requests}
    assert {"", "static/app.css", "static/js/app.js", "api/lint", "api/verify",
            "api/generate-key", "api/encode"} <= paths  # fmt: skip
    assert all(url.startswith(session.base) for url in session.requests)


def test_every_control_has_an_accessible_name(session: Session) -> None:
    page = session.page
    for panel in ("decode", "encode"):
        page.click(f"#tab-{panel}")
        page.locator("#checks").evaluate("node => { node.open = true; }")
        unnamed = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea, button')]
                .filter((node) => node.offsetParent !== null)
                .filter((node) => !(node.labels && node.labels.length)
                    && !node.getAttribute('aria-label') && !node.textContent.trim())
                .map((node) => node.id || node.outerHTML)"""
        )
        assert unnamed == []


def test_keyboard_alone_can_decode_and_verify(session: Session) -> None:
    page = session.page
    keyboard = page.keyboard
    token = hs256_token(fresh_claims())

    def tab_to(element_id: str) -> None:
        for _ in range(40):
            keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.id") == element_id:
                return
        raise AssertionError(f"Tab never reached #{element_id}")

    tab_to("token")
    keyboard.insert_text(token)
    expect(page.locator("#claims-json")).to_contain_text('"sub": "alice"')
    tab_to("key-text")
    keyboard.insert_text(SECRET.decode())
    keyboard.press("Control+Enter")
    expect(page.locator("#verify-result .verdict")).to_have_attribute("data-valid", "true")
    tab_to("verify")
    keyboard.press("Enter")
    expect(page.locator("#verify-result .verdict")).to_have_attribute("data-valid", "true")
    page.focus("#tab-decode")
    keyboard.press("ArrowRight")
    expect(page.locator("#panel-encode")).to_be_visible()
    expect(page.locator("#tab-encode")).to_be_focused()
    outline = page.locator("#tab-encode").evaluate("node => getComputedStyle(node).outlineStyle")
    assert outline != "none"


def test_page_is_readable_at_360_px(phone: Session) -> None:
    page = phone.page
    now = int(time.time())
    phone.paste(hs256_token(fresh_claims(aud="https://api.example", nbf=now - 60, exp=now + 900)))
    expect(page.locator("#state")).to_have_text("valid")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    for card in page.locator("#panel-decode .card").all():
        box = card.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 360
    # The timeline is drawn at the real width, so its labels stay readable.
    label = page.locator("#timeline .tl-label").first.bounding_box()
    assert label is not None
    assert label["height"] >= 10
    phone.shot("decode-360")
    verdict = phone.verify_with("secret", SECRET.decode(), audience="https://api.example")
    expect(verdict).to_have_attribute("data-valid", "true")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    verdict.scroll_into_view_if_needed()
    phone.shot("verify-360")
    page.click("#tab-encode")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    phone.shot("encode-360")


def test_dark_scheme_is_dark(dark: Session, ec_key: tessera.Key) -> None:
    dark.paste(tessera.encode(fresh_claims(), ec_key))
    page = dark.page
    expect(page.locator("#state")).to_have_text("valid")
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(n) for n in re.findall(r"\d+", background)[:3])
    assert red + green + blue < 150
    jwk = json.dumps(ec_key.public().to_jwk())
    expect(dark.verify_with("jwk", jwk)).to_have_attribute("data-valid", "true")
    dark.shot("verify-dark")
