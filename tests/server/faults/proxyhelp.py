"""A TCP proxy for cutting a service (PostgreSQL) off from a server under test, or stalling it,
and a load generator that records every answer with its timing."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

__all__ = ["Answer", "Load", "TcpProxy"]


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``upstream`` on an event loop of its own.

    :meth:`cut` resets every open connection (both sides see a TCP reset at once) and resets
    each new one as soon as it is accepted, until :meth:`restore`: the database is gone, and
    says so immediately, as when its host reboots or a firewall rejects.

    :meth:`stall` makes the database silent instead: new connections are accepted and never
    answered, and (unless ``reset_open``) the open ones stop carrying bytes either way, as when
    the database host freezes or the network drops every packet; nothing says so. What was sent
    meanwhile is held, not lost, and delivered in order after :meth:`restore` (as TCP would
    retransmit it once the network is back), a connection closed meanwhile included: its bytes,
    then its end.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.connections = 0
        self.held = 0
        """Connections accepted while stalled (answered only after :meth:`restore`)."""
        self._open = True
        self._live: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._flowing: asyncio.Event = self._call(_event())  # type: ignore[assignment]
        self._server = self._call(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])

    def _call(self, coroutine: object) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)  # type: ignore[arg-type]

    def cut(self) -> None:
        """Reset every connection now, and every new one until :meth:`restore`."""

        async def cut() -> None:
            self._open = False
            for writer in list(self._live):
                _reset(writer)

        self._call(cut())

    def restore(self) -> None:
        """Forward new connections again."""

        async def restore() -> None:
            self._open = True
            self._flowing.set()

        self._call(restore())

    def stall(self, *, reset_open: bool = False) -> None:
        """Accept new connections and never answer them until :meth:`restore`; the open ones
        go silent too, or with ``reset_open`` are reset (the database restarted behind
        something that still accepts connections, then hangs)."""

        async def stall() -> None:
            self._flowing.clear()
            if reset_open:
                for writer in list(self._live):
                    _reset(writer)

        self._call(stall())

    def close(self) -> None:
        async def close() -> None:
            self._server.close()
            for writer in list(self._live):
                _reset(writer)
            await self._server.wait_closed()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self._call(close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            _reset(writer)
            return
        if not self._flowing.is_set():
            self.held += 1
            await self._flowing.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(writer)
            return
        self.connections += 1
        self._live.update((writer, up_writer))
        try:
            await asyncio.gather(
                _pipe(reader, up_writer, self._flowing), _pipe(up_reader, writer, self._flowing)
            )
        finally:
            self._live.difference_update((writer, up_writer))
            for end in (writer, up_writer):
                end.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _event() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event
) -> None:
    """Copy until the end, holding every chunk (and the end) while ``flowing`` is clear."""
    with contextlib.suppress(OSError, ConnectionError):
        while data := await reader.read(65536):
            await flowing.wait()
            writer.write(data)
            await writer.drain()
    await flowing.wait()
    with contextlib.suppress(OSError, RuntimeError):
        writer.close()


@dataclass
class Answer:
    """One request of a load run."""

    kind: str
    sent: float
    """``time.monotonic()`` when it was sent."""
    seconds: float
    status: int
    error: str | None
    retry_after: str | None
    body: dict[str, object] = field(default_factory=dict)

    @property
    def answered(self) -> float:
        return self.sent + self.seconds


class Load:
    """Threads that each repeat one kind of request until stopped, recording every answer.

    ``step(http)`` sends one request on the thread's client and returns its response (or
    raises); it is called again right after, ``pause`` seconds later.
    """

    def __init__(self, url: str, pause: float = 0.005) -> None:
        self.url = url
        self.pause = pause
        self.answers: list[Answer] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def add(self, kind: str, step: Callable[[httpx.Client], httpx.Response]) -> None:
        thread = threading.Thread(target=self._run, args=(kind, step), daemon=True)
        self._threads.append(thread)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self, kind: str, step: Callable[[httpx.Client], httpx.Response]) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while not self._stop.is_set():
                sent = time.monotonic()
                try:
                    response = step(http)
                except Exception as exc:  # a transport error or a bug in step: recorded
                    with self._lock:
                        self.failures.append(f"{kind}: {type(exc).__name__}: {exc}")
                    time.sleep(0.05)
                    continue
                seconds = time.monotonic() - sent
                body: dict[str, object] = {}
                with contextlib.suppress(ValueError):
                    body = dict(response.json())
                error = body.get("error") if response.status_code != 200 else None
                answer = Answer(
                    kind,
                    sent,
                    seconds,
                    response.status_code,
                    str(error) if error is not None else None,
                    response.headers.get("retry-after"),
                    body,
                )
                with self._lock:
                    self.answers.append(answer)
                time.sleep(self.pause)
