"""Property tests for the duration and period parsers the command line (and later the web page) share."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given
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
