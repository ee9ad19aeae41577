"""Login throttling: failed logins fill leaky buckets kept in the database; a full bucket is a 429.

Three buckets count each failed ``POST /login`` (docs/server.md, "Login throttling"):

* the username from that client address: tight, it is where one guesser works;
* the client address, any username: a guesser trying many names;
* the username, any address: looser, a bound on guesses spread over many addresses.

Each bucket holds up to ``limit`` failures and drains ``limit`` per ``period``, so after a
burst of ``limit`` a guesser gets one more try every ``period / limit`` seconds, and a bucket
left alone is empty after ``period``. Attempts refused with 429 do not count, and a successful
login empties its username-and-address bucket only. Buckets live in the table
``pymesync_login_failures``, written with one atomic upsert per bucket, so all workers and
hosts sharing the database count together. Bucket names are HMACs under the token secret:
people type passwords into username fields, and the table should not keep them.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import ipaddress
import math
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from pymesync.server import errors, schema, storage
from pymesync.server.storage import transaction

ENV_LOGIN_THROTTLE = "TIMESYNC_LOGIN_THROTTLE"
ENV_FORWARDED_ALLOW_IPS = "TIMESYNC_FORWARDED_ALLOW_IPS"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Bucket:
    """``limit`` failures, forgiven at ``limit`` per ``period`` seconds."""

    limit: int
    period: float

    @property
    def drain_per_ms(self) -> float:
        return self.limit / (self.period * 1000)


@dataclass(frozen=True)
class LoginThrottle:
    """The three buckets; None disables one (``off`` disables all)."""

    user_address: Bucket | None = Bucket(5, 300)
    address: Bucket | None = Bucket(30, 600)
    user: Bucket | None = Bucket(50, 600)

    @property
    def enabled(self) -> bool:
        return any(bucket is not None for bucket in (self.user_address, self.address, self.user))


DEFAULT = LoginThrottle()
OFF = LoginThrottle(None, None, None)
_NAMES = {"user-address": "user_address", "address": "address", "user": "user"}


def parse(spec: str) -> LoginThrottle:
    """``off``, or ``NAME=LIMIT/SECONDS`` items (comma-separated; NAME is ``user-address``,
    ``address`` or ``user``; ``NAME=off`` drops one); unnamed buckets keep their defaults."""
    spec = spec.strip()
    if spec == "off":
        return OFF
    values: dict[str, Bucket | None] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, value = item.partition("=")
        if name.strip() not in _NAMES:
            raise errors.ConfigError(f"login throttle: {name.strip()!r} is not user-address, address or user")
        values[_NAMES[name.strip()]] = None if value.strip() == "off" else _bucket(value.strip(), item)
    return LoginThrottle(**values)


def _bucket(value: str, item: str) -> Bucket:
    limit, _, period = value.partition("/")
    try:
        bucket = Bucket(int(limit), float(period))
    except ValueError:
        raise errors.ConfigError(
            f"login throttle: {item!r} is not NAME=LIMIT/SECONDS, like user=50/600"
        ) from None
    if not (1 <= bucket.limit <= 100_000 and 0.1 <= bucket.period <= 86_400):
        raise errors.ConfigError(
            f"login throttle: {item!r} needs a limit of 1 to 100000 and 0.1 to 86400 seconds"
        )
    return bucket


def parse_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    """The proxies whose ``X-Forwarded-For`` is believed: addresses or networks (``10.0.0.0/8``)."""
    networks = []
    for entry in filter(None, (item.strip() for item in entries)):
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise errors.ConfigError(f"{entry!r} is not an IP address or network") from None
    return tuple(networks)


def settings(env: Mapping[str, str]) -> tuple[LoginThrottle, tuple[Network, ...]]:
    """``TIMESYNC_LOGIN_THROTTLE`` (default: the documented buckets) and ``TIMESYNC_FORWARDED_ALLOW_IPS``."""
    spec = env.get(ENV_LOGIN_THROTTLE, "").strip()
    return (parse(spec) if spec else DEFAULT), parse_networks(env.get(ENV_FORWARDED_ALLOW_IPS, "").split(","))


def add_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("login throttling (docs/server.md, 'Login throttling')")
    group.add_argument(
        "--login-throttle",
        metavar="SPEC",
        help="off, or e.g. user-address=5/300,address=30/600,user=50/600 (failures/seconds; "
        f"default: ${ENV_LOGIN_THROTTLE}, else those)",
    )
    group.add_argument(
        "--forwarded-allow-ips",
        metavar="IPS",
        help="comma-separated proxies whose X-Forwarded-For names the client (default: none; "
        f"${ENV_FORWARDED_ALLOW_IPS})",
    )


def apply_options(args: argparse.Namespace, env: MutableMapping[str, str]) -> None:
    """Write the given ``serve`` options into ``env`` (for the workers) and check the result."""
    if getattr(args, "login_throttle", None) is not None:
        env[ENV_LOGIN_THROTTLE] = args.login_throttle
    if getattr(args, "forwarded_allow_ips", None) is not None:
        env[ENV_FORWARDED_ALLOW_IPS] = args.forwarded_allow_ips
    settings(env)


def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The address a login came from: the socket peer, unless the peer is a trusted proxy; then
    the right-most ``X-Forwarded-For`` entry that is not a trusted proxy (entries further left
    were written by the client and prove nothing)."""
    address = peer or "unknown"
    if not trusted or forwarded_for is None or not _is_trusted(address, trusted):
        return address
    for entry in reversed([item.strip() for item in forwarded_for.split(",")]):
        if not entry:
            continue
        address = entry[:64]
        if not _is_trusted(entry, trusted):
            break
    return address


def _is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


# --- the buckets in the database ----------------------------------------------------------------

_table = schema.login_failures


def _bucket_id(secret: str, kind: str, *parts: str) -> str:
    key = "\x00".join((kind, *parts)).encode("utf-8", "surrogatepass")
    return hmac.new(secret.encode("utf-8"), key, hashlib.sha256).hexdigest()


def _buckets(throttle: LoginThrottle, secret: str, username: str, address: str) -> list[tuple[str, Bucket]]:
    named = (
        (throttle.user_address, ("user-address", username, address)),
        (throttle.address, ("address", address)),
        (throttle.user, ("user", username)),
    )
    return [(_bucket_id(secret, *key), bucket) for bucket, key in named if bucket is not None]


def check(engine: Engine, throttle: LoginThrottle, secret: str, username: str, address: str) -> bool:
    """Raise 429 with ``Retry-After`` when one more failure would overflow one of the buckets;
    else whether the username-and-address bucket holds failures (see :func:`forget`)."""
    buckets = dict(_buckets(throttle, secret, username, address))
    if not buckets:
        return False
    now = storage.now_ms()
    with transaction(engine) as connection:
        rows = connection.execute(
            sa.select(_table.c.bucket, _table.c.level, _table.c.updated_at).where(
                _table.c.bucket.in_(buckets)
            )
        ).all()
    wait_ms = 0.0
    for row in rows:
        bucket = buckets[row.bucket]
        level = max(0.0, row.level - max(0, now - row.updated_at) * bucket.drain_per_ms)
        if level > bucket.limit - 1:
            wait_ms = max(wait_ms, (level - (bucket.limit - 1)) / bucket.drain_per_ms)
    if wait_ms > 0:
        raise too_many_failures(max(1, math.ceil(wait_ms / 1000)))
    return throttle.user_address is not None and any(
        row.bucket == _bucket_id(secret, "user-address", username, address) for row in rows
    )


def too_many_failures(retry_after: int) -> errors.ApiError:
    """Not in the reference (it has no throttle); the usual error body."""
    return errors.ApiError(
        429,
        "Too many requests",
        f"Too many failed logins; try again in {retry_after} seconds",
        headers={"Retry-After": str(retry_after)},
    )


def record_failure(engine: Engine, throttle: LoginThrottle, secret: str, username: str, address: str) -> None:
    """Add one failure to each bucket, atomically (concurrent failures are all counted), and
    drop buckets that have been empty for long."""
    buckets = _buckets(throttle, secret, username, address)
    if not buckets:
        return
    now = storage.now_ms()
    longest_ms = max(bucket.period for _, bucket in buckets) * 1000
    with transaction(engine, write=True) as connection:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        # one order everywhere, so two logins that share buckets cannot deadlock
        for bucket_id, bucket in sorted(buckets, key=lambda item: item[0]):
            elapsed = sa.case((_table.c.updated_at < now, now - _table.c.updated_at), else_=0)
            drained = _table.c.level - elapsed * bucket.drain_per_ms
            statement = dialect.insert(_table).values(bucket=bucket_id, level=1.0, failures=1, updated_at=now)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[_table.c.bucket],
                    set_={
                        "level": sa.case((drained > 0, drained), else_=0.0) + 1,
                        "failures": sa.case((drained > 0, _table.c.failures + 1), else_=1),
                        "updated_at": sa.case((_table.c.updated_at < now, now), else_=_table.c.updated_at),
                    },
                )
            )
    # apart, so no transaction holds bucket rows while it waits for others' (no deadlock with upserts);
    # a bucket untouched for twice its period has drained, even if it held twice its limit
    with transaction(engine, write=True) as connection:
        connection.execute(sa.delete(_table).where(_table.c.updated_at < now - 2 * longest_ms))


def forget(engine: Engine, throttle: LoginThrottle, secret: str, username: str, address: str) -> None:
    """After a successful login: empty the username-and-address bucket (a user's own typos). The
    address and username buckets stay, or a guesser with an account of their own could reset
    their address's bucket by logging in to it between guesses."""
    if throttle.user_address is None:
        return
    bucket_id = _bucket_id(secret, "user-address", username, address)
    with transaction(engine, write=True) as connection:
        connection.execute(sa.delete(_table).where(_table.c.bucket == bucket_id))
