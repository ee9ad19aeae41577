"""Property tests for the duration and period parsers the command line (and later the web page) share."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymesync._duration import format_human_duration, parse_human_duration
from pymesync._periods import Period, parse_day, parse_period

minutes = st.integers(min_value=0, max_value=100_000)


@given(minutes)
def test_format_then_parse_round_trips(count: int) -> None:
    assert parse_human_duration(format_human_duration(count * 60)) == count * 60


@given(st.integers(0, 999), st.integers(0, 59))
def test_all_spellings_agree(h: int, m: int) -> None:
    seconds = h * 3600 + m * 60
    assert parse_human_duration(f"{h}h{m}m") == seconds
    assert parse_human_duration(f"{h}:{m:02d}") == seconds
    assert parse_human_duration(f"{h * 60 + m}m") == seconds


@given(st.integers(0, 10_000))
def test_quarter_hours_in_decimal(quarters: int) -> None:
    assert parse_human_duration(f"{quarters / 4}h") == quarters * 900


@given(st.integers(0, 10**6))
def test_bare_numbers_are_refused(number: int) -> None:
    with pytest.raises(ValueError, match="add a unit"):
        parse_human_duration(str(number))


@given(st.text(alphabet="0123456789hm:.,- ", max_size=8))
def test_anything_else_parses_to_whole_seconds_or_is_refused_with_the_forms(text: str) -> None:
    try:
        seconds = parse_human_duration(text)
    except ValueError as exc:
        assert "1h30m, 90m, 1.5h, 1:30 or 45m" in str(exc)
    else:
        assert isinstance(seconds, int) and seconds >= 0


def test_m_is_minutes_never_months() -> None:
    assert parse_human_duration("1m") == 60


days = st.dates(min_value=datetime.date(1970, 1, 1), max_value=datetime.date(2999, 12, 31))


@given(days)
def test_weeks_months_quarters_contain_their_day(day: datetime.date) -> None:
    year, week, _ = day.isocalendar()
    for text in (
        f"{year}-W{week:02d}",
        f"{day.year}-{day.month:02d}",
        f"{day.year}-Q{(day.month - 1) // 3 + 1}",
    ):
        assert day in parse_period(text, day)
    iso_week = parse_period(f"{year}-W{week}", day)
    assert iso_week.start.weekday() == 0 and iso_week.days == 7
    assert parse_period("week", day) == iso_week


@given(days)
def test_last_week_and_last_month_end_just_before_this_one(day: datetime.date) -> None:
    one = datetime.timedelta(days=1)
    assert parse_period("last-week", day).end + one == parse_period("week", day).start
    assert parse_period("last-month", day).end + one == parse_period("month", day).start


@given(days, st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sunday"]))
def test_weekday_is_within_the_last_seven_days(today: datetime.date, name: str) -> None:
    day = parse_day(name, today)
    assert 0 <= (today - day).days < 7 and day.strftime("%a").lower() == name[:3]


@given(days, days)
def test_ranges(first: datetime.date, second: datetime.date) -> None:
    text = f"{first}..{second}"
    if second < first:
        with pytest.raises(ValueError, match="before it starts"):
            parse_period(text, first)
    else:
        assert parse_period(text, first) == Period(first, second)


@pytest.mark.parametrize("text", ["", "2026-W54", "2026-13", "2026-Q5", "soon", "2026-02-30", "1..2"])
def test_bad_periods_name_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-Www"):
        parse_period(text, datetime.date(2026, 12, 4))


def _seconds_by_pattern(text: str) -> int | None:
    """Human durations as the regular expression read them (what ``parse_human_duration`` did)."""
    import re
    from decimal import Decimal

    match = re.fullmatch(
        r"(?P<h>[0-9]+)h\s*(?:(?P<hm>[0-9]+)m)?|(?P<m>[0-9]+)m|(?P<dec>[0-9]*[.,][0-9]+|[0-9]+[.,])h"
        r"|(?P<ch>[0-9]+):(?P<cm>[0-5][0-9])",
        text.strip(),
        re.I,
    )
    if match is None:
        return None
    if match["h"] is not None:
        return int(match["h"]) * 3600 + int(match["hm"] or 0) * 60
    if match["m"] is not None:
        return int(match["m"]) * 60
    if match["dec"] is not None:
        return int((Decimal(match["dec"].replace(",", ".")) * 3600).to_integral_value())
    return int(match["ch"]) * 3600 + int(match["cm"]) * 60


@settings(max_examples=1000)
@given(
    st.text(alphabet="0123456789hHmM.,: \t\u2003٣x", max_size=8)
    | st.builds(
        "".join,
        st.tuples(
            st.sampled_from(["", "1", "12", ".", "1.", "٣", " "]),
            st.sampled_from(["h", "H", "m", "M", ":", ",", ""]),
            st.sampled_from(["", " ", "\u2003", "\t", "x"]),
            st.sampled_from(["", "5", "30", "59", "60", "٣"]),
            st.sampled_from(["", "m", "M", "h"]),
        ),
    )
)
def test_human_durations_read_as_the_pattern_read_them(text: str) -> None:
    try:
        found: int | None = parse_human_duration(text)
    except ValueError:
        found = None
    assert found == _seconds_by_pattern(text)


def _period_by_patterns(text: str) -> Period:
    """The numbered periods as regular expressions read them (what ``parse_period`` did with them)."""
    import re

    def month(year: int, number: int) -> Period:
        start = datetime.date(year, number, 1)
        return Period(
            start, datetime.date(year + number // 12, number % 12 + 1, 1) - datetime.timedelta(days=1)
        )

    word = text.strip().lower()
    if match := re.fullmatch(r"([0-9]{4})-?W([0-9]{1,2})", word, re.I):
        start = datetime.date.fromisocalendar(int(match[1]), int(match[2]), 1)
        return Period(start, start + datetime.timedelta(days=6))
    if match := re.fullmatch(r"([0-9]{4})-?Q([1-4])", word, re.I):
        year, quarter = int(match[1]), int(match[2])
        return Period(month(year, quarter * 3 - 2).start, month(year, quarter * 3).end)
    if match := re.fullmatch(r"([0-9]{4})-([0-9]{1,2})", word):
        return month(int(match[1]), int(match[2]))
    if re.fullmatch(r"[0-9]{4}", word):
        return Period(datetime.date(int(word), 1, 1), datetime.date(int(word), 12, 31))
    day = datetime.date.fromisoformat(word)  # what is left for strings of these characters
    return Period(day, day)


_numbered = st.one_of(
    st.text(alphabet="0123456789-wWqQ٣²kK ", max_size=9),
    st.builds(
        "".join,
        st.tuples(
            st.text(alphabet="0123456789٣", min_size=3, max_size=5),
            st.sampled_from(["", "-", "--"]),
            st.sampled_from(["", "w", "W", "q", "Q", "x"]),
            st.text(alphabet="0123456789٣", max_size=3),
        ),
    ),
)


@given(_numbered)
def test_numbered_periods_read_as_the_patterns_read_them(text: str) -> None:
    """Years, weeks, quarters and months are read with string methods; they agree with the regular
    expressions that read them before, on every string (a refusal is a refusal in both)."""
    today = datetime.date(2026, 12, 4)
    try:
        expected: Period | None = _period_by_patterns(text)
    except ValueError:
        expected = None
    try:
        found: Period | None = parse_period(text, today)
    except ValueError:
        found = None
    assert found == expected
