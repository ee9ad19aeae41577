"""Tokens in the reference format (API doc §2.2) and password storage (§2.1)."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from pymesync.server import auth

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


def test_long_passwords_do_not_crash() -> None:
    stored = auth.password_for_storage("x" * 1000, rounds=4)
    assert auth.check_password("x" * 1000, stored)
