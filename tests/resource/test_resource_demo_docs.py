"""The demo API's ``/docs`` works without internet: Swagger UI's script, stylesheet and icon
come from the API itself (fastapi-offline's packaged copy), never from a CDN. Checked over HTTP
and in Debian's Chromium with every request to another host refused."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from resourcehelp import LiveServer

import tessera
from tessera.demo_api import create_app

CHROMIUM = Path(os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
_ASSET = re.compile(r"""(?:src|href)=["']?([^"' >]+)""")
_URL_IN_SCRIPT = re.compile(r"""["'](https?://[^"']+)["']""")


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    key = tessera.Key.generate("ES256")
    app = create_app("http://127.0.0.1:9/", "https://api.example", keys=key.public())
    server = LiveServer().start(app)
    try:
        yield server.url
    finally:
        server.stop()


def test_docs_page_names_only_local_assets_and_each_answers(api: str) -> None:
    page = httpx.get(api + "/docs")
    assert page.status_code == 200
    assets = _ASSET.findall(page.text)
    assert len(assets) >= 3, page.text  # the script, the stylesheet, the icon
    outside = [url for url in assets + _URL_IN_SCRIPT.findall(page.text) if "://" in url]
    assert outside == [], "the docs page loads something from another host"
    for asset in assets:
        reply = httpx.get(api + asset)
        assert reply.status_code == 200, asset
        assert len(reply.content) > 1000, asset
    kinds = {httpx.get(api + asset).headers["content-type"].split(";")[0] for asset in assets}
    assert {"text/javascript", "text/css", "image/png"} <= kinds


def test_docs_page_renders_in_chromium_with_other_hosts_blocked(api: str) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    if not CHROMIUM.exists():
        _unavailable(f"Chromium not found at {CHROMIUM}: run scripts/install-test-tools.sh")
    requested: list[str] = []
    blocked: list[str] = []
    failed: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context()

            def only_local(route: Any) -> None:
                url = route.request.url
                if url.startswith(api + "/"):
                    route.continue_()
                else:
                    blocked.append(url)
                    route.abort()

            context.route("**/*", only_local)
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.on("request", lambda request: requested.append(request.url))
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(api + "/docs")
            title = page.locator(".swagger-ui .info .title")
            title.wait_for()
            assert "The secured building" in title.inner_text()
            page.locator(".swagger-ui .opblock").first.wait_for()
            assert page.locator(".swagger-ui .btn.authorize").count() == 1  # the OAuth2 scheme
            assert page.locator(".swagger-ui .opblock").count() >= 4  # lobby, lab, vault, me
        finally:
            browser.close()
    assert blocked == [], "the docs page asked another host"
    assert failed == [], "a local asset failed to load"
    assert problems == []
    assert any(url.endswith(".js") for url in requested)
    assert any(url.endswith(".css") for url in requested)


def _unavailable(reason: str) -> None:
    if os.environ.get("TESSERA_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (TESSERA_REQUIRE_SERVICES=1)")
    pytest.skip(reason)
