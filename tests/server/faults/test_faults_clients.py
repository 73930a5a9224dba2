"""Slow and oversized clients against one ``tessera serve`` worker (SQLite): 200 clients
trickling their headers hold connections without holding up anyone else's token requests, and
oversized heads and bodies are refused with their status while a normal client is served
throughout. Latencies are reported (the issue sets no bound), counts asserted."""

from __future__ import annotations

import base64
import secrets
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from rawhttp import RawResponse, get, send
from serverhelp import Client, Databases, ServeProcess

from tessera.server import registry
from tessera.server.storage import migrate
from tessera.server.storage.database import Database

pytestmark = pytest.mark.faults

SLOW_CLIENTS = 200
REQUESTS = 300
ROUNDS = 5


@dataclass
class Site:
    serve: ServeProcess
    client: Client


@pytest.fixture(scope="module")
def site(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    database = databases.new("sqlite")
    db = Database(database)
    try:
        migrate.upgrade(db)
        created = registry.add_client(
            db, "batch", scope="read:docs", audiences=("https://api.example",), now=time.time()
        )
    finally:
        db.dispose()
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    serve = ServeProcess(database, {"TESSERA_KEK": kek}, tmp_path_factory.mktemp("clients"))
    try:
        serve.wait_ready()
        yield Site(serve, Client(created.record.client_id, created.secret, "batch"))
    finally:
        serve.stop()


def token_latencies(site: Site, count: int) -> list[float]:
    """``count`` client-credentials requests one after another: their latencies (all 200)."""
    seconds = []
    with httpx.Client(base_url=site.serve.url, timeout=10) as http:
        for _ in range(count):
            started = time.perf_counter()
            response = http.post(
                "/token",
                data={"grant_type": "client_credentials"},
                auth=(site.client.client_id, site.client.secret or ""),
            )
            seconds.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return seconds


def p(values: list[float], percentile: int) -> float:
    return statistics.quantiles(values, n=100)[percentile - 1] * 1000


def test_slow_header_clients_do_not_stall_others(
    site: Site, figures: Callable[[str], None]
) -> None:
    token_latencies(site, 50)  # warm
    baseline = token_latencies(site, REQUESTS)
    slow = [
        socket.create_connection(("127.0.0.1", site.serve.port), timeout=5)
        for _ in range(SLOW_CLIENTS)
    ]
    stop = threading.Event()

    def trickle() -> None:
        for sock in slow:
            sock.sendall(b"POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        while not stop.wait(0.5):
            for sock in slow:
                sock.sendall(b"s")  # one byte per client every half second

    trickler = threading.Thread(target=trickle)
    trickler.start()
    try:
        time.sleep(1)
        loaded = token_latencies(site, REQUESTS)
    finally:
        stop.set()
        trickler.join(10)
    held = 0
    for sock in slow:
        sock.setblocking(False)
        try:
            sock.recv(1)  # an answer or a close would be readable
        except BlockingIOError:
            held += 1
        sock.close()
    figures(
        f"{REQUESTS} token requests alone: p50 {p(baseline, 50):.1f} ms, "
        f"p99 {p(baseline, 99):.1f} ms; with {held} slow-header clients held open: "
        f"p50 {p(loaded, 50):.1f} ms, p99 {p(loaded, 99):.1f} ms, max {max(loaded) * 1000:.1f} ms"
    )
    assert held == SLOW_CLIENTS  # they were really there, unanswered, during the run


def raw_body(size: int, *, chunked: bool) -> bytes:
    body = b"grant_type=client_credentials&pad=" + b"x" * size
    head = "POST /token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "Content-Type: application/x-www-form-urlencoded\r\n"
    if not chunked:
        return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    pieces = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
    return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + framed + b"0\r\n\r\n"


OVERSIZED: list[tuple[str, int, Callable[[], bytes]]] = [
    ("1 MB header field", 431, lambda: get(fields=[("X-Big", "a" * 1_000_000)])),
    ("20 MB header field", 431, lambda: get(fields=[("X-Big", "a" * 20_000_000)])),
    ("9 KB header field", 431, lambda: get(fields=[("X-Big", "a" * 9000)])),
    ("1000 header fields", 431, lambda: get(fields=[(f"X-F{i}", "v" * 20) for i in range(1000)])),
    ("20 KB request target", 414, lambda: get("/healthz?" + "q" * 20_000)),
    ("1 MB body", 413, lambda: raw_body(1_000_000, chunked=False)),
    ("1 MB chunked body", 413, lambda: raw_body(1_000_000, chunked=True)),
    ("20 MB body", 413, lambda: raw_body(20_000_000, chunked=False)),
]


def test_oversized_heads_and_bodies_are_refused_while_others_are_served(
    site: Site, figures: Callable[[str], None]
) -> None:
    served: list[int] = []
    stop = threading.Event()

    def normal() -> None:
        with httpx.Client(base_url=site.serve.url, timeout=10) as http:
            while not stop.is_set():
                response = http.post(
                    "/token",
                    data={"grant_type": "client_credentials"},
                    auth=(site.client.client_id, site.client.secret or ""),
                )
                served.append(response.status_code)

    thread = threading.Thread(target=normal)
    thread.start()
    answers: list[tuple[str, int, RawResponse]] = []
    try:
        for _ in range(ROUNDS):
            for name, expected, request in OVERSIZED:
                answers.append((name, expected, send(site.serve.port, request())))
    finally:
        stop.set()
        thread.join(10)
    slowest: dict[str, RawResponse] = {}
    for name, _, answer in answers:
        if name not in slowest or answer.seconds > slowest[name].seconds:
            slowest[name] = answer
    figures(
        f"{ROUNDS} rounds, slowest of each: "
        + "; ".join(
            f"{name} {a.status} in {a.seconds * 1000:.0f} ms" for name, a in slowest.items()
        )
        + f"; meanwhile {len(served)} token requests, {served.count(200)} answered 200"
    )
    assert len(answers) == ROUNDS * len(OVERSIZED)
    for name, expected, answer in answers:
        assert answer.status == expected, (name, answer)
        assert answer.error()["error"] == "invalid_request", (name, answer.body)
    assert served
    assert served.count(200) == len(served)
