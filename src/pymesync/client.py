"""``pymesync.Client``: the blocking pythonic client.

Typed models, exceptions, dict-like collections. Every operation is defined once in
:mod:`pymesync._operations`; this module only drives it over the kept-alive ``http.client`` transport.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from pymesync import _operations as ops
from pymesync._faces import ClientBase, CollectionState, summary_window
from pymesync._operations import Blocking, Exchange, M
from pymesync._transport import SyncTransport
from pymesync._wire import Request, Response
from pymesync.errors import TransportError
from pymesync.models import Activity, Project, Time, User

if TYPE_CHECKING:  # the thread pool, bulk creation and the reports load when first used: a command line
    import concurrent.futures  # starts faster

    from pymesync._bulk import BulkResult
    from pymesync.reports import Summary

__all__ = ["Client", "Collection", "TimeCollection"]

T = TypeVar("T")


class _Driver:
    """Runs an exchange to its end over the blocking transport."""

    def __init__(self, baseurl: str, transport: SyncTransport) -> None:
        self._baseurl = baseurl
        self._transport = transport

    def run(self, exchange: Exchange[T]) -> T:
        step = ops.resume(exchange, None)
        while not isinstance(step, ops.Done):
            outcome = step.run() if isinstance(step, Blocking) else self._send(step)
            step = ops.resume(exchange, outcome)
        return step.value

    def _send(self, request: Request) -> Response | TransportError:
        """The response, or the transport failure for :func:`~pymesync._operations.resume` to throw in."""
        try:
            return self._transport.send(
                request.method, request.url(self._baseurl), request.body, request.headers
            )
        except TransportError as exc:
            return exc


class Collection(CollectionState[_Driver, M]):
    """The objects of one kind, used like a dict keyed by uuid, slug or username.

    ``coll[key]`` and ``key in coll`` fetch one object; iterating reads the list page by page; calling the
    collection with keyword filters gives a filtered view (``client.times(user="bob", start=day)``).
    """

    def __call__(self, **filters: Any) -> Collection[M]:
        return type(self)(self._driver, self._session, self._kind, self._merged(filters))

    def __iter__(self) -> Iterator[M]:
        pager = ops.Pager(self._kind, self._filters)
        while not pager.done:
            yield from self._driver.run(pager.next_page(self._session))

    def list(self, **filters: Any) -> list[M]:
        """Every object that matches this view's filters and ``filters``, read in full."""
        return self._driver.run(ops.list_all(self._session, self._kind, self._merged(filters)))

    def get(self, ident: str | M, **flags: bool) -> M:
        """One object by identifier; ``include_revisions``/``include_deleted`` where the API allows them."""
        return self._driver.run(ops.get(self._session, self._kind, ident, flags))

    def __getitem__(self, ident: str | M) -> M:
        return self.get(ident)

    def contains(self, ident: str | M) -> bool:
        return self._driver.run(ops.exists(self._session, self._kind, ident))

    def __contains__(self, ident: object) -> bool:
        return isinstance(ident, (str, self._kind.model)) and self.contains(ident)

    def create(self, item: M | Mapping[str, Any] | None = None, /, **fields: Any) -> M:
        """Create from a model, a mapping and/or keyword fields; returns what the server stored."""
        merged = self._create_fields(item, fields)
        return self._driver.run(ops.create(self._session, self._kind, merged))

    def update(self, ident: str | M, *, if_revision: int | None = None, **changes: Any) -> M:
        """Change the given fields only (send just what changes: the API rejects some unchanged values).

        With ``if_revision``, only while the object is still at that revision; else
        :class:`~pymesync.errors.RevisionConflictError` and nothing is written.
        """
        return self._driver.run(ops.update(self._session, self._kind, ident, changes, if_revision))

    def delete(self, ident: str | M, *, if_revision: int | None = None) -> None:
        """Delete; with ``if_revision``, only while the object is still at that revision."""
        self._driver.run(ops.delete(self._session, self._kind, ident, if_revision))

    def changes(self, since: str | None = None, held: Mapping[str, M] | Iterable[M] = ()) -> ops.Changes[M]:
        """What changed since the token of the previous call (everything without one).

        On servers without the changes feed, the full list compared with ``held`` (what you keep).
        """
        return self._driver.run(ops.changes(self._session, self._kind, since, self._held(held)))

    def iter_changes(
        self, since: str | None = None, held: Mapping[str, M] | Iterable[M] = ()
    ) -> Iterator[ops.Changes[M]]:
        """The same as :meth:`changes`, a page at a time (a first read of many objects comes in pages);
        the last page's ``token`` is the one to keep."""
        reader = ops.ChangesReader(self._kind, since, self._held(held))
        while not reader.done:
            yield self._driver.run(reader.next_page(self._session))

    def __delitem__(self, ident: str | M) -> None:
        self.delete(ident)


class TimeCollection(Collection[Time]):
    """Times, plus bulk creation and summaries."""

    def create_many(
        self, items: Iterable[Time | Mapping[str, Any]], *, concurrency: int = 8
    ) -> Iterator[BulkResult[Time]]:
        """Create many times with ``concurrency`` requests in flight, yielding one result per item in order.

        A failed item is reported in its result and the others go on. A create that times out is looked
        up on the server before it is sent again, so no entry is created twice.
        """
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        return self._create_many(items, concurrency)

    def _create_many(
        self, items: Iterable[Time | Mapping[str, Any]], concurrency: int
    ) -> Iterator[BulkResult[Time]]:
        import collections
        import concurrent.futures

        from pymesync import _bulk

        self._driver.run(self._session.ready())
        claims = _bulk.Claims()
        pool = concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="pymesync-bulk")
        pending: collections.deque[concurrent.futures.Future[BulkResult[Time]]] = collections.deque()
        try:
            for index, item in enumerate(items):
                exchange = _bulk.create_time_once(self._session, index, item, claims)
                pending.append(pool.submit(self._driver.run, exchange))
                if len(pending) >= _bulk.READ_AHEAD * concurrency:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def summary(
        self,
        start: datetime.date | str,
        end: datetime.date | str,
        by: Sequence[str] = ("project",),
        **filters: Any,
    ) -> Summary:
        """Total time from ``start`` to ``end`` (inclusive) per group; see :mod:`pymesync.reports`."""
        from pymesync.reports import summarize

        return summarize(self.list(**filters, **summary_window(start, end)), by)


class Client(ClientBase[_Driver]):
    """A blocking TimeSync client.

    ``baseurl`` includes the API version (``https://timesync.example.com/v1``). With ``username`` and
    ``password`` it logs in on first use and again whenever the token expires or is rejected; with only a
    ``token`` it uses that token until the server refuses it. ``password`` may be a function returning it,
    called only when a login is needed (so a saved token spares reading a keyring). ``timeout`` is seconds,
    one number or a ``(connect, read)`` pair. Use it as a context manager, or call :meth:`close`, to
    release connections.
    """

    times: TimeCollection
    projects: Collection[Project]
    activities: Collection[Activity]
    users: Collection[User]
    _collection_class = Collection
    _time_collection_class = TimeCollection

    def _open(self, max_connections: int) -> _Driver:
        self._transport = SyncTransport(self.timeout, maxsize=max_connections)
        return _Driver(self.baseurl, self._transport)

    def login(self) -> None:
        """Log in now instead of on first use (to check the credentials early)."""
        self._driver.run(self._session.login())

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
