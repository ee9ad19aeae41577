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
import os
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import NamedTuple, TypeGuard

import bcrypt

from pymesync.server import errors

DEFAULT_TOKEN_LIFETIME = 1800.0
BCRYPT_ROUNDS = 10
#: Costs of client-made hashes that are stored: 4 is bcrypt's minimum (the reference's fixtures
#: use it), pymesync and the reference's clients send 10 (0.05 s per login on a current CPU); 12 takes
#: 0.2 s and 14 already 0.9 s.
MIN_BCRYPT_COST = 4
MAX_BCRYPT_COST = 12
#: bcrypt only ever reads the first 72 bytes; newer bcrypt releases refuse longer input.
BCRYPT_MAX_BYTES = 72
_HEADER = {"typ": "JWT", "alg": "HMAC-SHA512"}
_BCRYPT_HASH = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}", re.ASCII)


class BcryptGate:
    """Bounds the handler threads bcrypt may hold: ``running`` hash at once, ``waiting`` more wait
    their turn, and any further caller gets 503 at once. A flood of logins (each costs tens of
    milliseconds of CPU, on purpose) then never takes all of the thread pool (40 threads) that
    every other request needs too."""

    def __init__(self, running: int, waiting: int) -> None:
        self._admitted = threading.BoundedSemaphore(running + waiting)
        self._running = threading.BoundedSemaphore(running)

    def __enter__(self) -> None:
        if not self._admitted.acquire(blocking=False):
            raise errors.server_busy()
        self._running.acquire()

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self._running.release()
        self._admitted.release()


#: One gate per process: every bcrypt computation of the server passes it.
BCRYPT_GATE = BcryptGate(running=4, waiting=12)


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


def may_update_time(caller: Caller, owner_id: int) -> bool:
    """Whether ``caller`` may revise a time entry of the user ``owner_id``: their own, or anyone's as
    site admin."""
    return owner_id == caller.id or caller.site_admin


def may_delete_time(caller: Caller, owner_id: int) -> bool:
    """Whether ``caller`` may delete a time entry of the user ``owner_id``: their own, or anyone's as
    site manager or admin."""
    return owner_id == caller.id or caller.manages_site


def may_log_time_in(caller: Caller, role: Mapping[str, bool] | None) -> bool:
    """Whether ``caller``, who holds ``role`` in a project (None: no role), may log time in it."""
    return caller.site_admin or (role is not None and role["member"])


def may_manage_project(caller: Caller, role: Mapping[str, bool] | None) -> bool:
    """Whether ``caller``, who holds ``role`` in a project (None: no role), may change or delete it."""
    return caller.manages_site or (role is not None and role["manager"])


#: Shortest token signing secret accepted from the operator: HMAC-SHA512 keys below 256 bits are
#: within reach of offline guessing from one captured token.
MIN_SECRET_BYTES = 32
ENV_SECRET_KEY = "TIMESYNC_SECRET_KEY"
ENV_SECRET_FILE = "TIMESYNC_SECRET_FILE"
_SECRET_HINT = "make one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"


def check_secret(secret: str, source: str) -> None:
    """Refuse a signing secret shorter than :data:`MIN_SECRET_BYTES` (``source`` names it)."""
    if len(secret.encode("utf-8", "surrogatepass")) < MIN_SECRET_BYTES:
        raise errors.ConfigError(f"{source} is shorter than {MIN_SECRET_BYTES} bytes; {_SECRET_HINT}")


def read_private_file(path: str, what: str) -> str:
    """The text in ``path`` (surrounding whitespace dropped), read only if the file is private to
    its owner, like an ssh key: it holds a secret (``what`` names it in errors)."""
    try:
        with open(path, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            content = file.read(64 * 1024)
    except OSError as exc:
        raise errors.ConfigError(f"cannot read the {what} {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise errors.ConfigError(
            f"the {what} {path} is open to group or others (mode {mode & 0o777:o}); chmod 600 it"
        )
    try:
        return content.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise errors.ConfigError(f"the {what} {path} is not UTF-8 text") from None


def read_secret_file(path: str) -> str:
    """The token secret in ``path``; whoever reads the file can sign tokens for any user."""
    secret = read_private_file(path, "secret file")
    check_secret(secret, f"the secret in {path}")
    return secret


def external_secret(env: Mapping[str, str]) -> str | None:
    """The signing secret from ``TIMESYNC_SECRET_KEY`` or the file ``TIMESYNC_SECRET_FILE`` names;
    None when neither is set (the secret then lives in the database)."""
    key, path = env.get(ENV_SECRET_KEY), env.get(ENV_SECRET_FILE)
    if key and path:
        raise errors.ConfigError(f"set {ENV_SECRET_KEY} or {ENV_SECRET_FILE}, not both")
    if key:
        check_secret(key, ENV_SECRET_KEY)
        return key
    return read_secret_file(path) if path else None


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


class _Verified(NamedTuple):
    secret: str
    issuer: str
    claims: TokenClaims
    expires: float  # ``exp``, epoch ms


#: Tokens whose signature and claims were checked, by token: that check is a pure function of the
#: token, the secret and the issuer, and costs more than the rest of reading a small object. Only
#: that is kept: expiry is checked on every use, and the caller is read from the database on every
#: request (:func:`context.caller_signed_in`), so deleted users and password changes still void
#: tokens at once. Only tokens signed with the secret get in; cleared when full.
_VERIFIED: dict[str, _Verified] = {}
MOST_VERIFIED_TOKENS = 4096


def token_claims(
    token: str, secret: str, issuer: str, *, lifetime: float, now: float | None = None
) -> TokenClaims | None:
    """Who a valid, unexpired token was issued to, and when; else None. Never raises.

    The signature is compared in constant time before anything in the token is trusted.
    """
    verified = _VERIFIED.get(token)
    if verified is None or verified.secret != secret or verified.issuer != issuer:
        verified = _verify(token, secret, issuer)
        if verified is None:
            return None
    now_ms = (time.time() if now is None else now) * 1000
    if verified.expires < now_ms or verified.claims.issued_at + lifetime * 1000 < now_ms:
        return None
    return verified.claims


def _verify(token: str, secret: str, issuer: str) -> _Verified | None:
    """The claims of a token signed with ``secret`` for ``issuer``, whatever its age; else None."""
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
    if len(_VERIFIED) >= MOST_VERIFIED_TOKENS:
        _VERIFIED.clear()
    verified = _VERIFIED[token] = _Verified(secret, issuer, TokenClaims(subject, iat), exp)
    return verified


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_WHITESPACE = re.compile(r"\s")


def normalise_query_token(token: str) -> str:
    """Clients put tokens into URLs unencoded, so each ``+`` arrives as a space (2.3)."""
    return _WHITESPACE.sub("+", token)


def is_bcrypt_hash(value: str) -> bool:
    """The shape of a bcrypt hash, whatever its cost (see :func:`bcrypt_cost`)."""
    return len(value) == 60 and _BCRYPT_HASH.fullmatch(value) is not None


def bcrypt_cost(stored: str) -> int:
    """The cost (log2 of the rounds) of a string :func:`is_bcrypt_hash` accepts."""
    return int(stored[4:6])


def is_usable_hash(stored: str) -> bool:
    """A bcrypt hash whose cost this server is willing to compute at login."""
    return is_bcrypt_hash(stored) and MIN_BCRYPT_COST <= bcrypt_cost(stored) <= MAX_BCRYPT_COST


class PasswordProblem(NamedTuple):
    """Why a password is refused for storage: ``expected`` and ``received`` in the words of the
    API's invalid-field error, ``message`` for people at a terminal."""

    expected: str
    received: str
    message: str


def password_problem(password: str, *, min_length: int = 1) -> PasswordProblem | None:
    """Why ``password`` (plaintext or a client-made bcrypt hash) cannot be stored, or None.

    A hash's cost is bounded because every login with it runs bcrypt at that cost; a hash's
    plaintext cannot be seen, so ``min_length`` and the 72-byte limit apply to plaintext only.
    """
    if is_bcrypt_hash(password):
        cost = bcrypt_cost(password)
        if MIN_BCRYPT_COST <= cost <= MAX_BCRYPT_COST:
            return None
        return PasswordProblem(
            f"bcrypt hash of cost {MIN_BCRYPT_COST} to {MAX_BCRYPT_COST}",
            f"bcrypt hash of cost {cost}",
            f"bcrypt hashes must have a cost of {MIN_BCRYPT_COST} to {MAX_BCRYPT_COST}, not {cost}",
        )
    if len(_utf8(password)) > BCRYPT_MAX_BYTES:
        return PasswordProblem(
            f"string of at most {BCRYPT_MAX_BYTES} UTF-8 bytes",
            "longer string",
            f"the password is longer than {BCRYPT_MAX_BYTES} bytes in UTF-8 (bcrypt would ignore the rest)",
        )
    shortest = max(min_length, 1)  # an empty password could never log in (POST /login needs one)
    if not password:
        return PasswordProblem(
            "non-empty string" if shortest == 1 else f"string of at least {shortest} characters",
            "empty string",
            "the password must not be empty",
        )
    if len(password) < shortest:
        return PasswordProblem(
            f"string of at least {shortest} characters",
            "shorter string",
            f"the password must have at least {shortest} characters",
        )
    return None


def _utf8(password: str) -> bytes:
    return password.encode("utf-8", "surrogatepass")


ENV_MIN_PASSWORD_LENGTH = "TIMESYNC_MIN_PASSWORD_LENGTH"


def check_min_password_length(length: int) -> None:
    if not 1 <= length <= BCRYPT_MAX_BYTES:
        raise errors.ConfigError(f"the minimum password length must be 1 to {BCRYPT_MAX_BYTES}, not {length}")


def min_password_length_setting(env: Mapping[str, str]) -> int:
    """``TIMESYNC_MIN_PASSWORD_LENGTH``, 1 when unset."""
    value = env.get(ENV_MIN_PASSWORD_LENGTH, "").strip()
    try:
        length = int(value) if value else 1
    except ValueError:
        raise errors.ConfigError(f"{ENV_MIN_PASSWORD_LENGTH} must be a whole number, not {value!r}") from None
    check_min_password_length(length)
    return length


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """bcrypt-hash a plaintext password (at most 72 bytes: see :func:`password_problem`)."""
    with BCRYPT_GATE:
        return bcrypt.hashpw(_utf8(password), bcrypt.gensalt(rounds)).decode("ascii")


def password_for_storage(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """What to store for a password a client sent: bcrypt hashes as given, anything else hashed.

    Raises ValueError for a password :func:`password_problem` refuses; callers check first."""
    problem = password_problem(password)
    if problem is not None:
        raise ValueError(problem.message)
    return password if is_bcrypt_hash(password) else hash_password(password, rounds)


#: Compared against when there is no usable stored hash, so unknown users cost the same time.
_DUMMY_HASH = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"


def check_password(password: str, stored: str | None) -> bool:
    """bcrypt compare against ``$2a$``, ``$2b$`` and ``$2y$`` hashes of an accepted cost.

    Hashes of any other cost, and passwords over 72 bytes (which bcrypt would truncate, so two
    long passwords with the same start would both match), never match; the dummy hash is
    compared instead so that the answer takes the usual time.
    """
    raw = _utf8(password)
    usable = stored is not None and is_usable_hash(stored) and len(raw) <= BCRYPT_MAX_BYTES
    candidate = stored if stored is not None and usable else _DUMMY_HASH
    try:
        with BCRYPT_GATE:
            matches = bcrypt.checkpw(raw[:BCRYPT_MAX_BYTES], candidate.encode("ascii"))
    except ValueError:
        return False
    return usable and matches
