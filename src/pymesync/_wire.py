"""The TimeSync wire format, without I/O.

Everything about *what* goes over the wire lives here: URL paths, percent-encoding, where the token
goes (query string for GET/DELETE, ``auth`` object for POST), JSON bodies, and how a raw response
becomes data. Transports only move bytes; the legacy face, the sync client and the async client all
build their requests and read their responses through this module.
"""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeGuard

USER_AGENT: Final = "pymesync/1.0"
JSON_HEADERS: Final = {"Content-Type": "application/json", "Accept": "application/json"}
PLAIN_HEADERS: Final = {"Accept": "application/json"}

QueryPairs = tuple[tuple[str, str], ...]


#: RFC 3986's unreserved characters: what percent-encoding keeps as it is.
_UNRESERVED: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def enc(value: object) -> str:
    """Percent-encode ``str(value)`` as UTF-8, keeping only RFC 3986 unreserved characters (space is %20).

    What ``urllib.parse.quote(text, safe="")`` gives (a test holds it to that), without importing it:
    1.5 ms of every command line run, ipaddress with it. A lone surrogate (possible in a Python str,
    impossible in UTF-8) is encoded as its raw bytes rather than raising: the server then answers with
    its own error for an id it cannot read.
    """
    text = str(value)
    if not text.strip(_UNRESERVED):  # nothing to encode (uuids, slugs)
        return text
    raw = text.encode("utf-8", "surrogatepass").decode("latin-1")  # one character per byte
    return raw.translate({ord(char): f"%{ord(char):02X}" for char in set(raw).difference(_UNRESERVED)})


def encode_query(pairs: Iterable[tuple[str, str]]) -> str:
    """``key=value`` pairs joined by ``&``, both sides percent-encoded, in the given order."""
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs)


class Request:
    """One HTTP request, relative to the API base URL (which includes the version, e.g. ``/v1``).

    The query and body are left out of the repr: they carry the token or the login password. A plain class
    (as :class:`Response`): a dataclass costs a few hundred microseconds to create at import, paid by every
    command line run.
    """

    __slots__ = ("body", "extra_headers", "method", "path", "query")

    def __init__(
        self,
        method: str,
        path: str,
        query: QueryPairs = (),
        body: bytes | None = None,
        extra_headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.body = body
        #: request headers beyond the JSON ones (``If-Match``)
        self.extra_headers = extra_headers

    def __repr__(self) -> str:
        return f"Request(method={self.method!r}, path={self.path!r}, extra_headers={self.extra_headers!r})"

    def url(self, base: str) -> str:
        """The absolute URL of this request under ``base``."""
        if self.query:
            return f"{base}{self.path}?{encode_query(self.query)}"
        return f"{base}{self.path}"

    @property
    def headers(self) -> Mapping[str, str]:
        base = JSON_HEADERS if self.body is not None else PLAIN_HEADERS
        return {**base, **dict(self.extra_headers)} if self.extra_headers else base

    def if_match(self, revision: int) -> Request:
        """This request, applied by the server only while the object is at ``revision`` (412 otherwise)."""
        headers = (*self.extra_headers, ("If-Match", f'"{revision}"'))
        return Request(self.method, self.path, self.query, self.body, headers)


class Response:
    """What a transport hands back: the status, the ``Content-Type`` header and the whole body.

    The body is left out of the repr: a login response carries the new token.
    """

    __slots__ = ("body", "content_type", "status")

    def __init__(self, status: int, content_type: str | None, body: bytes) -> None:
        self.status = status
        self.content_type = content_type
        self.body = body

    def __repr__(self) -> str:
        return f"Response(status={self.status!r}, content_type={self.content_type!r})"


def path_for(collection: str, ident: object = None) -> str:
    """``/collection`` or ``/collection/<enc(ident)>``."""
    if ident is None:
        return f"/{collection}"
    return f"/{collection}/{enc(ident)}"


def _reject_nan(value: str) -> float:
    raise ValueError(f"{value} is not valid JSON")


def dumps(obj: object) -> bytes:
    """Compact, strict JSON: NaN/Infinity raise ValueError (no JSON parser reads them), and
    non-ASCII is escaped so that even lone surrogates encode."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("ascii")


def is_json_serializable(value: object) -> bool:
    """True when ``value`` encodes as strict JSON (used to name the offending field locally)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return False
    return True


def get(collection: str, token: str, ident: object = None, params: QueryPairs = ()) -> Request:
    """GET with the token as the last query parameter, as the API mandates."""
    return Request("GET", path_for(collection, ident), (*params, ("token", token)))


def delete(collection: str, token: str, ident: object) -> Request:
    return Request("DELETE", path_for(collection, ident), (("token", token),))


def post(collection: str, token: str, obj: object, ident: object = None) -> Request:
    """Create (no ident) or update (ident) with the token inside the body's ``auth`` object."""
    body = {"auth": {"type": "token", "token": token}, "object": obj}
    return Request("POST", path_for(collection, ident), body=dumps(body))


def server_description() -> Request:
    """``GET /`` under the API base: what a pymesync server offers beyond the API (404 elsewhere)."""
    return Request("GET", "")


def changes(collection: str, token: str, since: str | None) -> Request:
    """``GET /changes/<collection>``: what changed since ``since`` (everything without it)."""
    params: QueryPairs = (("since", since),) if since is not None else ()
    return Request("GET", f"/changes/{collection}", (*params, ("token", token)))


def login(username: object, password: object, auth_type: object) -> Request:
    body = {"auth": {"type": auth_type, "username": username, "password": password}}
    return Request("POST", "/login", body=dumps(body))


class _NotJson:
    """Marker for a body that is empty or not JSON."""

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON: Final = _NotJson()


def _charset(content_type: str | None) -> str:
    if content_type:
        for part in content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                name = value.strip().strip('"')
                try:
                    return codecs.lookup(name).name
                except LookupError:
                    return "utf-8"
    return "utf-8"


def parse_body(response: Response) -> Any:
    """The body as JSON whatever the status and Content-Type, or :data:`NOT_JSON`.

    The reference server sends JSON as ``text/html`` on several endpoints, so the Content-Type cannot
    be trusted; a BOM is ignored. Floats that are not finite never appear (the parser rejects them).
    """
    if not response.body:
        return NOT_JSON
    try:
        text = response.body.decode(_charset(response.content_type))
        return json.loads(text.lstrip("\ufeff"), parse_constant=_reject_nan)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return NOT_JSON


def is_error_object(data: object) -> bool:
    """A TimeSync error object: a JSON object with an ``error`` key."""
    return isinstance(data, dict) and "error" in data


def finite_number(value: object) -> TypeGuard[int | float]:
    """A real, finite JSON number: an int or float that is not a bool, NaN or infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
