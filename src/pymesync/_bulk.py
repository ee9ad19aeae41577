"""``create_many``'s steps, without I/O: one time created never twice, and the results of a batch.

Loaded by ``create_many`` only (and for :class:`BulkResult`): every other operation, and so every command
line run, does without it. Its steps are exchanges like those of :mod:`pymesync._operations`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final, Generic

from pymesync import _wire
from pymesync._operations import TIMES, Exchange, M, Session, fields_of, list_all, prepare
from pymesync.errors import ConnectionFailed, RequestTimeout, TimeSyncError, ValidationError
from pymesync.models import ByFieldValues, Time

#: Items ``create_many`` keeps in progress or finished-but-not-yet-yielded, per unit of concurrency: results
#: leave in input order, so a slow item holds the ones after it, and this much slack keeps the others busy.
READ_AHEAD: Final = 32
#: Causes of a failed POST after which the server may have stored it (the request may have arrived).
_MAYBE_ARRIVED: Final = frozenset({"read timed out", "connection reset"})


@dataclasses.dataclass(frozen=True, eq=False)  # compared by ByFieldValues
class BulkResult(ByFieldValues, Generic[M]):
    """The outcome of one item of ``create_many``, in input order.

    ``recovered`` is True when the create timed out but the entry was then found on the server, so it was
    not sent again.
    """

    index: int
    item: object
    value: M | None = None
    error: TimeSyncError | None = None
    recovered: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class Claims:
    """Uuids this batch already accounts for, so two timed-out items never claim the same stored entry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uuids: set[str] = set()

    def add(self, uuid: str | None) -> None:
        if uuid is not None:
            with self._lock:
                self._uuids.add(uuid)

    def claim_first(self, candidates: Iterable[Time]) -> Time | None:
        with self._lock:
            for candidate in candidates:
                if candidate.uuid is not None and candidate.uuid not in self._uuids:
                    self._uuids.add(candidate.uuid)
                    return candidate
        return None


def _same_entry(sent: Mapping[str, Any], stored: Time) -> bool:
    """Whether ``stored`` is what creating ``sent`` produces (revision 1, every sent field equal)."""
    if stored.revision not in (None, 1) or stored.deleted_at is not None:
        return False
    if stored.duration != sent["duration"] or stored.user != sent["user"]:
        return False
    if stored.date_worked is None or stored.date_worked.isoformat() != str(sent["date_worked"])[:10]:
        return False
    if (stored.notes or None) != (sent.get("notes") or None):
        return False
    if (stored.issue_uri or None) != (sent.get("issue_uri") or None):
        return False
    return "activities" not in sent or sorted(stored.activities) == sorted(sent["activities"])


def _find_stored(session: Session, sent: Mapping[str, Any], claims: Claims) -> Exchange[Time | None]:
    """Look for an unclaimed entry identical to ``sent`` (GET /times filtered by user, project and day)."""
    day = str(sent["date_worked"])[:10]
    filters = {"user": sent["user"], "project": sent["project"], "start": day, "end": day}
    try:
        candidates = yield from list_all(session, TIMES, filters)
    except ValidationError:  # "no such project/user": nothing can have been stored
        return None
    return claims.claim_first(candidate for candidate in candidates if _same_entry(sent, candidate))


def create_time_once(
    session: Session, index: int, item: object, claims: Claims, attempts: int = 3
) -> Exchange[BulkResult[Time]]:
    """Create one time, never twice: after a failure that may have reached the server, look before resending.

    Errors are returned in the result rather than raised, so one bad item never stops a batch.
    """
    try:
        obj = prepare(session, TIMES, fields_of(TIMES, item), create=True)
        attempt = 1
        while True:
            try:
                data = yield from session.call(lambda token: _wire.post("times", token, obj))
            except (RequestTimeout, ConnectionFailed) as exc:
                if exc.cause not in _MAYBE_ARRIVED:
                    raise
                found = yield from _find_stored(session, obj, claims)
                if found is not None:
                    return BulkResult(index, item, found, recovered=True)
                if attempt >= attempts:
                    raise
                attempt += 1
                continue
            created = Time.from_dict(data)
            claims.add(created.uuid)
            return BulkResult(index, item, created)
    except TimeSyncError as exc:
        return BulkResult(index, item, error=exc)
