"""Prometheus metrics of the authorization server, served at ``/metrics`` when enabled.

What is counted: tokens issued (by grant and client), OAuth errors (by route and code),
requests and their latency (by route template and method), database errors and retries;
the signing keys' age and time to the next rotation are computed at each scrape.

Label cardinality is bounded: routes are the app's templates (``unmatched`` for the rest),
status codes and error codes come from fixed sets, and only the first
:data:`MAX_CLIENT_LABELS` client ids seen by a process get their own ``client`` label, the
others share ``other`` (self-registered and URL clients could otherwise grow it forever).

With several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` (``tessera serve --workers N``
sets a fresh one when metrics are on): each worker writes its counters there and any worker's
scrape adds them up (prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from tessera.server.requestinfo import RequestInfo

if TYPE_CHECKING:
    from tessera.server.keys import KeyManager

__all__ = [
    "MAX_CLIENT_LABELS",
    "MULTIPROCESS_ENV",
    "Metrics",
    "database_error",
    "database_retry",
]

MAX_CLIENT_LABELS = 100
"""Distinct ``client`` label values per process; later clients are counted as ``other``."""
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

TOKENS_ISSUED = Counter(
    "tessera_tokens_issued",
    "Token responses of /token, by grant type and client.",
    ["grant", "client"],
    registry=None,
)
OAUTH_ERRORS = Counter(
    "tessera_oauth_errors",
    "OAuth error responses, by route template and error code.",
    ["route", "error"],
    registry=None,
)
REQUESTS = Counter(
    "tessera_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
    registry=None,
)
LATENCY = Histogram(
    "tessera_http_request_duration_seconds",
    "Time from request to the end of the response, by route template and method.",
    ["route", "method"],
    buckets=_BUCKETS,
    registry=None,
)
DATABASE_ERRORS = Counter(
    "tessera_database_errors",
    "Database errors that reached a request (answered 503), by exception kind.",
    ["kind"],
    registry=None,
)
DATABASE_RETRIES = Counter(
    "tessera_database_retries",
    "Transactions retried after a lock conflict, deadlock or serialization failure.",
    ["operation"],
    registry=None,
)
_LIVE = (TOKENS_ISSUED, OAUTH_ERRORS, REQUESTS, LATENCY, DATABASE_ERRORS, DATABASE_RETRIES)


def database_error(kind: str) -> None:
    """Count a database error answered as an outage (``kind``: the exception class name)."""
    DATABASE_ERRORS.labels(kind).inc()


def database_retry(operation: str) -> None:
    """Count one retry of a transaction (``operation``: a fixed name such as ``refresh``)."""
    DATABASE_RETRIES.labels(operation).inc()


class _ClientLabels:
    """The first ``limit`` client ids keep their own label; the rest are ``other``."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, client_id: str | None) -> str:
        if client_id is None:
            return "unknown"
        if client_id in self._seen:
            return client_id
        with self._lock:
            if len(self._seen) < self._limit:
                self._seen.add(client_id)
                return client_id
        return "other"


_CLIENTS = _ClientLabels(MAX_CLIENT_LABELS)


class _KeyCollector(Collector):
    """Signing key gauges computed at scrape time from the cached key schedule."""

    def __init__(self, keys: KeyManager, clock: Callable[[], float]) -> None:
        self._keys = keys
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        age = GaugeMetricFamily(
            "tessera_signing_key_age_seconds",
            "Seconds since the current signing key of each algorithm started signing.",
            labels=["alg"],
        )
        due = GaugeMetricFamily(
            "tessera_signing_key_next_rotation_seconds",
            "Seconds until the next key of each algorithm signs (negative: overdue).",
            labels=["alg"],
        )
        published = GaugeMetricFamily(
            "tessera_jwks_keys", "Keys published in the JWK Set.", labels=[]
        )
        try:
            schedule = self._keys.schedule()
        except Exception:  # the database is down: no key figures in this scrape
            return
        now = self._clock()
        period = self._keys.settings.rotation_period
        for alg in self._keys.settings.key_algorithms:
            signer = schedule.signer(now, alg)
            if signer is None:
                continue
            age.add_metric([alg], now - signer.activate_at)
            pending = schedule.pending(now, alg)
            nxt = (
                pending[0].activate_at
                if pending
                else signer.retire_at or signer.activate_at + period
            )
            due.add_metric([alg], nxt - now)
        published.add_metric([], len(schedule.published(now)))
        yield age
        yield due
        yield published


class Metrics:
    """One app's registry, the request observer that feeds it, and the ``/metrics`` endpoint."""

    def __init__(
        self,
        keys: KeyManager,
        clock: Callable[[], float],
        *,
        token_route: str,
        bearer: str | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        directory = os.environ.get(MULTIPROCESS_ENV)
        if directory:
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry, path=directory)  # type: ignore[no-untyped-call]
        else:
            for metric in _LIVE:
                self.registry.register(metric)
        self.registry.register(_KeyCollector(keys, clock))
        self._token_route = token_route
        self._bearer = bearer.encode() if bearer else None

    def observe(self, info: RequestInfo, status: int, seconds: float) -> None:
        """Count one finished request (a :data:`tessera.server.logs.Observer`)."""
        REQUESTS.labels(info.route, info.method, str(status)).inc()
        LATENCY.labels(info.route, info.method).observe(seconds)
        if info.error is not None:
            OAUTH_ERRORS.labels(info.route, info.error).inc()
        elif status == 200 and info.route == self._token_route and info.grant is not None:
            TOKENS_ISSUED.labels(info.grant, _CLIENTS(info.client_id)).inc()

    def authorized(self, header: str | None) -> bool:
        """True without a configured token, else for ``Bearer <token>`` (constant time)."""
        if self._bearer is None:
            return True
        if header is None or header[:7].lower() != "bearer ":
            return False
        return hmac.compare_digest(header[7:].strip().encode(), self._bearer)

    async def endpoint(self, request: Request) -> Response:
        """``GET /metrics``: the Prometheus text format (401 without the bearer token)."""
        if not self.authorized(request.headers.get("authorization")):
            return Response(
                b'{"error":"invalid_token"}',
                401,
                {"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
                "application/json",
            )
        from starlette.concurrency import run_in_threadpool

        body = await run_in_threadpool(generate_latest, self.registry)
        return Response(body, 200, {"Cache-Control": "no-store"}, CONTENT_TYPE_LATEST)
