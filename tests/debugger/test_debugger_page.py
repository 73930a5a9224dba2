"""The page itself: served with a strict CSP, only local assets, at any mount point."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from debuggerhelp import Client
from starlette.applications import Starlette
from starlette.routing import Mount

import tessera
from tessera.debugger import create_app
from tessera.debugger._headers import CONTENT_SECURITY_POLICY

STATIC = Path(tessera.__file__).parent / "debugger" / "static"


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside <script>/<style>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in and data.strip():
            self.inline.append(data)


def parse(html: str) -> _Tags:
    tags = _Tags()
    tags.feed(html)
    return tags


def test_page_is_served_with_strict_security_headers(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    csp = response.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    directives = dict(part.split(" ", 1) for part in csp.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


def test_static_files_carry_the_same_headers(client: Client) -> None:
    for path in ("/static/app.css", "/static/js/app.js", "/static/favicon.svg"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert client.get("/static/js/app.js").headers["content-type"].startswith("text/javascript")


def test_page_has_no_inline_script_style_or_handlers(client: Client) -> None:
    page = parse(client.get("/").text)
    assert page.inline == []
    for tag, attrs in page.tags:
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], tag
        if tag == "script":
            assert attrs.get("src"), "every script is a file"


def test_page_and_static_files_reference_nothing_outside(client: Client) -> None:
    page = parse(client.get("/").text)
    for _tag, attrs in page.tags:
        for name in ("src", "href", "action"):
            value = attrs.get(name)
            if value is not None and not value.startswith("#"):
                assert "//" not in value, value  # relative to <base>
                assert ":" not in value, value
    for path in STATIC.rglob("*"):
        if path.suffix in (".js", ".css", ".svg"):
            text = path.read_text("utf-8")
            for url in re.findall(r"https?://[^\s\"'`)]+", text):
                # The SVG namespace and example placeholders are not fetched.
                assert url in ("http://www.w3.org/2000/svg",) or "example" in url, (path, url)
            assert "@import" not in text, path
            assert "url(" not in text.replace("new URL(", ""), path


def test_every_form_control_has_a_label(client: Client) -> None:
    page = parse(client.get("/").text)
    label_for = {attrs.get("for") for tag, attrs in page.tags if tag == "label"}
    for tag, attrs in page.tags:
        if tag in ("input", "select", "textarea"):
            assert attrs.get("id") in label_for or attrs.get("aria-label"), attrs


def test_page_offers_server_keys_only_when_given(make_client: object) -> None:
    plain = Client(create_app()).get("/").text
    with_keys = Client(create_app(server_keys=lambda: tessera.KeySet([]))).get("/").text
    assert 'value="server"' not in plain
    assert 'value="server"' in with_keys


def test_page_lists_every_signature_algorithm(client: Client) -> None:
    html = client.get("/").text
    for alg in tessera.jose.jwa.JWS_ALGORITHMS:
        assert f'<option value="{alg}">' in html
    assert '<option value="none">' not in html


@pytest.mark.parametrize("prefix", ["/debugger", "/tools/debugger"])
def test_page_works_under_a_mount_point(prefix: str) -> None:
    client = Client(Starlette(routes=[Mount(prefix, create_app())]))
    response = client.get(f"{prefix}/")
    assert response.status_code == 200
    assert f'<base href="{prefix}/">' in response.text
    assert client.get(f"{prefix}/static/app.css").status_code == 200
    api = client.post(f"{prefix}/api/lint", json={"token": "x"})
    assert api.json()["malformed"]["code"] == "malformed"
    assert client.get(prefix).status_code in (200, 307)


def test_page_at_root_uses_root_base(client: Client) -> None:
    assert '<base href="/">' in client.get("/").text
