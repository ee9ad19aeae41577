"""The asynchronous transport: the aiohttp twin of :mod:`pymesync._transport`.

Same contract as :class:`~pymesync._transport.SyncTransport`: one pooled session per owner, the same
connect and read timeouts, no redirects, a single resend of GET/DELETE when a pooled connection turns out
closed, never a resend of a POST, and every failure turned into the same fixed causes (the library's text,
which contains the URL and so the token, never reaches a message).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pymesync._transport import IDEMPOTENT, Timeout, check_url
from pymesync._wire import USER_AGENT, Response
from pymesync.errors import ConnectionFailed, RequestTimeout, TransportError

if TYPE_CHECKING:
    import aiohttp


def _aiohttp() -> Any:
    """aiohttp, imported on first use; it is the optional ``pymesync[async]`` extra."""
    try:
        import aiohttp
    except ImportError:
        raise ImportError(
            "pymesync.AsyncClient needs aiohttp: install it with  pip install 'pymesync[async]'"
        ) from None
    return aiohttp


def transport_failure(exc: BaseException) -> TransportError:
    """Name the cause of an aiohttp/socket failure with the same phrases as the sync transport."""
    aiohttp = _aiohttp()
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return RequestTimeout("connection timed out")
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError, TimeoutError)):
        return RequestTimeout("read timed out")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ConnectionFailed("host not found")
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        return ConnectionFailed("SSL error")
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return ConnectionFailed("connection refused")
        if isinstance(exc.os_error, TimeoutError):
            return RequestTimeout("connection timed out")
        return ConnectionFailed(f"request failed ({type(exc.os_error).__name__})")
    if isinstance(exc, aiohttp.InvalidURL):
        return ConnectionFailed("invalid URL")
    if isinstance(
        exc,
        (
            aiohttp.ServerDisconnectedError,
            aiohttp.ClientPayloadError,
            aiohttp.ClientOSError,
            aiohttp.ClientResponseError,  # a status line or headers that are not HTTP
            ConnectionError,
        ),
    ):
        return ConnectionFailed("connection reset")
    return ConnectionFailed(f"request failed ({type(exc).__name__})")


class AsyncTransport:
    """One aiohttp session (and connection pool) per owner, created on first use in the running loop."""

    def __init__(self, timeout: Timeout, *, max_connections: int = 10) -> None:
        self._timeout = timeout
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        _aiohttp()  # fail at construction, with the install hint, when the extra is missing

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            aiohttp = _aiohttp()
            connect, read = self._timeout
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0),
                timeout=aiohttp.ClientTimeout(
                    total=None, sock_connect=connect, connect=connect, sock_read=read
                ),
                headers={"User-Agent": USER_AGENT},
                auto_decompress=True,
                skip_auto_headers=("Accept-Encoding",),
            )
        return self._session

    async def send(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]) -> Response:
        """Send one request; GET/DELETE are resent once if a pooled connection was found closed."""
        check_url(url)
        try:
            return await self._send_once(method, url, body, headers)
        except ConnectionFailed as exc:
            if exc.cause != "connection reset" or method not in IDEMPOTENT:
                raise
        return await self._send_once(method, url, body, headers)

    async def _send_once(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Response:
        aiohttp = _aiohttp()
        from yarl import URL  # aiohttp's own URL type; ``encoded`` keeps our percent-encoding as it is

        try:
            async with self._client().request(
                method, URL(url, encoded=True), data=body, headers=headers, allow_redirects=False
            ) as raw:
                data = await raw.read()
                return Response(raw.status, raw.headers.get("Content-Type"), data)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as exc:
            raise transport_failure(exc) from None

    async def close(self) -> None:
        """Close pooled connections; a later request opens a new session."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
