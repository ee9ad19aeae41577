"""Plain sentences for the API's complaints about a time entry's fields, for people at a form or a prompt.

The API's texts are fixed by the reference server ("The time is missing a activities", "Field issue_uri of
time should be URI but was sent as invalid URI x") and clients may match on them, so the server keeps
them. The command line and the web page show people these instead, and any other text as it is.
"""

from __future__ import annotations

#: ``The time is missing a <field>``
_MISSING = {
    "activities": "choose an activity: this project has no default activity",
    "duration": "give a duration, such as 1h30m",
    "project": "choose a project",
}
#: ``The time does not contain a valid <field> reference.``
_UNKNOWN = {
    "activities": "there is no such activity",
    "project": "there is no such project",
    "user": "there is no such user",
}
#: ``Field <field> of time should be ... but was sent as ...``
_INVALID = {
    "notes": "notes can be at most 255 characters",
    "issue_uri": "the issue link must be a full address, such as https://example.org/issues/12",
    "date_worked": "the date must be a day of the calendar, as YYYY-MM-DD",
    "duration": "the duration must be more than nothing",
    "project": "a project is named by its slug, such as gwm",
    "activities": "activities are named by their slugs, such as dev",
}


def plain_time_error(text: str) -> str | None:
    """``text`` in plain words (lower case, no full stop) when it is one of the API's complaints about
    a time's fields; None for any other text."""
    if text.startswith("The time is missing a "):
        return _MISSING.get(text.removeprefix("The time is missing a "))
    unknown = text.removeprefix("The time does not contain a valid ")
    if unknown != text and unknown.endswith(" reference."):
        return _UNKNOWN.get(unknown.removesuffix(" reference."))
    if text.startswith("Field ") and " of time should be " in text:
        return _INVALID.get(text.removeprefix("Field ").split(" ", 1)[0])
    return None
