"""The request head is bounded like the body: ``tessera serve`` (two workers) answers an
oversized header field or head with 431 and an oversized request target with 414, quickly,
with a JSON ``invalid_request`` naming the limit, before the app runs; ordinary requests and
heads just under the limits are served. Raw sockets, so nothing on the client side trims or
refuses first."""

from __future__ import annotations

import base64
import json
import secrets
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rawhttp import get, read_response, send
from serverhelp import Databases, ServeProcess

from tessera.server.config import load_settings
from tessera.server.errors import ServerConfigError


def serve(databases: Databases, folder: Path, env: dict[str, str] | None = None) -> ServeProcess:
    kek = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    server = ServeProcess(
        databases.new("sqlite"), {"TESSERA_KEK": kek, **(env or {})}, folder, "--workers", "2"
    )
    server.wait_ready()
    return server


@pytest.fixture(scope="module")
def port(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    server = serve(databases, tmp_path_factory.mktemp("headers"))
    try:
        yield server.port
    finally:
        server.stop()


def test_one_megabyte_header_is_refused_with_431_quickly(
    port: int, figures: Callable[[str], None]
) -> None:
    answer = send(port, get(fields=[("X-Big", "a" * 1_000_000)]))
    figures(f"1 MB header field: {answer.status} in {answer.seconds * 1000:.1f} ms")
    assert answer.status == 431
    assert answer.error()["error"] == "invalid_request"
    assert "16384 bytes" in answer.error()["error_description"]
    assert answer.headers["connection"] == "close"
    assert answer.seconds < 2


def test_twenty_megabyte_header_still_gets_its_answer(port: int) -> None:
    """The refused connection is read to its end before it closes: no reset that would
    drop the answer before the client reads it."""
    answer = send(port, get(fields=[("X-Big", "a" * 20_000_000)]))
    assert answer.status == 431


def test_header_field_over_8_kb_is_refused_and_one_under_is_served(port: int) -> None:
    over = send(port, get(fields=[("X-Long", "a" * 8200)]))
    assert over.status == 431
    assert over.error()["error_description"] == "a header field exceeds 8192 bytes"
    assert send(port, get(fields=[("X-Long", "a" * 8000)])).status == 200


def test_many_small_headers_are_bounded_together(port: int) -> None:
    many = [(f"X-Field-{i}", "v" * 40) for i in range(400)]  # about 22 KB in all
    answer = send(port, get(fields=many))
    assert answer.status == 431
    assert "request line and headers exceed 16384 bytes" in answer.error()["error_description"]
    assert send(port, get(fields=many[:200])).status == 200  # about 11 KB


def test_request_target_over_the_head_limit_is_414(port: int) -> None:
    answer = send(port, get("/healthz?" + "q" * 20_000))
    assert answer.status == 414
    assert answer.error()["error"] == "invalid_request"


def test_ordinary_request_after_refusals_is_served(port: int) -> None:
    for _ in range(3):
        assert send(port, get(fields=[("X-Big", "a" * 50_000)])).status == 431
    answer = send(port, get(fields=[("User-Agent", "curl/8"), ("Accept", "*/*")]))
    assert answer.status == 200
    assert json.loads(answer.body) == {"status": "ok"}


def test_second_request_on_a_kept_alive_connection_is_bounded_too(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(3):
            sock.sendall(get(fields=[("X-Small", "a" * 6000)]))
            assert read_response(sock, time.perf_counter()).status == 200
        sock.sendall(get(fields=[("X-Small", "a" * 6000)] * 3))  # 18 KB in all
        assert read_response(sock, time.perf_counter()).status == 431


def test_head_trickled_in_small_pieces_is_cut_off_at_the_limit(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        started = time.perf_counter()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sent = 0
        while not select.select([sock], [], [], 0)[0]:  # until the server answers
            assert sent < 100_000, "no answer to a 100 KB head"
            sock.sendall(f"X-Piece-{sent:06d}: {'p' * 82}\r\n".encode())  # 100 bytes
            sent += 100
            time.sleep(0.001)
        answer = read_response(sock, started)
    assert answer.status == 431
    assert 16_000 < sent <= 20_000, f"answered after {sent} bytes of head fields"


def test_limits_are_settings(databases: Databases, tmp_path: Path) -> None:
    server = serve(databases, tmp_path, {"TESSERA_MAX_HEADER_SIZE": "4096"})
    try:
        assert send(server.port, get(fields=[("X-Field", "a" * 3000)])).status == 200
        answer = send(server.port, get(fields=[("X-Field", "a" * 2500)] * 2))
        assert answer.status == 431
        assert "exceed 4096 bytes" in answer.error()["error_description"]
    finally:
        server.stop()


def test_head_not_complete_within_the_header_timeout_is_408(
    databases: Databases, tmp_path: Path, figures: Callable[[str], None]
) -> None:
    server = serve(databases, tmp_path, {"TESSERA_HEADER_TIMEOUT": "1"})
    address = ("127.0.0.1", server.port)
    try:
        with (
            socket.create_connection(address, timeout=10) as slow,
            socket.create_connection(address, timeout=10) as idle,
            socket.create_connection(address, timeout=10) as kept,
        ):
            started = time.perf_counter()
            slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            kept.sendall(get())
            assert read_response(kept, started).status == 200
            kept.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next head, never finished
            while not select.select([slow], [], [], 0.2)[0]:  # a byte every 200 ms
                assert time.perf_counter() - started < 10, "no answer to a trickled head"
                slow.sendall(b"a")
            answer = read_response(slow, started)
            assert idle.recv(1) == b""  # closed without an answer: it never sent a byte
            idle_closed = time.perf_counter() - started
            second = read_response(kept, started)
        figures(
            f"header_timeout 1 s: trickled head answered {answer.status} after "
            f"{answer.seconds:.2f} s, silent connection closed after {idle_closed:.2f} s"
        )
        assert answer.status == 408
        assert answer.error()["error_description"] == ("the request head did not arrive within 1 s")
        assert second.status == 408
        assert send(server.port, get()).status == 200
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TESSERA_MAX_HEADER_SIZE": "512"}, "max_header_size must be at least 1024"),
        ({"TESSERA_MAX_HEADER_LINE": "0"}, "max_header_line must be a positive"),
        ({"TESSERA_MAX_HEADER_SIZE": "big"}, "max_header_size must be a positive"),
        ({"TESSERA_HEADER_TIMEOUT": "0"}, "header_timeout must be a positive"),
    ],
)
def test_unusable_limits_are_refused_by_name(env: dict[str, str], message: str) -> None:
    import os

    with pytest.raises(ServerConfigError, match=message):
        load_settings(os.devnull, env=env)
