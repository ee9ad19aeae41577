"""Client-side password hashing: the reference server stores what it is sent, so clients send bcrypt."""

from __future__ import annotations

BCRYPT_COST = 10
BCRYPT_MAX_BYTES = 72


def check_password(value: object) -> str | None:
    """A problem with ``value`` as a password, worded for users, or None if it can be hashed."""
    if not isinstance(value, (str, bytes)):
        return "password must be a string"
    has_nul = "\x00" in value if isinstance(value, str) else b"\x00" in value
    if has_nul:
        return "password cannot contain NUL characters"
    return None


def hash_password(password: str | bytes) -> str:
    """A fresh ``$2b$10$`` bcrypt hash; like bcrypt at login, only the first 72 bytes count."""
    import bcrypt  # imported on first use: it is the slowest import we have

    raw = password.encode("utf-8") if isinstance(password, str) else password
    return bcrypt.hashpw(raw[:BCRYPT_MAX_BYTES], bcrypt.gensalt(BCRYPT_COST)).decode("ascii")
