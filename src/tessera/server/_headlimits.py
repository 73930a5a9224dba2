"""Bounds on the request head (request line and header fields), like the body's 16 KB, in
size and in time.

uvicorn's httptools protocol reads a head of any size: httptools has no limit of its own (h11
has ``h11_max_incomplete_event_size``, but parses in pure Python). This
protocol counts what a client sends until its head is complete and refuses, before the app
sees anything:

* one header field (name and value) longer than ``line`` bytes, or a head longer than
  ``total`` bytes (many small fields count together): ``431 Request Header Fields Too Large``
  (RFC 6585 sec. 5);
* a request target longer than ``total`` bytes: ``414 URI Too Long`` (the endpoints bound
  their queries further: ``/authorize`` at 8 KB, ``/logout`` at 12 KB);
* a head still incomplete ``timeout`` seconds after its first byte (or a new connection
  that sent nothing for that long, closed without an answer): ``408 Request Timeout``, so
  slow clients cannot hold connections open indefinitely (uvicorn's keep-alive timeout only
  covers the wait between requests).

The answer is an RFC 6749-shaped JSON ``invalid_request`` naming the limit, and the connection
is closed. Bytes are counted as they arrive, so a client trickling an endless head is cut off
at ``total`` bytes, or at ``timeout``, whichever comes first.
"""

from __future__ import annotations

import asyncio
import functools
import http
import json
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HeadLimits", "LimitedHttpToolsProtocol", "protocol"]

logger = logging.getLogger("tessera.server")
LINGER = 2.0
"""Seconds a refused connection is still read (and dropped) before it is closed."""


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """The largest request head accepted, in bytes, and how long it may take to arrive."""

    total: int
    """Request line and every header field together."""
    line: int
    """One header field, name and value."""
    timeout: float
    """Seconds from a connection's opening or a head's first byte to its end."""


class _Refused(Exception):
    """Raised inside a parser callback to stop parsing an oversized head."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`HeadLimits` (``limits``) enforced."""

    def __init__(self, *args: Any, limits: HeadLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits
        self._head: int | None = 0
        """Bytes of the current request head received so far; None once it is complete."""
        self._refusal: tuple[int, str] | None = None
        self._refused = False
        self._linger: asyncio.TimerHandle | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._begun = False
        """A request head has begun (its first byte was parsed) and is not complete."""

    def data_received(self, data: bytes) -> None:
        if self._refused:  # answered: drop the rest (see _refuse)
            return
        if self._head is None:  # a body, or the answer is on its way
            super().data_received(data)
            return
        room = self._limits.total - self._head
        if len(data) <= room:
            self._head += len(data)
            super().data_received(data)
            return
        # Parse what still fits: the head may end within it, and the rest is body.
        if room > 0:
            self._head += room
            super().data_received(data[:room])
            if self.transport.is_closing():
                return
        if self._head is not None:
            if 2 * len(getattr(self, "url", b"")) > self._head:  # mostly request target
                self._refuse(414, f"the request target exceeds {self._limits.total} bytes")
            else:
                total = self._limits.total
                self._refuse(431, f"the request line and headers exceed {total} bytes")
            return
        super().data_received(data[room:])

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        if self._head is None:  # a keep-alive connection's next request
            self._head = 0
            self._arm()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self._limits.total:
            self._stop(414, f"the request target exceeds {self._limits.total} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) + len(value) + 2 > self._limits.line:
            self._stop(431, f"a header field exceeds {self._limits.line} bytes")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        # Exact size (a pipelined request may have begun inside an uncounted chunk).
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self._limits.total:
            self._stop(431, f"the request line and headers exceed {self._limits.total} bytes")
        self._head = None
        self._begun = False
        self._disarm()
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to a parse error, which is how a callback's _Refused comes out.
        if self._refusal is not None:
            self._refuse(*self._refusal)
        else:
            super().send_400_response(msg)

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self._limits.timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self._head is None or self._refused or self.transport.is_closing():
            return
        if not self._begun:  # an idle new connection: nothing to answer
            self.transport.close()
            return
        self._refuse(408, f"the request head did not arrive within {self._limits.timeout:g} s")

    def _stop(self, status: int, description: str) -> None:
        self._refusal = (status, description)
        raise _Refused(description)

    def _refuse(self, status: int, description: str) -> None:
        logger.warning("request refused (%d): %s", status, description)
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head while the previous request is answered: no room for ours.
            self.transport.close()
            return
        error = {"error": "invalid_request", "error_description": description}
        body = json.dumps(error, separators=(",", ":"))
        phrase = http.HTTPStatus(status).phrase
        head = (
            f"HTTP/1.1 {status} {phrase}\r\n"
            "content-type: application/json\r\n"
            "cache-control: no-store\r\n"
            f"content-length: {len(body)}\r\n"
            "connection: close\r\n\r\n"
        )
        self.transport.write(head.encode("ascii") + body.encode("ascii"))
        # Lingering close: closing now, with the client still sending, would answer its
        # bytes with a TCP reset, and a reset makes the client's kernel drop our answer
        # unread. Say we are done, read and drop what still comes, close at its end of
        # stream (eof_received) or after LINGER seconds.
        self._refused = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER, self.transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        self._disarm()
        super().connection_lost(exc)


def protocol(limits: HeadLimits) -> Any:
    """uvicorn's ``http`` option: this protocol with ``limits`` (picklable: worker processes
    receive it)."""
    return functools.partial(LimitedHttpToolsProtocol, limits=limits)
