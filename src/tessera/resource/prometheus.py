"""Prometheus export of the JWKS clients' figures, for resource servers that run prometheus-client.

The toolkit itself counts in plain ints (``fetches``, ``fetch_failures`` and ``unknown_kids`` on
each client) and never imports prometheus-client; only this module does::

    from prometheus_client import REGISTRY
    from tessera.resource.prometheus import JWKSCollector

    REGISTRY.register(JWKSCollector(jwks_client))
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["JWKSCollector"]


class _Counted(Protocol):
    @property
    def source(self) -> str: ...

    @property
    def fetches(self) -> int: ...

    @property
    def fetch_failures(self) -> int: ...

    @property
    def unknown_kids(self) -> int: ...


class JWKSCollector(Collector):
    """``tessera_resource_jwks_fetches_total``, ``..._fetch_failures_total`` and
    ``..._unknown_kid_total`` by source (the JWKS URL or issuer: one label value per client, so
    the cardinality is yours). Unknown kids rising after ``tessera keys rotate --now`` are tokens
    refused until the next fetch; rising without a rotation, made-up kids."""

    def __init__(self, *clients: _Counted) -> None:
        self._clients = clients

    def collect(self) -> Iterator[Metric]:
        fetches = CounterMetricFamily(
            "tessera_resource_jwks_fetches", "JWKS fetches started, by source.", labels=["source"]
        )
        failures = CounterMetricFamily(
            "tessera_resource_jwks_fetch_failures",
            "JWKS fetches or discoveries that failed, by source.",
            labels=["source"],
        )
        unknown = CounterMetricFamily(
            "tessera_resource_jwks_unknown_kid",
            "Tokens naming a kid the cached keys lack, answered without a fetch, by source.",
            labels=["source"],
        )
        for client in self._clients:
            fetches.add_metric([client.source], client.fetches)
            failures.add_metric([client.source], client.fetch_failures)
            unknown.add_metric([client.source], client.unknown_kids)
        yield fetches
        yield failures
        yield unknown
