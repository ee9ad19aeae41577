"""Query parameters for the list endpoints, normalised the same way for every face."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Final

from pymesync._wire import QueryPairs
from pymesync.errors import ValidationError

TIMES_LIST_KEYS: Final = (
    "activity",
    "end",
    "include_deleted",
    "include_revisions",
    "project",
    "start",
    "user",
)
TIMES_KEYS: Final = frozenset((*TIMES_LIST_KEYS, "uuid"))
FLAGS: Final = ("include_deleted", "include_revisions")


def _one(value: object) -> str:
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)


def filter_values(value: object) -> list[str]:
    """A filter's values: a str or date is one value, a list/tuple gives one per element, None none."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [_one(item) for item in value if item is not None]
    return [_one(value)]


def flag(value: object) -> str:
    """``true``/``false`` by Python truthiness, the only spellings every server reads the same way."""
    return "true" if value else "false"


def times_query(params: Mapping[object, object]) -> tuple[object | None, QueryPairs]:
    """``(uuid or None, pairs)`` for GET /times; the first unknown key is an ``invalid query``."""
    for key in params:
        if key not in TIMES_KEYS:
            raise ValidationError(f"invalid query: {key}")
    uuid = params.get("uuid")
    if uuid:
        return uuid, tuple((key, flag(params[key])) for key in FLAGS if key in params)
    pairs: list[tuple[str, str]] = []
    for key in TIMES_LIST_KEYS:
        if key not in params:
            continue
        if key in FLAGS:
            pairs.append((key, flag(params[key])))
        else:
            pairs.extend((key, v) for v in filter_values(params[key]))
    return None, tuple(pairs)


def slug_query(params: Mapping[object, object]) -> tuple[object | None, QueryPairs]:
    """``(slug or None, pairs)`` for GET /projects or /activities: user filter first, then sorted flags."""
    slug = params.get("slug")
    if slug and "include_deleted" in params:
        raise ValidationError("invalid combination: slug and include_deleted")
    pairs = [("user", v) for v in filter_values(params.get("user"))]
    others = sorted(str(k) for k in params if k not in ("slug", "user"))
    by_name = {str(k): v for k, v in params.items()}
    pairs.extend((key, flag(by_name[key])) for key in others)
    return (slug or None), tuple(pairs)
