"""The shared core as the legacy face uses it: durations, tokens, object checks, query building.

The contract's tables are the examples; hypothesis covers the open-ended inputs.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import string
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pymesync import _wire as wire
from pymesync._duration import format_duration, parse_duration
from pymesync._query import filter_values, slug_query, times_query
from pymesync._token import _b64decode, token_expiration_time
from pymesync._validation import validate_object
from pymesync.errors import ValidationError

SEED_TOKEN = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJITUFDLVNIQTUxMiJ9."
    "eyJpc3MiOiJvc3Vvc2wtdGltZXN5bmMtc3RhZ2luZyIsInN1YiI6InRlc3QiLCJleHAiOjE0NTI3MTQzMzQwODcsImlhdCI6"
    "MTQ1MjcxMjUzNDA4N30=."
    "QP2FbiY3I6e2eN436hpdjoBFbW9NdrRUHbkJ+wr9GK9mMW7/oC/oKnutCwwzMCwjzEx6hlxnGo6/LiGyPBcm3w=="
)

# --- durations (contract §6.3) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1h30m", 5400),
        ("1H30M", 5400),
        (" 1h30m ", 5400),
        ("0h30m", 1800),
        ("1h", 3600),
        ("45m", 2700),
        ("90m", 5400),
        ("25h0m", 90000),
        ("1h90m", 9000),
        ("01h05m", 3900),
        ("0h0m", 0),
        ("0m", 0),
        (0, 0),
        (1200, 1200),
    ],
)
def test_valid_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "value",
    [
        *("", "h", "m", "hm", "1h 30m", "1 h", "1.5h", "-1h", "+1h", "3600", "1h30m15s", "3h30m15h"),
        *("30m1h", "junktime", "１h", 1.5, 1800.0, True, False, None, b"1h", ["1h"]),
    ],
)
def test_invalid_durations(value: object) -> None:
    with pytest.raises(ValueError, match="invalid"):
        parse_duration(value)


def test_negative_duration() -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_duration(-1)


@given(st.integers(min_value=0, max_value=10**9).map(lambda n: n * 60))
def test_format_then_parse_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_hours_and_minutes_in_any_case_and_padding(hours: int, minutes: int) -> None:
    expected = hours * 3600 + minutes * 60
    assert parse_duration(f"{hours}h{minutes}m") == expected
    assert parse_duration(f"  {hours:03d}H{minutes}M\t") == expected


@given(st.one_of(st.text(), st.binary(), st.integers(), st.floats(), st.none(), st.booleans()))
def test_parse_duration_raises_only_value_error(value: object) -> None:
    try:
        result = parse_duration(value)
    except ValueError:
        return
    assert type(result) is int
    assert result >= 0


# --- tokens (contract §4) -------------------------------------------------------------------------------


def _token(payload: bytes, *, urlsafe: bool = False, padded: bool = True) -> str:
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(payload).decode()
    if not padded:
        encoded = encoded.rstrip("=")
    return f"header.{encoded}.signature"


def test_seed_token_expiry_is_naive_local_time_with_milliseconds() -> None:
    expiry = token_expiration_time(SEED_TOKEN)
    assert expiry == datetime.datetime.fromtimestamp(1452714334.087)
    assert expiry.tzinfo is None
    assert expiry.microsecond == 87000


@pytest.mark.parametrize("urlsafe", [False, True])
@pytest.mark.parametrize("padded", [False, True])
def test_token_alphabets_and_padding(urlsafe: bool, padded: bool) -> None:
    # "?>" encodes to "Pz4" in standard base64, so both alphabets are really exercised
    payload = json.dumps({"exp": 1452714334087, "note": "?>?>"}).encode()
    token = _token(payload, urlsafe=urlsafe, padded=padded)
    assert token_expiration_time(token) == datetime.datetime.fromtimestamp(1452714334.087)


def _decoded_by_binascii(segment: str) -> bytes | None:
    """What ``_b64decode`` gave when binascii decoded (None: refused)."""
    import binascii
    import re

    if not re.fullmatch(r"[A-Za-z0-9+/\-_]*={0,2}", segment):
        return None
    unpadded = segment.rstrip("=")
    try:
        return binascii.a2b_base64(
            (unpadded + "=" * (-len(unpadded) % 4)).replace("-", "+").replace("_", "/")
        )
    except binascii.Error:
        return None


@given(
    st.text(alphabet="AZaz09+/-_=!. \n٣", max_size=12)
    | st.builds(
        lambda data, urlsafe, padded: (
            (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data)
            .decode()
            .rstrip("" if padded else "=")
        ),
        st.binary(max_size=40),
        st.booleans(),
        st.booleans(),
    )
)
@example("QUJD===")
@example("Q")
@example("A=A=")
@example("-_-_")
def test_base64_segments_decode_as_binascii_decodes_them(segment: str) -> None:
    try:
        found: bytes | None = _b64decode(segment)
    except ValueError:
        found = None
    assert found == _decoded_by_binascii(segment)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "nodot",
        "a.",
        "a.!!!!.c",
        _token(b"not json"),
        _token(b"true"),
        _token(b"null"),
        _token(b"[1]"),
        _token(b'{"iat": 1}'),
        _token(b'{"exp": "1452714334087"}'),
        _token(b'{"exp": true}'),
        _token(b'{"exp": 1e300}'),
        _token(b'{"exp": NaN}'),
        _token(b"\xff\xfe"),
        None,
        12,
        b"a.b.c",
    ],
)
def test_malformed_tokens_raise_value_error(token: object) -> None:
    with pytest.raises(ValueError):
        token_expiration_time(token)


@given(st.text())
def test_token_decoder_raises_only_value_error_on_text(token: str) -> None:
    with contextlib.suppress(ValueError):
        token_expiration_time(token)


@given(st.binary(), st.booleans(), st.booleans())
def test_token_decoder_raises_only_value_error_on_any_payload(
    payload: bytes, urlsafe: bool, padded: bool
) -> None:
    try:
        result = token_expiration_time(_token(payload, urlsafe=urlsafe, padded=padded))
    except ValueError:
        return
    assert result.tzinfo is None


@given(st.integers(min_value=0, max_value=4 * 10**12))
def test_token_exp_is_milliseconds(exp: int) -> None:
    token = _token(json.dumps({"exp": exp}).encode(), padded=False)
    assert token_expiration_time(token) == datetime.datetime.fromtimestamp(exp / 1000)


# --- object checks (contract §6.1, §6.2, §6.4) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "obj", "create", "message"),
    [
        ("time", None, True, "time object: must be python dictionary"),
        ("time", ["duration"], True, "time object: must be python dictionary"),
        ("project", {"name": "x", "owner": "y"}, False, "project object: invalid field: owner"),
        ("project", {"user": "y"}, False, "project object: invalid field: user"),
        ("time", {1: "x"}, False, "time object: invalid field: 1"),
        (
            "time",
            {"user": "u", "date_worked": "d"},
            True,
            "time object: missing required field(s): duration, project",
        ),
        ("user", {}, True, "user object: missing required field(s): username, password"),
        ("activity", {"name": "n"}, True, "activity object: missing required field(s): slug"),
        ("time", {"duration": -5}, False, "time object: duration cannot be negative"),
        ("time", {"duration": "1.5h"}, False, "time object: invalid duration string"),
        ("user", {"site_admin": 1}, False, "user object: site_admin must be True or False"),
        (
            "user",
            {"active": "true", "site_spectator": 0},
            False,
            "user object: site_spectator must be True or False",
        ),
        ("user", {"password": 5}, False, "user object: password must be a string"),
        ("user", {"password": "a\x00b"}, False, "user object: password cannot contain NUL characters"),
        ("user", {"password": b"a\x00b"}, False, "user object: password cannot contain NUL characters"),
        ("project", {"name": {1, 2}}, False, "project object: name is not JSON serializable"),
        ("time", {"notes": float("nan")}, False, "time object: notes is not JSON serializable"),
    ],
)
def test_validation_messages(kind: str, obj: object, create: bool, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_object(kind, obj, create=create)
    assert caught.value.text == message


def test_validation_order_invalid_field_before_missing_before_values() -> None:
    with pytest.raises(ValidationError, match="invalid field: bogus"):
        validate_object("time", {"duration": "junk", "bogus": 1}, create=True)
    with pytest.raises(ValidationError, match="missing required"):
        validate_object("time", {"duration": "junk"}, create=True)


def test_validation_returns_a_fresh_dict_with_seconds() -> None:
    activities = ["dev"]
    time = {"duration": "1h", "activities": activities}
    prepared = validate_object("time", time, create=False)
    assert prepared == {"duration": 3600, "activities": ["dev"]}
    assert time == {"duration": "1h", "activities": ["dev"]}
    assert prepared is not time


# --- query building (contract §7) -----------------------------------------------------------------------


def _url(request: wire.Request) -> str:
    return request.url("http://ts/v1")


def test_times_query_examples() -> None:
    _, pairs = times_query(
        {
            "user": ["a", "b"],
            "project": ["p"],
            "activity": ["x", "y"],
            "start": ["2015-01-01"],
            "end": "2015-02-01",
            "include_deleted": True,
            "include_revisions": 0,
        }
    )
    assert _url(wire.get("times", "TOK", None, pairs)) == (
        "http://ts/v1/times?activity=x&activity=y&end=2015-02-01&include_deleted=true"
        "&include_revisions=false&project=p&start=2015-01-01&user=a&user=b&token=TOK"
    )
    uuid, pairs = times_query({"start": datetime.date(2016, 4, 1), "project": "my proj&co"})
    assert _url(wire.get("times", "TOK", uuid, pairs)) == (
        "http://ts/v1/times?project=my%20proj%26co&start=2016-04-01&token=TOK"
    )
    uuid, pairs = times_query({"uuid": "s", "include_revisions": True, "include_deleted": True})
    assert _url(wire.get("times", "ab+c/d==", uuid, pairs)) == (
        "http://ts/v1/times/s?include_deleted=true&include_revisions=true&token=ab%2Bc%2Fd%3D%3D"
    )


def test_times_query_invalid_key() -> None:
    with pytest.raises(ValidationError, match=r"^invalid query: bogus$"):
        times_query({"user": "u", "bogus": 1, "other": 2})


def test_slug_query_examples() -> None:
    slug, pairs = slug_query({"user": ["u1", "u2"], "include_revisions": False, "include_deleted": True})
    assert _url(wire.get("projects", "TOK", slug, pairs)) == (
        "http://ts/v1/projects?user=u1&user=u2&include_deleted=true&include_revisions=false&token=TOK"
    )
    slug, pairs = slug_query({"foo": "bar", "zzz": None})
    assert (
        _url(wire.get("projects", "TOK", slug, pairs)) == "http://ts/v1/projects?foo=true&zzz=false&token=TOK"
    )
    with pytest.raises(ValidationError, match=r"^invalid combination: slug and include_deleted$"):
        slug_query({"slug": "gwm", "include_deleted": False})


def test_filter_values_normalisation() -> None:
    assert filter_values("abc") == ["abc"]
    assert filter_values(None) == []
    assert filter_values(["a", None, datetime.datetime(2016, 4, 1, 12, 30)]) == ["a", "2016-04-01"]
    assert filter_values(("x", 3)) == ["x", "3"]
    assert filter_values(7) == ["7"]


texts = st.text(alphabet=st.characters(blacklist_categories=["Cs"]))
filter_lists = st.one_of(texts, st.lists(texts, max_size=4))


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "user": filter_lists,
            "project": filter_lists,
            "activity": filter_lists,
            "start": filter_lists,
            "end": filter_lists,
            "include_deleted": st.booleans(),
            "include_revisions": st.booleans(),
        },
    ),
    texts,
)
def test_times_query_round_trips_through_parse_qsl(params: dict[str, object], token: str) -> None:
    _, pairs = times_query(params)
    url = _url(wire.get("times", token, None, pairs))
    decoded = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    assert decoded == [*pairs, ("token", token)]
    assert [key for key, _ in decoded[:-1]] == sorted(key for key, _ in decoded[:-1])
    for key, value in params.items():
        values = [v for k, v in decoded if k == key]
        if isinstance(value, bool):
            assert values == ["true" if value else "false"]
        else:
            assert values == ([value] if isinstance(value, str) else value)


@given(texts.filter(bool), texts)
def test_path_identifiers_survive_encoding(ident: str, token: str) -> None:
    url = _url(wire.get("users", token, ident))
    split = urlsplit(url)
    assert split.path == f"/v1/users/{wire.enc(ident)}"
    assert "/" not in split.path.removeprefix("/v1/users/")
    assert parse_qsl(split.query, keep_blank_values=True) == [("token", token)]


@given(st.text(alphabet=string.printable))
def test_enc_keeps_only_unreserved_characters(text: str) -> None:
    encoded = wire.enc(text)
    assert set(encoded) <= set(string.ascii_letters + string.digits + "-._~%")
    assert "+" not in encoded


@given(
    st.text(alphabet=st.characters(codec=None, categories=None))
    | st.text(alphabet="az09-._~%/ é\ud800\udcff")
)
def test_enc_is_quote_with_nothing_safe(text: str) -> None:
    """Texts of unreserved characters only are kept without calling quote; the others go through it."""
    assert wire.enc(text) == quote(text, safe="", errors="surrogatepass")


def test_request_and_response_reprs_hide_token_and_password() -> None:
    shown = [
        repr(wire.get("times", "SECRET-TOKEN")),
        repr(wire.post("times", "SECRET-TOKEN", {"notes": "x"})),
        repr(wire.login("alice", "PASSWORD", "password")),
        repr(wire.Response(200, "application/json", b'{"token":"SECRET-TOKEN"}')),
    ]
    assert not any("SECRET-TOKEN" in text or "PASSWORD" in text for text in shown)
