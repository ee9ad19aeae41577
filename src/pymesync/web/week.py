"""The home page: the signed-in user's week as days × projects, the weekly target, and quick log."""

from __future__ import annotations

import datetime
import json
from typing import Any

from starlette.responses import Response

from pymesync import _duration, _periods
from pymesync.server import auth, storage
from pymesync.server.errors import ApiError
from pymesync.server.routes import activities as activities_route
from pymesync.server.routes import times as times_route
from pymesync.server.routes import users as users_route
from pymesync.web import aggregate
from pymesync.web.page import Page, Refused, redirect, time_form_error

times = times_route.times
#: The key of the weekly target (hours) in the user's ``meta`` JSON object, which users may change
#: on their own record through the API.
TARGET_KEY = "weekly_target_hours"


def _monday(page: Page) -> datetime.date:
    text = page.params.get("week", "")
    try:
        day = datetime.date.fromisoformat(text) if text else page.today
    except ValueError:
        raise Refused(404, f"{text!r} is not a day (YYYY-MM-DD).") from None
    return _periods.monday(day)


def _meta(page: Page) -> dict[str, Any] | None:
    """The user's ``meta`` as a JSON object ({} when empty); None when it holds other text."""
    me = page.api(users_route.get_user, path={"username": page.me.username})
    raw = me.get("meta")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _target_seconds(meta: dict[str, Any] | None) -> int:
    hours = (meta or {}).get(TARGET_KEY)
    if isinstance(hours, (int, float)) and not isinstance(hours, bool) and 0 < hours <= 168:
        return int(hours * 3600)
    return 0


def loggable_projects(page: Page) -> list[dict[str, Any]]:
    """The projects the caller may log time in, by the API's own rule (:func:`auth.may_log_time_in`)."""
    me = page.me
    return [p for p in page.projects() if auth.may_log_time_in(me, (p.get("users") or {}).get(me.username))]


def log_form_choices(page: Page, project: str = "", chosen: list[str] | None = None) -> dict[str, Any]:
    """The projects, activities and default activity a form that logs or edits time offers."""
    activities = page.api(activities_route.list_activities)
    available = loggable_projects(page)
    selected = next((p for p in available if project in p["slugs"]), available[0] if available else None)
    return {
        "projects_available": available,
        "activities": sorted(activities, key=lambda activity: activity["slug"] or ""),
        "default_activity": None if selected is None else selected.get("default_activity"),
        "form_activities": chosen or [],
    }


def week_page(page: Page, *, error: str = "", status: int = 200) -> Response:
    me = page.me
    monday = _monday(page)
    days = [monday + datetime.timedelta(days=offset) for offset in range(7)]
    conditions = [
        *times_route.listed_to(me),
        times.c.user == me.id,
        times.c.deleted_at.is_(None),
        times.c.date_worked >= storage.date_to_ms(monday),
        times.c.date_worked < storage.date_to_ms(monday + datetime.timedelta(days=7)),
    ]
    with storage.transaction(page.config.engine) as connection:
        grid = aggregate.pivot(connection, conditions, "day", "project")
        rows = connection.execute(
            times_route.select_times().where(*conditions).order_by(times.c.date_worked, times.c.id)
        ).all()
        entries = times_route.render_many(connection, rows)
    projects = sorted(str(project) for project in grid.column_values if project is not None)
    meta = _meta(page)
    target = _target_seconds(meta)
    form = dict(page.form) if error else {}
    return page.render(
        "week.html",
        status,
        monday=monday,
        days=days,
        today=page.today,
        projects=projects,
        cells=grid.cells,
        day_totals={day: grid.row_totals.get(day, 0) for day in days},
        project_totals=grid.column_totals,
        total=grid.total_seconds,
        target=target,
        target_hours=target // 3600 if target % 3600 == 0 else round(target / 3600, 2),
        meta_is_text=meta is None,
        entries=entries,
        previous=monday - datetime.timedelta(days=7),
        following=monday + datetime.timedelta(days=7),
        error=error,
        form=form,
        duration_forms=_duration.HUMAN_FORMS,
        **log_form_choices(
            page, form.get("project", ""), page.form_lists.get("activities") if error else None
        ),
    )


def activities_field(page: Page) -> Response:
    """The activities field of the log form for the chosen project (htmx swaps it in on change)."""
    choices = log_form_choices(page, page.params.get("project", ""))
    return page.render(
        "activities_field.html",
        activities=choices["activities"],
        default=choices["default_activity"],
        chosen=[],
    )


def quick_log(page: Page) -> Response:
    form = page.form
    try:
        seconds = _duration.parse_human_duration(form.get("duration", ""))
        day = _periods.parse_day(form.get("date", "") or "today", page.today)
    except ValueError as problem:
        return week_page(page, error=str(problem), status=422)
    fields: dict[str, Any] = {
        "duration": seconds,
        "project": form.get("project", ""),
        "user": page.me.username,
        "date_worked": day.isoformat(),
    }
    chosen = [slug for slug in page.form_lists.get("activities", []) if slug]
    if chosen:
        fields["activities"] = chosen
    for name in ("notes", "issue_uri"):
        if form.get(name, "").strip():
            fields[name] = form[name].strip()
    try:
        page.api(times_route.create_time, method="POST", obj=fields)
    except ApiError as error:
        return week_page(page, error=time_form_error(error), status=error.status)
    done = f"Logged {_duration.format_human_duration(seconds)} on {fields['project']} for {day:%a %d %b}."
    return redirect("/", week=_periods.monday(day).isoformat(), done=done)


def set_target(page: Page) -> Response:
    text = page.form.get("target", "").strip().replace(",", ".")
    try:
        hours = float(text) if text else 0.0
    except ValueError:
        hours = -1.0
    if not 0 <= hours <= 168:
        return week_page(page, error="The weekly target is a number of hours from 0 to 168.", status=422)
    meta = _meta(page)
    if meta is None:
        return week_page(
            page,
            error="Your profile's meta field holds other text, so no target can be kept there.",
            status=409,
        )
    if hours:
        meta[TARGET_KEY] = int(hours) if hours.is_integer() else hours
    else:
        meta.pop(TARGET_KEY, None)
    try:
        page.api(
            users_route.update_user,
            method="POST",
            path={"username": page.me.username},
            obj={"meta": json.dumps(meta, separators=(",", ":"))},
        )
    except ApiError as error:
        return week_page(page, error=error.text, status=error.status)
    return redirect("/", week=page.form.get("week", ""), done="Weekly target saved.")
