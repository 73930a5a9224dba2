"""JWKS fetch counts: plain ints on the clients, exported to Prometheus by
``tessera.resource.prometheus``; the toolkit imports without prometheus-client."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from resourcehelp import IssuerStandIn

from tessera.resource import JWKSClient, KeysUnavailableError
from tessera.resource.prometheus import JWKSCollector


def _samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    text = generate_latest(registry).decode()
    return {
        (sample.name, sample.labels["source"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_fetches_and_failures_are_exported(issuer: IssuerStandIn) -> None:
    url = issuer.issuer + "/jwks.json"
    broken = issuer.issuer + "/missing.json"
    client, down = JWKSClient(url), JWKSClient(broken)
    registry = CollectorRegistry()
    registry.register(JWKSCollector(client, down))
    try:
        before = _samples(registry)
        assert before[("tessera_resource_jwks_fetches_total", url)] == 0
        assert before[("tessera_resource_jwks_fetch_failures_total", broken)] == 0
        assert client.get_keys("key-1")
        with pytest.raises(KeysUnavailableError):
            down.get_keys("key-1")
        after = _samples(registry)
        assert after[("tessera_resource_jwks_fetches_total", url)] == 1
        assert after[("tessera_resource_jwks_fetch_failures_total", url)] == 0
        assert after[("tessera_resource_jwks_fetches_total", broken)] == 1
        assert after[("tessera_resource_jwks_fetch_failures_total", broken)] == 1
        assert after[("tessera_resource_jwks_unknown_kid_total", url)] == 0
        assert "ghost" not in client.get_keys("ghost")  # within the unknown-kid cooldown
        assert _samples(registry)[("tessera_resource_jwks_unknown_kid_total", url)] == 1
        assert issuer.jwks_requests == 1
    finally:
        client.close()
        down.close()


def test_the_toolkit_imports_without_prometheus_client() -> None:
    code = (
        "import sys; sys.modules['prometheus_client'] = None\n"
        "import tessera.resource as r\n"
        "c = r.JWKSClient('https://idp.example/jwks.json')\n"
        "assert c.fetches == 0 and c.fetch_failures == 0 and c.unknown_kids == 0\n"
        "assert 'prometheus_client' not in [m for m in sys.modules if sys.modules[m]]\n"
        "try:\n    import tessera.resource.prometheus\nexcept ImportError:\n    print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
