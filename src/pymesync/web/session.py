"""The web page's session: a signed cookie naming who signed in and when, and the CSRF token of
every form.

Our own HMAC-SHA256 cookie rather than Starlette's SessionMiddleware: it needs no further package
(itsdangerous), its key is derived from the server's signing secret (so every worker and host
that accepts the API's tokens accepts the page's sessions, and rotating the secret ends both),
and it carries exactly the moment of sign-in that :func:`context.caller_signed_in` compares with
the last password change, so a session ends as an API token does: when the user is deleted or
changes the password. Signing out ends it too, on the server and not only in the browser: the
session's random id goes into ``pymesync_ended_sessions``, so a copy of the cookie taken before is
refused by every worker and host. The API token itself is never put in the cookie or the page.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from starlette.requests import Request
from starlette.responses import Response

from pymesync.server import schema, storage
from pymesync.server.context import Config

COOKIE = "timesync_session"
#: A session ends this long after sign-in, whatever happens in between.
LIFETIME_SECONDS = 12 * 3600
CSRF_FIELD = "csrf"
_KEY_LABEL = b"pymesync web session v1"


@dataclasses.dataclass(frozen=True)
class Session:
    """What the cookie says: the CSRF token, and who signed in at which epoch millisecond under
    which random session id (all None before sign-in)."""

    csrf: str
    username: str | None = None
    signed_in_at: int | None = None
    expires: int = 0
    session_id: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.username is not None and self.signed_in_at is not None and self.session_id is not None


def _key(config: Config) -> bytes:
    return hmac.new(config.secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(config: Config, session: Session) -> str:
    payload = _b64(
        json.dumps(
            {
                "c": session.csrf,
                "u": session.username,
                "t": session.signed_in_at,
                "e": session.expires,
                "s": session.session_id,
            },
            separators=(",", ":"),
        ).encode("utf-8")
    )
    signature = _b64(hmac.new(_key(config), payload.encode("ascii"), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def decode(config: Config, cookie: str | None, now: float | None = None) -> Session | None:
    """The session a cookie holds, if its signature is ours and it has not expired; else None."""
    if not cookie or len(cookie) > 4096 or cookie.count(".") != 1:
        return None
    payload, signature = cookie.split(".")
    expected = _b64(hmac.new(_key(config), payload.encode("ascii", "replace"), hashlib.sha256).digest())
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        return None
    try:
        data: Any = json.loads(_unb64(payload))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(data, dict):
        return None
    csrf, username, signed_in_at, expires = data.get("c"), data.get("u"), data.get("t"), data.get("e")
    session_id = data.get("s")
    if not isinstance(csrf, str) or not isinstance(expires, int):
        return None
    if expires < (time.time() if now is None else now):
        return None
    # a sign-in without a session id (made before sign-out could end it on the server) counts as none
    if not (isinstance(username, str) and isinstance(signed_in_at, int) and isinstance(session_id, str)):
        username = signed_in_at = session_id = None
    return Session(csrf, username, signed_in_at, expires, session_id)


def anonymous() -> Session:
    """A fresh session before sign-in: only the CSRF token of the sign-in form."""
    return Session(secrets.token_urlsafe(24), expires=int(time.time()) + LIFETIME_SECONDS)


def signed_in(username: str, at_ms: int) -> Session:
    """The session of a sign-in; a new CSRF token, so one seen before sign-in is worth nothing after."""
    expires = int(at_ms / 1000) + LIFETIME_SECONDS
    return Session(secrets.token_urlsafe(24), username, at_ms, expires, secrets.token_urlsafe(24))


def end(config: Config, ended: Session) -> None:
    """Refuse ``ended``'s cookie from now on, wherever it is sent from (signing out); and forget the
    sessions that have expired anyway."""
    if ended.session_id is None:
        return
    table = schema.ended_sessions
    with storage.transaction(config.engine, write=True) as connection:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        record = dialect.insert(table).values(session_id=ended.session_id, expires_at=ended.expires)
        connection.execute(record.on_conflict_do_nothing(index_elements=[table.c.session_id]))
        connection.execute(sa.delete(table).where(table.c.expires_at < int(time.time())))


def has_ended(connection: Connection, found: Session) -> bool:
    """Whether ``found`` was signed out (its cookie may have been copied before)."""
    table = schema.ended_sessions
    query = sa.select(table.c.session_id).where(table.c.session_id == found.session_id)
    return connection.execute(query).first() is not None


def is_https(request: Request, config: Config) -> bool:
    """Whether the browser reached us over HTTPS: directly, or through a trusted proxy that says so
    (``X-Forwarded-Proto``; the same ``--forwarded-allow-ips`` list the login throttle trusts)."""
    if request.url.scheme == "https":
        return True
    try:
        peer = ipaddress.ip_address(request.client.host if request.client is not None else "")
    except ValueError:
        return False
    if not any(peer in network for network in config.trusted_proxies):
        return False
    proto = request.headers.get("x-forwarded-proto", "")
    return proto.split(",")[-1].strip().lower() == "https"


def store(response: Response, request: Request, config: Config, session: Session) -> None:
    """Set the cookie: HttpOnly, SameSite=Lax, Secure over HTTPS (signing out stores an anonymous one)."""
    secure = is_https(request, config)
    response.set_cookie(
        COOKIE,
        encode(config, session),
        max_age=max(0, session.expires - int(time.time())),
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def csrf_matches(session: Session, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(
        session.csrf.encode(), sent.encode("utf-8", "replace")
    )
