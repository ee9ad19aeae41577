"""Input checks of API doc §7, each linear in the input and capped in length before any pattern runs."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

#: Longest value a ``varchar(255)`` column of the reference schema holds.
MAX_VARCHAR = 255
#: Longest email address (RFC 5321 path limit).
MAX_EMAIL = 254

_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_LENIENT_SLUG = re.compile(r"[A-Za-z0-9_-]+")
_USERNAME = re.compile(r"[A-Za-z0-9_~-]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_TLD = re.compile(r"[A-Za-z]{2,63}")
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_TIME_SUFFIX = re.compile(r"[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?", re.ASCII)


def is_storable(value: str) -> bool:
    """True when every database accepts the string (PostgreSQL refuses NUL characters)."""
    return "\x00" not in value


def is_slug(value: str) -> bool:
    """The strict slug rule (7.1): lowercase groups joined by single hyphens, with a letter."""
    return (
        len(value) <= MAX_VARCHAR
        and _SLUG.fullmatch(value) is not None
        and any("a" <= c <= "z" for c in value)
    )


def is_lenient_slug(value: str) -> bool:
    """The URL check of GET /projects/:slug and /activities/:slug (7.1)."""
    return len(value) <= MAX_VARCHAR and _LENIENT_SLUG.fullmatch(value) is not None


def is_username(value: str) -> bool:
    """Usernames as the reference accepts them (7.2): letters, digits, ``_``, ``~`` and ``-``."""
    return len(value) <= MAX_VARCHAR and _USERNAME.fullmatch(value) is not None


def is_uuid(value: str) -> bool:
    """8-4-4-4-12 hex digits in any case; the version digit is not checked (7.3)."""
    return len(value) == 36 and _UUID.fullmatch(value) is not None


def is_email(value: str) -> bool:
    """A plain ``local@domain.tld`` check (7.5 Rec), linear and capped at 254 characters."""
    if len(value) > MAX_EMAIL or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    if _EMAIL_LOCAL.fullmatch(local) is None or local.startswith(".") or local.endswith("."):
        return False
    labels = domain.split(".")
    if len(labels) < 2 or _TLD.fullmatch(labels[-1]) is None:
        return False
    return all(_DOMAIN_LABEL.fullmatch(label) is not None for label in labels)


def is_http_uri(value: str) -> bool:
    """An absolute http(s) URI with a host and only legal characters (7.6)."""
    if len(value) > MAX_VARCHAR or _URI_CHARS.fullmatch(value) is None:
        return False
    if _BAD_PERCENT.search(value) is not None:
        return False
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.hostname) and (port is None or port > 0)


def parse_date(value: str) -> dt.date | None:
    """``YYYY-MM-DD``, optionally followed by a time part; the UTC date, or None if invalid (7.4)."""
    if len(value) > 64:
        return None
    head = _DATE.match(value)
    if head is None:
        return None
    try:
        day = dt.date(int(head[1]), int(head[2]), int(head[3]))
    except ValueError:
        return None
    rest = value[head.end() :]
    if not rest:
        return day
    clock = _TIME_SUFFIX.fullmatch(rest)
    if clock is None:
        return None
    hour, minute, second = int(clock[1]), int(clock[2]), int(clock[3] or 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    offset = dt.timedelta()
    zone = clock[4]
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        if int(digits[:2]) > 23 or int(digits[2:]) > 59:
            return None
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if zone[0] == "-":
            offset = -offset
    try:
        moment = dt.datetime.combine(day, dt.time(hour, minute, second)) - offset
    except OverflowError:  # before 0001-01-01 or after 9999-12-31 in UTC
        return None
    return moment.date()


def find_date(value: str) -> tuple[bool, dt.date | None]:
    """The lenient ``start``/``end`` rule (5.1.1).

    Returns ``(acceptable, date)``: no ``dddd-dd-dd`` in the value is an error for the caller,
    and so is 9999-12-31, the last day there is (an inclusive ``end`` becomes the following
    midnight); a pattern that is not a real date is ignored (``date`` is None).
    """
    found = _DATE.search(value[:256])
    if found is None:
        return False, None
    try:
        day = dt.date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return True, None
    return (False, None) if day == dt.date.max else (True, day)


def json_type(value: object) -> str:
    """The JavaScript-flavoured type word the error texts use (``array``, ``null``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def js_typeof(value: object) -> str:
    """JavaScript's ``typeof``: arrays and null are ``object``."""
    kind = json_type(value)
    return "object" if kind in {"array", "null"} else kind


def is_truthy(value: object) -> bool:
    """JavaScript truthiness of a JSON value (``[]`` and ``{}`` are truthy)."""
    if isinstance(value, (list, dict)):
        return True
    return bool(value)
