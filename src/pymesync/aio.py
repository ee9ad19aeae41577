"""``pymesync.AsyncClient``: the asyncio twin of :class:`pymesync.Client`.

Same surface with ``await``: the operations are the very ones of :mod:`pymesync._operations`, driven over the
aiohttp transport (the optional ``pymesync[async]`` extra). ``coll[key]`` returns an awaitable; ``in`` cannot
await, so use ``await coll.contains(key)``.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from pymesync import _operations as ops
from pymesync._async_transport import AsyncTransport
from pymesync._faces import ClientBase, CollectionState, summary_window
from pymesync._operations import Blocking, Exchange, M
from pymesync._wire import Request, Response
from pymesync.errors import TransportError
from pymesync.models import Activity, Project, Time, User

if TYPE_CHECKING:  # bulk creation and the reports load when first used, as in pymesync.client
    from pymesync._bulk import BulkResult
    from pymesync.reports import Summary

__all__ = ["AsyncClient", "AsyncCollection", "AsyncTimeCollection"]

T = TypeVar("T")


class _AsyncDriver:
    """Runs an exchange to its end over the aiohttp transport; CPU-bound steps go to a worker thread."""

    def __init__(self, baseurl: str, transport: AsyncTransport) -> None:
        self._baseurl = baseurl
        self._transport = transport

    async def run(self, exchange: Exchange[T]) -> T:
        step = ops.resume(exchange, None)
        while not isinstance(step, ops.Done):
            if isinstance(step, Blocking):
                outcome = await asyncio.to_thread(step.run)
            else:
                outcome = await self._send(step)
            step = ops.resume(exchange, outcome)
        return step.value

    async def _send(self, request: Request) -> Response | TransportError:
        """The response, or the transport failure for :func:`~pymesync._operations.resume` to throw in."""
        try:
            return await self._transport.send(
                request.method, request.url(self._baseurl), request.body, request.headers
            )
        except TransportError as exc:
            return exc


class AsyncCollection(CollectionState[_AsyncDriver, M]):
    """The objects of one kind; see :class:`pymesync.client.Collection` (the same methods, awaited)."""

    def __call__(self, **filters: Any) -> AsyncCollection[M]:
        return type(self)(self._driver, self._session, self._kind, self._merged(filters))

    async def __aiter__(self) -> AsyncIterator[M]:
        pager = ops.Pager(self._kind, self._filters)
        while not pager.done:
            for item in await self._driver.run(pager.next_page(self._session)):
                yield item

    async def list(self, **filters: Any) -> list[M]:
        return await self._driver.run(ops.list_all(self._session, self._kind, self._merged(filters)))

    async def get(self, ident: str | M, **flags: bool) -> M:
        return await self._driver.run(ops.get(self._session, self._kind, ident, flags))

    def __getitem__(self, ident: str | M) -> Awaitable[M]:
        return self.get(ident)

    async def contains(self, ident: str | M) -> bool:
        return await self._driver.run(ops.exists(self._session, self._kind, ident))

    async def create(self, item: M | Mapping[str, Any] | None = None, /, **fields: Any) -> M:
        merged = self._create_fields(item, fields)
        return await self._driver.run(ops.create(self._session, self._kind, merged))

    async def update(self, ident: str | M, *, if_revision: int | None = None, **changes: Any) -> M:
        return await self._driver.run(ops.update(self._session, self._kind, ident, changes, if_revision))

    async def delete(self, ident: str | M, *, if_revision: int | None = None) -> None:
        await self._driver.run(ops.delete(self._session, self._kind, ident, if_revision))

    async def changes(
        self, since: str | None = None, held: Mapping[str, M] | Iterable[M] = ()
    ) -> ops.Changes[M]:
        return await self._driver.run(ops.changes(self._session, self._kind, since, self._held(held)))

    async def iter_changes(
        self, since: str | None = None, held: Mapping[str, M] | Iterable[M] = ()
    ) -> AsyncIterator[ops.Changes[M]]:
        reader = ops.ChangesReader(self._kind, since, self._held(held))
        while not reader.done:
            yield await self._driver.run(reader.next_page(self._session))


async def _aiter_items(items: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


class AsyncTimeCollection(AsyncCollection[Time]):
    """Times, plus bulk creation and summaries."""

    def create_many(
        self,
        items: Iterable[Time | Mapping[str, Any]] | AsyncIterable[Time | Mapping[str, Any]],
        *,
        concurrency: int = 8,
    ) -> AsyncIterator[BulkResult[Time]]:
        """Create many times, ``concurrency`` at once, yielding results in input order (see the sync form)."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        return self._create_many(items, concurrency)

    async def _create_many(
        self,
        items: Iterable[Time | Mapping[str, Any]] | AsyncIterable[Time | Mapping[str, Any]],
        concurrency: int,
    ) -> AsyncIterator[BulkResult[Time]]:
        from pymesync import _bulk

        await self._driver.run(self._session.ready())
        claims = _bulk.Claims()
        slots = asyncio.Semaphore(concurrency)

        async def one(index: int, item: object) -> BulkResult[Time]:
            async with slots:
                return await self._driver.run(_bulk.create_time_once(self._session, index, item, claims))

        pending: collections.deque[asyncio.Task[BulkResult[Time]]] = collections.deque()
        try:
            index = 0
            async for item in _aiter_items(items):
                pending.append(asyncio.create_task(one(index, item)))
                index += 1
                if len(pending) >= _bulk.READ_AHEAD * concurrency:
                    yield await pending.popleft()
            while pending:
                yield await pending.popleft()
        finally:
            for task in pending:
                task.cancel()

    async def summary(
        self,
        start: datetime.date | str,
        end: datetime.date | str,
        by: Sequence[str] = ("project",),
        **filters: Any,
    ) -> Summary:
        from pymesync.reports import summarize

        return summarize(await self.list(**filters, **summary_window(start, end)), by)


class AsyncClient(ClientBase[_AsyncDriver]):
    """An asyncio TimeSync client with the same arguments and behaviour as :class:`pymesync.Client`.

    Use ``async with AsyncClient(...) as client:`` or ``await client.aclose()``.
    """

    times: AsyncTimeCollection
    projects: AsyncCollection[Project]
    activities: AsyncCollection[Activity]
    users: AsyncCollection[User]
    _collection_class = AsyncCollection
    _time_collection_class = AsyncTimeCollection

    def _open(self, max_connections: int) -> _AsyncDriver:
        self._transport = AsyncTransport(self.timeout, max_connections=max_connections)
        return _AsyncDriver(self.baseurl, self._transport)

    async def login(self) -> None:
        await self._driver.run(self._session.login())

    async def aclose(self) -> None:
        await self._transport.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
