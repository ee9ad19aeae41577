"""Tokens (API doc §2.2), passwords (§2.1) and the caller's site-wide flags.

Tokens are stateless: any worker that knows the secret accepts them, and they survive restarts.
The format is the reference's on purpose (standard padded base64, HMAC-SHA512, epoch
milliseconds) so clients that decode ``exp`` keep working.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import NamedTuple, TypeGuard

import bcrypt

DEFAULT_TOKEN_LIFETIME = 1800.0
BCRYPT_ROUNDS = 10
_HEADER = {"typ": "JWT", "alg": "HMAC-SHA512"}
_BCRYPT_HASH = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")
#: bcrypt only ever reads the first 72 bytes; newer bcrypt releases refuse longer input.
_BCRYPT_MAX_BYTES = 72


@dataclass(frozen=True)
class Caller:
    """The authenticated user of one request, read from the database for that request."""

    id: int
    username: str
    site_admin: bool
    site_manager: bool
    site_spectator: bool

    @property
    def manages_site(self) -> bool:
        """Site managers and site admins may manage projects, activities and users."""
        return self.site_manager or self.site_admin


def may_manage_user(caller: Caller, *, site_admin: bool, site_manager: bool) -> bool:
    """Whether ``caller`` may change or delete another user who holds these site flags.

    One rule for update and delete: site admins manage everyone; site managers only users with
    neither flag, so a manager can neither take over nor lock out an admin or a fellow manager.
    """
    return caller.site_admin or (caller.site_manager and not (site_admin or site_manager))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _signature(secret: str, signing_input: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha512)
    return _b64(mac.digest())


def make_token(
    secret: str,
    issuer: str,
    username: str,
    *,
    lifetime: float,
    issued_at: int | None = None,
) -> str:
    """Issue a token for ``username``; ``exp`` and ``iat`` (``issued_at``, default now) are epoch ms."""
    issued = int(time.time() * 1000) if issued_at is None else issued_at
    payload = {"iss": issuer, "sub": username, "exp": issued + int(lifetime * 1000), "iat": issued}
    signing_input = f"{_b64(_json(_HEADER))}.{_b64(_json(payload))}"
    return f"{signing_input}.{_signature(secret, signing_input)}"


class TokenClaims(NamedTuple):
    subject: str
    #: ``iat``, epoch milliseconds
    issued_at: float


def token_claims(
    token: str, secret: str, issuer: str, *, lifetime: float, now: float | None = None
) -> TokenClaims | None:
    """Who a valid, unexpired token was issued to, and when; else None. Never raises.

    The signature is compared in constant time before anything in the token is trusted.
    """
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 8192:
        return None
    header_b64, payload_b64, signature = parts
    try:
        expected = _signature(secret, f"{header_b64}.{payload_b64}")
    except UnicodeEncodeError:
        return None
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8")):
        return None
    try:
        header = json.loads(base64.b64decode(header_b64, validate=True))
        payload = json.loads(base64.b64decode(payload_b64, validate=True))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(header, dict) or header.get("alg") != _HEADER["alg"]:
        return None
    if not isinstance(payload, dict) or payload.get("iss") != issuer:
        return None
    subject, exp, iat = payload.get("sub"), payload.get("exp"), payload.get("iat")
    if not isinstance(subject, str) or not _is_number(exp) or not _is_number(iat):
        return None
    now_ms = (time.time() if now is None else now) * 1000
    if exp < now_ms or iat + lifetime * 1000 < now_ms:
        return None
    return TokenClaims(subject, iat)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def normalise_query_token(token: str) -> str:
    """Clients put tokens into URLs unencoded, so each ``+`` arrives as a space (2.3)."""
    return re.sub(r"\s", "+", token)


def is_bcrypt_hash(value: str) -> bool:
    return len(value) == 60 and _BCRYPT_HASH.fullmatch(value) is not None


def _password_bytes(password: str) -> bytes:
    return password.encode("utf-8", "surrogatepass")[:_BCRYPT_MAX_BYTES]


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """bcrypt-hash a plaintext password."""
    return bcrypt.hashpw(_password_bytes(password), bcrypt.gensalt(rounds)).decode("ascii")


def password_for_storage(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """What to store for a password a client sent: bcrypt hashes as given, anything else hashed."""
    return password if is_bcrypt_hash(password) else hash_password(password, rounds)


#: Compared against when there is no usable stored hash, so unknown users cost the same time.
_DUMMY_HASH = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"


def check_password(password: str, stored: str | None) -> bool:
    """bcrypt compare against ``$2a$``, ``$2b$`` and ``$2y$`` hashes."""
    usable = stored is not None and is_bcrypt_hash(stored)
    candidate = stored if stored is not None and usable else _DUMMY_HASH
    try:
        matches = bcrypt.checkpw(_password_bytes(password), candidate.encode("ascii"))
    except ValueError:
        return False
    return usable and matches
