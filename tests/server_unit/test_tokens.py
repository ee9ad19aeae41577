"""Tokens in the reference format (API doc §2.2) and password storage (§2.1)."""

from __future__ import annotations

import base64
import json
import time

import bcrypt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymesync.server import auth, errors

SECRET = "s3cret"
ISSUER = "timesync"


def test_token_has_the_reference_format() -> None:
    token = auth.make_token(SECRET, ISSUER, "admin", lifetime=1800, issued_at=1_000_000)
    header, payload, signature = token.split(".")
    assert base64.b64decode(header) == b'{"typ":"JWT","alg":"HMAC-SHA512"}'
    claims = json.loads(base64.b64decode(payload))
    assert claims == {"iss": ISSUER, "sub": "admin", "exp": 1_000_000 + 1_800_000, "iat": 1_000_000}
    assert list(claims) == ["iss", "sub", "exp", "iat"]
    assert len(base64.b64decode(signature, validate=True)) == 64  # SHA-512, standard padded b64


def test_token_round_trip_and_expiry() -> None:
    token = auth.make_token(SECRET, ISSUER, "ünï", lifetime=60, issued_at=1_000_000)
    assert auth.token_claims(token, SECRET, ISSUER, lifetime=60, now=1_030.0) == ("ünï", 1_000_000)
    assert auth.token_claims(token, SECRET, ISSUER, lifetime=60, now=1_061.0) is None
    # a server configured with a shorter lifetime also refuses tokens issued for longer
    assert auth.token_claims(token, SECRET, ISSUER, lifetime=10, now=1_030.0) is None
    assert auth.token_claims(token, "other", ISSUER, lifetime=60, now=1_030.0) is None
    assert auth.token_claims(token, SECRET, "elsewhere", lifetime=60, now=1_030.0) is None


def test_verified_tokens_are_remembered_but_still_expire_and_need_their_secret() -> None:
    """The claims cache keeps what the signature check found, never the answer of a request."""
    token = auth.make_token(SECRET, ISSUER, "carol", lifetime=60, issued_at=5_000_000)
    for _ in range(2):  # the second round reads the cache
        assert auth.token_claims(token, SECRET, ISSUER, lifetime=60, now=5_010.0) == ("carol", 5_000_000)
        assert auth.token_claims(token, SECRET, ISSUER, lifetime=60, now=5_060.001) is None
        assert auth.token_claims(token, SECRET, ISSUER, lifetime=5, now=5_010.0) is None
        assert auth.token_claims(token, SECRET * 2, ISSUER, lifetime=60, now=5_010.0) is None
        assert auth.token_claims(token, SECRET, "elsewhere", lifetime=60, now=5_010.0) is None
    forged = auth.make_token("not the secret", ISSUER, "carol", lifetime=60, issued_at=5_000_000)
    assert auth.token_claims(forged, SECRET, ISSUER, lifetime=60, now=5_010.0) is None
    assert forged not in auth._VERIFIED


def test_the_claims_cache_stays_bounded() -> None:
    for number in range(auth.MOST_VERIFIED_TOKENS + 10):
        token = auth.make_token(SECRET, ISSUER, f"user{number}", lifetime=60, issued_at=1_000_000)
        assert auth.token_claims(token, SECRET, ISSUER, lifetime=60, now=1_001.0) == (
            f"user{number}",
            1_000_000,
        )
    assert len(auth._VERIFIED) <= auth.MOST_VERIFIED_TOKENS


def test_tampered_payload_is_refused() -> None:
    token = auth.make_token(SECRET, ISSUER, "bob", lifetime=60, issued_at=1_000_000)
    header, _, signature = token.split(".")
    forged = base64.b64encode(
        json.dumps({"iss": ISSUER, "sub": "admin", "exp": 10**15, "iat": 10**15}).encode()
    ).decode()
    assert auth.token_claims(f"{header}.{forged}.{signature}", SECRET, ISSUER, lifetime=60) is None


@given(st.text(max_size=300))
def test_garbage_tokens_never_raise(token: str) -> None:
    assert auth.token_claims(token, SECRET, ISSUER, lifetime=60) is None


def test_query_tokens_get_their_plus_signs_back() -> None:
    assert auth.normalise_query_token("ab cd\tef") == "ab+cd+ef"


def test_passwords_are_hashed_unless_already_bcrypt() -> None:
    stored = auth.password_for_storage("plain", rounds=4)
    assert stored.startswith("$2b$04$") and auth.check_password("plain", stored)
    assert auth.password_for_storage(stored) == stored
    legacy = "$2a$04$" + stored[7:]
    assert auth.check_password("plain", legacy)
    assert not auth.check_password("wrong", stored)
    assert not auth.check_password("plain", None)
    assert not auth.check_password("plain", "plain")


def test_passwords_bcrypt_would_truncate_are_refused_and_never_match() -> None:
    with pytest.raises(ValueError, match="72 bytes"):
        auth.password_for_storage("x" * 73, rounds=4)
    stored = auth.password_for_storage("x" * 72, rounds=4)
    assert auth.check_password("x" * 72, stored)
    assert not auth.check_password("x" * 72 + "y", stored)  # bcrypt alone would say yes
    assert not auth.check_password("x" * 1000, stored)


def test_hash_costs_outside_4_to_12_are_refused_and_never_checked() -> None:
    cheap = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    for cost in (3, 13, 14, 31):
        forged = cheap[:4] + f"{cost:02d}" + cheap[6:]
        problem = auth.password_problem(forged)
        assert problem is not None and problem.received == f"bcrypt hash of cost {cost}"
        started = time.perf_counter()
        assert not auth.check_password("pw", forged)
        assert time.perf_counter() - started < 1  # cost 31 would take hours
    assert auth.password_problem(cheap) is None
    assert auth.password_problem(cheap[:4] + "12" + cheap[6:]) is None


@pytest.mark.parametrize(
    ("password", "min_length", "received"),
    [("", 1, "empty string"), ("abc", 4, "shorter string"), ("é" * 37, 1, "longer string")],
)
def test_plaintext_password_problems(password: str, min_length: int, received: str) -> None:
    problem = auth.password_problem(password, min_length=min_length)
    assert problem is not None and problem.received == received
    assert auth.password_problem("abcd", min_length=4) is None
    assert auth.password_problem("é" * 36) is None  # 72 bytes


def test_the_bcrypt_gate_refuses_callers_beyond_its_queue() -> None:
    gate = auth.BcryptGate(running=2, waiting=0)
    with gate, gate, pytest.raises(errors.ApiError) as refused, gate:
        pass
    assert refused.value.status == 503
    with gate, gate:  # every slot was given back
        pass


def test_a_hash_with_other_digits_in_its_cost_is_plaintext() -> None:
    """``\\d`` would take Arabic-Indic digits: the string is then no hash bcrypt can read."""
    cheap = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    lookalike = cheap[:4] + "٠٤" + cheap[6:]
    assert not auth.is_bcrypt_hash(lookalike)
    stored = auth.password_for_storage(lookalike, rounds=4)
    assert auth.check_password(lookalike, stored)
