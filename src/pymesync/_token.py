"""Reading a TimeSync token's payload locally (no request, no signature check)."""

from __future__ import annotations

import binascii
import datetime
import json
import re

from pymesync._wire import finite_number

_B64 = re.compile(r"[A-Za-z0-9+/\-_]*={0,2}")


def _b64decode(segment: str) -> bytes:
    """Standard or URL-safe base64, padded or not; anything else raises ValueError."""
    if not _B64.fullmatch(segment):
        raise ValueError("not base64")
    unpadded = segment.rstrip("=")
    padded = unpadded + "=" * (-len(unpadded) % 4)
    # binascii directly: the base64 module is a millisecond of every command line run's start-up; the
    # pattern above has already refused every character that is not base64
    try:
        return binascii.a2b_base64(padded.replace("-", "+").replace("_", "/"))
    except binascii.Error:
        raise ValueError("not base64") from None


def token_payload(token: object) -> dict[str, object]:
    """The JSON object in the token's second segment; ValueError if there is none."""
    if not isinstance(token, str) or "." not in token:
        raise ValueError("no payload")
    try:
        payload = json.loads(_b64decode(token.split(".")[1]).decode("utf-8"))
    except (UnicodeDecodeError, RecursionError):
        raise ValueError("not JSON") from None
    if not isinstance(payload, dict):
        raise ValueError("not an object")
    return payload


def token_expiry_ms(token: object) -> float:
    """``exp`` in epoch milliseconds, as the reference server writes it."""
    exp = token_payload(token).get("exp")
    if not finite_number(exp):
        raise ValueError("no numeric exp")
    return exp


def token_expiration_time(token: object) -> datetime.datetime:
    """Naive local-time expiry, keeping milliseconds; ValueError for any malformed token."""
    try:
        return datetime.datetime.fromtimestamp(token_expiry_ms(token) / 1000)
    except (OverflowError, OSError):
        raise ValueError("timestamp out of range") from None
