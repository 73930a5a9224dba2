"""Requests a relying party sends to its provider (token, UserInfo), with the fetch rules of
:mod:`tessera.resource._fetch`: allowed URLs only, no cookies or environment proxies, a time
and a size limit on the reply. Unlike a metadata fetch, any status comes back (the caller reads
error bodies) and redirects are never followed: a token request or a bearer token must not be
replayed to wherever a ``Location`` points.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tessera.resource._fetch import BodyReader, FetchError, FetchPolicy, check_url, httpx_

if TYPE_CHECKING:
    import httpx

__all__ = ["Reply", "asend", "send"]

# A sign-in makes two or three requests minutes apart from the next, so no connection is kept
# open between them (and none leaks when the event loop that made it is gone).
_HEADERS = {
    "accept": "application/json",
    "connection": "close",
    "accept-encoding": "gzip, deflate, identity",
    "user-agent": "tessera-jwt",
}


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply of any status: lower-cased headers and the decoded, bounded body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def media_type(self) -> str:
        """The Content-Type without parameters, lower-cased."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def _request(
    method: str,
    url: str,
    policy: FetchPolicy,
    form: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
) -> httpx.Request:
    hx = httpx_()
    check_url(url)
    merged = {**_HEADERS, **(headers or {})}
    timeout = hx.Timeout(policy.timeout).as_dict()
    # Built directly (not client.build_request) so the client's cookies are never attached.
    request: httpx.Request = hx.Request(
        method,
        url,
        headers=merged,
        data=dict(form) if form else None,
        extensions={"timeout": timeout},
    )
    return request


def _reader(response: httpx.Response, policy: FetchPolicy) -> BodyReader:
    length = response.headers.get("content-length")
    if length is not None and not length.strip().isdigit():
        raise FetchError("invalid Content-Length")
    encoding = response.headers.get("content-encoding")
    if length is not None and encoding is None and int(length) > policy.max_bytes:
        raise FetchError(f"response larger than {policy.max_bytes} bytes")
    return BodyReader(policy.max_bytes, encoding)


def _complete(response: httpx.Response, policy: FetchPolicy) -> Reply:
    body = response.content
    if len(body) > policy.max_bytes:
        raise FetchError(f"response larger than {policy.max_bytes} bytes")
    return Reply(response.status_code, dict(response.headers.items()), body)


def send(
    client: httpx.Client,
    method: str,
    url: str,
    policy: FetchPolicy,
    *,
    form: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """Send one request and read the reply under ``policy`` (blocking).

    Raises:
        FetchError: transport failure, a body over the limit, or the time limit.
        ConfigurationError: a URL that may not be fetched.
    """
    hx = httpx_()
    deadline = time.monotonic() + policy.timeout
    request = _request(method, url, policy, form, headers)
    try:
        response = client.send(request, stream=True, auth=None)
        try:
            reader = _reader(response, policy)
            if response.is_stream_consumed:  # in-memory transports hand over read bodies
                return _complete(response, policy)
            for chunk in response.iter_raw():
                reader.feed(chunk)
                if time.monotonic() > deadline:
                    raise FetchError("timed out")
            return Reply(response.status_code, dict(response.headers.items()), reader.body())
        finally:
            response.close()
    except (hx.HTTPError, hx.InvalidURL, hx.StreamError) as exc:
        raise FetchError(type(exc).__name__) from None


async def asend(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    policy: FetchPolicy,
    *,
    form: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    """The async twin of :func:`send`.

    Raises:
        FetchError: transport failure, a body over the limit, or the time limit.
        ConfigurationError: a URL that may not be fetched.
    """
    hx = httpx_()
    deadline = time.monotonic() + policy.timeout
    request = _request(method, url, policy, form, headers)
    try:
        response = await client.send(request, stream=True, auth=None)
        try:
            reader = _reader(response, policy)
            if response.is_stream_consumed:
                return _complete(response, policy)
            async for chunk in response.aiter_raw():
                reader.feed(chunk)
                if time.monotonic() > deadline:
                    raise FetchError("timed out")
            return Reply(response.status_code, dict(response.headers.items()), reader.body())
        finally:
            await response.aclose()
    except (hx.HTTPError, hx.InvalidURL, hx.StreamError) as exc:
        raise FetchError(type(exc).__name__) from None
