"""The plain words shown for the API's complaints about a time's fields, checked against the texts the
server itself sends (so a change of either is caught here)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pymesync._wording import plain_time_error
from pymesync.server import errors


def test_every_complaint_about_a_time_field_the_server_makes_has_plain_words() -> None:
    complaints = {
        errors.missing_field("time", "activities"): (
            "choose an activity: this project has no default activity"
        ),
        errors.missing_field("time", "duration"): "give a duration, such as 1h30m",
        errors.invalid_foreign_key("time", "project"): "there is no such project",
        errors.invalid_foreign_key("time", "activities"): "there is no such activity",
        errors.invalid_foreign_key("time", "user"): "there is no such user",
        errors.invalid_field("time", "notes", "string of at most 255 characters", "longer string"): (
            "notes can be at most 255 characters"
        ),
        errors.invalid_field("time", "issue_uri", "URI", "invalid URI x"): (
            "the issue link must be a full address, such as https://example.org/issues/12"
        ),
        errors.invalid_field("time", "date_worked", "ISO-8601 date", "2026-02-30"): (
            "the date must be a day of the calendar, as YYYY-MM-DD"
        ),
        errors.invalid_field("time", "duration", "positive integer", "negative integer"): (
            "the duration must be more than nothing"
        ),
    }
    for complaint, plain in complaints.items():
        assert plain_time_error(complaint.text) == plain, complaint.text


def test_other_texts_are_left_to_the_caller() -> None:
    for other in (
        errors.missing_field("project", "name"),
        errors.invalid_foreign_key("project", "activity"),
        errors.invalid_field("user", "email", "valid email", "string"),
        errors.invalid_field("time", "object", "object", "array"),
        errors.not_found("time"),
        errors.not_authorized("alice", "create time entries for project gwm"),
    ):
        assert plain_time_error(other.text) is None, other.text


@given(st.text())
def test_any_text_gives_plain_words_or_none(text: str) -> None:
    plain = plain_time_error(text)
    assert plain is None or (plain and plain[0].islower() and not plain.endswith("."))
