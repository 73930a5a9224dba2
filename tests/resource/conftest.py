"""Fixtures for the resource-server tests: the issuer stand-in, a fake clock, live servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest
from resourcehelp import FakeClock, IssuerStandIn, LiveServer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def issuer() -> Iterator[IssuerStandIn]:
    stand_in = IssuerStandIn().start()
    yield stand_in
    if stand_in.gate is not None:
        stand_in.gate.set()
    stand_in.stop()


@pytest.fixture
def live_server() -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def make(app: Any = None, lifespan: Literal["auto", "on", "off"] = "off") -> LiveServer:
        server = LiveServer()
        servers.append(server)
        if app is not None:
            server.start(app, lifespan)
        return server

    yield make
    for server in servers:
        server.stop()
