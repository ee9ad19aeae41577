"""Validators of API doc §7: documented examples, never raising, linear time."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pymesync.server import validation


@pytest.mark.parametrize("slug", ["a", "a1", "1a", "123abc", "1-23abc", "kitten-be-cool"])
def test_valid_slugs(slug: str) -> None:
    assert validation.is_slug(slug)


@pytest.mark.parametrize("slug", ["", "1", "123", "-a", "a-", "a--b", "A", "ab_c", "a2-$c"])
def test_invalid_slugs(slug: str) -> None:
    assert not validation.is_slug(slug)


def test_lenient_slug_check() -> None:
    assert validation.is_lenient_slug("Not_A_Slug")
    assert not validation.is_lenient_slug("not@slug!")


def test_usernames() -> None:
    assert validation.is_username("Proj_Manager~-1")
    assert not validation.is_username("a.b")
    assert not validation.is_username("!nv4l|d")
    assert not validation.is_username("")


@pytest.mark.parametrize(
    "email", ["guyn@example.com", "a.b+c@example.com", "first.last@osuosl.org", "ab@ex.co.uk"]
)
def test_valid_emails(email: str) -> None:
    assert validation.is_email(email)


@pytest.mark.parametrize("email", ["notanemail", "a@b", "@example.com", "a@@b.com", "a b@c.com"])
def test_invalid_emails(email: str) -> None:
    assert not validation.is_email(email)


@pytest.mark.parametrize(
    "uri", ["http://localhost:8000/a", "https://x.com/?q=1#f", "http://example.com/project3/i/56"]
)
def test_valid_uris(uri: str) -> None:
    assert validation.is_http_uri(uri)


@pytest.mark.parametrize(
    "uri",
    ["ftp://x.com", "example.com", "git@github.com:osuosl", "http://a b.com", "http://", "http://x:99999/"],
)
def test_invalid_uris(uri: str) -> None:
    assert not validation.is_http_uri(uri)


def test_dates() -> None:
    assert validation.parse_date("2015-07-30") == dt.date(2015, 7, 30)
    assert validation.parse_date("2015-07-30T10:00:00Z") == dt.date(2015, 7, 30)
    assert validation.parse_date("2015-07-30T23:30:00-05:00") == dt.date(2015, 7, 31)
    assert validation.parse_date("1970-01-01") == dt.date(1970, 1, 1)
    for bad in ["baaaaaaaad", "April 29, 1995", "2015-13-01", "2015-02-30", "2015-07-30x", "٢٠١٥-٠٧-٣٠"]:
        assert validation.parse_date(bad) is None


def test_lenient_query_dates() -> None:
    assert validation.find_date("2015-04-21end=2015-04-25") == (True, dt.date(2015, 4, 21))
    assert validation.find_date("2015-13-45") == (True, None)
    assert validation.find_date("yesterday") == (False, None)


def test_dates_whose_utc_day_is_outside_the_calendar_are_refused() -> None:
    assert validation.parse_date("9999-12-31T23:00:00-05:00") is None
    assert validation.parse_date("0001-01-01T00:00:00+05:00") is None
    assert validation.parse_date("9999-12-31T23:00:00Z") == dt.date(9999, 12, 31)
    assert validation.parse_date("0001-01-01T05:00:00+05:00") == dt.date(1, 1, 1)
    assert validation.parse_date("2015-07-30T10:00:00+24:00") is None  # offsets end at 23:59
    assert validation.parse_date("2015-07-30T10:00:00+23:60") is None


def test_the_last_day_is_no_query_bound() -> None:
    """``end`` is inclusive, so the server filters below the next midnight, which 9999-12-31 lacks."""
    assert validation.find_date("9999-12-31") == (False, None)
    assert validation.find_date("9999-12-30") == (True, dt.date(9999, 12, 30))


_CLOCKS = st.builds(
    lambda time, zone: time.isoformat() + zone,
    st.times(),
    st.one_of(
        st.just(""),
        st.just("Z"),
        st.builds(
            lambda sign, h, m: f"{sign}{h:02d}:{m:02d}",
            st.sampled_from("+-"),
            st.integers(0, 99),
            st.integers(0, 99),
        ),
    ),
)
_DATE_TEXTS = st.one_of(
    st.text(max_size=80),
    st.builds(lambda day, sep, clock: f"{day}{sep}{clock}", st.dates(), st.sampled_from("T "), _CLOCKS),
    st.builds(lambda day, tail: day.isoformat() + tail, st.dates(), st.text(max_size=20)),
)  # fmt: skip


@given(_DATE_TEXTS)
def test_parse_date_gives_a_storable_day_or_none(text: str) -> None:
    day = validation.parse_date(text)
    assert day is None or isinstance(day, dt.date)
    if day is not None:
        written = dt.date.fromisoformat(text[:10])
        assert abs((day - written).days) <= 1  # a time zone moves the UTC day by one at most


@given(_DATE_TEXTS)
def test_find_date_gives_a_usable_bound_or_says_why_not(text: str) -> None:
    acceptable, day = validation.find_date(text)
    assert isinstance(acceptable, bool)
    if day is not None:
        assert acceptable
        assert day + dt.timedelta(days=1) > day  # the exclusive end bound exists


def test_json_type_words() -> None:
    words = [validation.json_type(v) for v in (None, True, 1, 1.5, "s", [], {})]
    assert words == ["null", "boolean", "number", "number", "string", "array", "object"]
    assert validation.js_typeof([]) == "object"


@given(st.text(max_size=400))
def test_validators_never_raise(text: str) -> None:
    validation.is_slug(text)
    validation.is_lenient_slug(text)
    validation.is_username(text)
    validation.is_email(text)
    validation.is_http_uri(text)
    validation.is_uuid(text)
    validation.parse_date(text)
    validation.find_date(text)


@given(st.emails())
def test_generated_emails_are_accepted_or_refused_quickly(email: str) -> None:
    validation.is_email(email)


@pytest.mark.parametrize(
    "evil",
    [
        "a" * 100_000 + "@",
        "a." * 50_000 + "@example.com",
        "ab@" + "a" * 100_000 + ".com",
        "ab@" + "a." * 50_000,
        "ab+" + "c" * 100_000,
    ],
)
def test_email_check_is_fast_on_100kb_input(evil: str) -> None:
    start = time.perf_counter()
    assert not validation.is_email(evil)
    assert time.perf_counter() - start < 0.05


def test_other_checks_are_fast_on_100kb_input() -> None:
    evil = "a-" * 50_000 + "!"
    start = time.perf_counter()
    for check in (validation.is_slug, validation.is_username, validation.is_http_uri):
        assert not check(evil)
    validation.parse_date("2015-01-01" + "T" * 100_000)
    validation.find_date("1" * 100_000)
    assert time.perf_counter() - start < 0.05
