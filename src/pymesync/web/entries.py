"""The Times page: the entries the caller may see, filtered and paged; one entry's edit form and its
revisions; delete; export of the filtered set as CSV or JSON (streamed, page by page)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from starlette.responses import Response, StreamingResponse

from pymesync import _duration, _periods
from pymesync.server import auth, queries, storage
from pymesync.server.errors import ApiError
from pymesync.server.routes import activities as activities_route
from pymesync.server.routes import projects as projects_route
from pymesync.server.routes import times as times_route
from pymesync.server.routes import users as users_route
from pymesync.web import filters
from pymesync.web.page import PAGE_HEADERS, Page, Refused, local_path, redirect, time_form_error
from pymesync.web.week import log_form_choices

times = times_route.times
PAGE_SIZE = 50
#: The htmx event of an entry saved in place: the Times page's total line reloads on it.
ENTRY_SAVED = "entry-saved"
#: Rows read per transaction while exporting.
EXPORT_BATCH = 1000
EXPORT_COLUMNS = (
    "date_worked",
    "user",
    "project",
    "activities",
    "duration",
    "notes",
    "issue_uri",
    "uuid",
    "revision",
    "created_at",
    "updated_at",
    "deleted_at",
)


def _filter(page: Page) -> filters.Filter:
    try:
        return filters.read(page.params, page.today)
    except filters.FilterError as problem:
        raise Refused(400, str(problem)) from None


def may_change(caller: auth.Caller, owner_id: int) -> dict[str, bool]:
    """Which buttons an entry gets: the API's own rules (:mod:`auth`)."""
    return {"edit": auth.may_update_time(caller, owner_id), "delete": auth.may_delete_time(caller, owner_id)}


def filter_choices(page: Page) -> dict[str, Any]:
    """The users, projects and activities the filter form offers (what the API lists to the caller)."""
    return {
        "users": sorted(user["username"] for user in page.api(users_route.list_users)),
        "all_projects": sorted(
            slug for p in page.api(projects_route.list_projects) for slug in p["slugs"][:1]
        ),
        "all_activities": sorted(a["slug"] for a in page.api(activities_route.list_activities)),
        "presets": filters.PRESETS,
    }


def times_page(page: Page) -> Response:
    me = page.me
    chosen = _filter(page)
    try:
        number = max(1, int(page.params.get("page", "1")))
    except ValueError:
        number = 1
    with storage.transaction(page.config.engine) as connection:
        conditions = filters.conditions(connection, me, chosen)
        rows = connection.execute(
            times_route.select_times()
            .where(*conditions)
            .order_by(times.c.date_worked.desc(), times.c.id.desc())
            .offset((number - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        ).all()
        entries = times_route.render_many(connection, rows[:PAGE_SIZE])
        owners = [row.user for row in rows[:PAGE_SIZE]]
        total = connection.execute(
            sa.select(sa.func.coalesce(sa.func.sum(times.c.duration), 0), sa.func.count()).where(*conditions)
        ).one()
    for entry, owner in zip(entries, owners, strict=True):
        entry["may"] = may_change(me, owner)
    return page.render(
        "times.html",
        entries=entries,
        chosen=chosen,
        filter_query=chosen.query(),
        number=number,
        more=len(rows) > PAGE_SIZE,
        total_seconds=int(total[0]),
        total_entries=int(total[1]),
        **filter_choices(page),
    )


def _entry(page: Page, uuid: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = page.api(
            times_route.get_time,
            path={"uuid": uuid},
            query={"include_revisions": "true", "include_deleted": "true"},
        )
    except ApiError as error:
        raise Refused(error.status, error.text) from None
    return found


def _owner_id(page: Page, username: str) -> int:
    with storage.transaction(page.config.engine) as connection:
        found = queries.user_ids(connection, [username])
    return found.get(username, -1)


def _back(page: Page) -> str:
    """Where Back, Cancel and a finished delete lead: the list the user came from, on this site."""
    return local_path(page.params.get("back", "") or page.form.get("back", ""), "/times")


def _edit_values(entry: dict[str, Any]) -> dict[str, Any]:
    """An edit form's fields filled in from the stored entry."""
    return {
        "duration": _duration.format_human_duration(entry["duration"]) if entry["duration"] else "",
        "project": entry["project"][0] if entry["project"] else "",
        "date": entry["date_worked"],
        "activities": list(entry["activities"]),
        "notes": entry["notes"] or "",
        "issue_uri": entry["issue_uri"] or "",
    }


def _posted_values(page: Page) -> dict[str, Any]:
    """An edit form's fields as the user sent them, to show again beside the error."""
    form = page.form
    return {
        "duration": form.get("duration", ""),
        "project": form.get("project", ""),
        "date": form.get("date", ""),
        "activities": [slug for slug in page.form_lists.get("activities", []) if slug],
        "notes": form.get("notes", ""),
        "issue_uri": form.get("issue_uri", ""),
    }


def _row(page: Page, entry: dict[str, Any], *, focus: bool = False) -> Response:
    entry["may"] = may_change(page.me, _owner_id(page, entry["user"]))
    return page.render("_time_row.html", entry=entry, back=_back(page), focus=focus)


def _edit_row(page: Page, uuid: str, values: dict[str, Any], error: str = "", status: int = 200) -> Response:
    return page.render(
        "_time_edit.html",
        status,
        uuid=uuid,
        values=values,
        error=error,
        back=_back(page),
        duration_forms=_duration.HUMAN_FORMS,
        **log_form_choices(page),
    )


def entry_page(page: Page, uuid: str = "", *, error: str = "", status: int = 200) -> Response:
    """The entry's page (its edit form and revisions); for htmx, its inline edit form in the Times
    table, or with ``view=row`` its row (Cancel)."""
    uuid = uuid or page.request.path_params["uuid"]
    entry = _entry(page, uuid)
    if page.partial:
        if page.params.get("view") == "row":
            return _row(page, entry, focus=True)
        return _edit_row(page, uuid, _edit_values(entry))
    entry["may"] = may_change(page.me, _owner_id(page, entry["user"]))
    return page.render(
        "entry.html",
        status,
        entry=entry,
        revisions=[*entry.get("parents", []), entry],
        error=error,
        values=_posted_values(page) if error else _edit_values(entry),
        back=_back(page),
        duration_forms=_duration.HUMAN_FORMS,
        **log_form_choices(page),
    )


def update_entry(page: Page) -> Response:
    """Save an edit through the API: then the entry's page (a 303), or for htmx its updated row;
    refused, the form again with the API's words."""
    uuid = page.request.path_params["uuid"]
    form = page.form

    def refused(message: str, status: int) -> Response:
        if page.partial:
            return _edit_row(page, uuid, _posted_values(page), message, status)
        return entry_page(page, uuid, error=message, status=status)

    try:
        seconds = _duration.parse_human_duration(form.get("duration", ""))
        day = _periods.parse_day(form.get("date", "") or "today", page.today)
    except ValueError as problem:
        return refused(str(problem), 422)
    fields: dict[str, Any] = {
        "duration": seconds,
        "project": form.get("project", ""),
        "date_worked": day.isoformat(),
        "notes": form.get("notes", "").strip() or None,
        "issue_uri": form.get("issue_uri", "").strip() or None,
    }
    chosen = [slug for slug in page.form_lists.get("activities", []) if slug]
    if chosen:
        fields["activities"] = chosen
    try:
        saved = page.api(times_route.update_time, method="POST", path={"uuid": uuid}, obj=fields)
    except ApiError as error:
        return refused(time_form_error(error), error.status)
    if page.partial:
        row = _row(page, saved, focus=True)
        row.headers["HX-Trigger"] = ENTRY_SAVED
        return row
    return redirect(f"/times/{uuid}", done="Saved.", back=form.get("back", ""))


def delete_entry(page: Page) -> Response:
    """Delete through the API once confirmed: htmx asks in the browser (``hx-confirm``) and sends
    ``confirmed``; without JavaScript the form leads to a page that asks first."""
    uuid = page.request.path_params["uuid"]
    back = _back(page)
    if page.form.get("confirmed") != "yes":
        return page.render("confirm_delete.html", entry=_entry(page, uuid), back=back)
    try:
        page.api(times_route.delete_time, method="DELETE", path={"uuid": uuid})
    except ApiError as error:
        raise Refused(error.status, error.text) from None
    return redirect(back, done="Deleted.")


def _export_rows(page: Page, chosen: filters.Filter) -> Iterator[list[dict[str, Any]]]:
    """The filtered entries, a batch per transaction (keyset on id), so memory stays flat."""
    after = 0
    while True:
        with storage.transaction(page.config.engine) as connection:
            conditions = filters.conditions(connection, page.me, chosen)
            rows = connection.execute(
                times_route.select_times()
                .where(*conditions, times.c.id > after)
                .order_by(times.c.id)
                .limit(EXPORT_BATCH)
            ).all()
            batch = times_route.render_many(connection, rows)
        if not rows:
            return
        after = rows[-1].id
        yield batch
        if len(rows) < EXPORT_BATCH:
            return


def export(page: Page) -> Response:
    chosen = _filter(page)
    kind = page.request.path_params["kind"]
    if kind not in ("csv", "json"):
        raise Refused(404, "Entries are exported as .csv or .json.")
    name = f"times-{chosen.period.start}-{chosen.period.end}.{kind}"
    batches = _export_rows(page, chosen)
    headers = {**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    if kind == "json":
        return StreamingResponse(_json_chunks(batches), media_type="application/json", headers=headers)
    return StreamingResponse(_csv_chunks(batches), media_type="text/csv; charset=utf-8", headers=headers)


def _json_chunks(batches: Iterator[list[dict[str, Any]]]) -> Iterator[str]:
    yield "["
    first = True
    for batch in batches:
        for item in batch:
            yield ("" if first else ",") + json.dumps(item, ensure_ascii=False)
            first = False
    yield "]"


#: What a spreadsheet reads as the start of a formula (or, for tab and CR, may drop before one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as it is: empty for None, and text that would start a formula
    gets a leading ``'`` (notes and names are users' own text; an export must not run them)."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_chunks(batches: Iterator[list[dict[str, Any]]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for batch in batches:
        for item in batch:
            values = dict(item, project=" ".join(item["project"]), activities=" ".join(item["activities"]))
            writer.writerow([spreadsheet_cell(values[c]) for c in EXPORT_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
