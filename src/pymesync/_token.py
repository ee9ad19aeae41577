"""Reading a TimeSync token's payload locally (no request, no signature check)."""

from __future__ import annotations

import datetime
import json

from pymesync._wire import finite_number

_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
#: Every base64 character, standard and URL-safe.
_ALPHABET = _DIGITS + "-_"
#: Each base64 character's six bits, as "0" and "1", for ``str.translate``.
_BITS = {ord(char): f"{value:06b}" for value, char in enumerate(_DIGITS)} | {
    ord("-"): "111110",
    ord("_"): "111111",
}


def _b64decode(segment: str) -> bytes:
    """Standard or URL-safe base64, padded or not; anything else raises ValueError.

    Decoded with str methods and ``int``: the base64 module is a millisecond of every command line run's
    start-up, and even binascii (a shared library) costs a quarter of one to load, for one short segment.
    """
    unpadded = segment.rstrip("=")
    if len(segment) - len(unpadded) > 2 or len(unpadded) % 4 == 1 or unpadded.strip(_ALPHABET):
        raise ValueError("not base64")
    bits = unpadded.translate(_BITS)
    whole = len(bits) // 8 * 8  # the spare bits of the last character are not data
    return int(bits[:whole], 2).to_bytes(whole // 8, "big") if whole else b""


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
