"""The web page's routing table, mounted beside the API by :func:`pymesync.server.app.create_app`."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pymesync.server.context import Config
from pymesync.web import admin, entries, report_page, signin, week
from pymesync.web.page import PageHandler, endpoint

STATIC = Path(__file__).parent / "static"


def web_routes(config: Config) -> list[BaseRoute]:
    """Every page and form of the web page, and its static files (htmx, Pico CSS, our CSS)."""

    def page(path: str, handler: PageHandler, method: str = "GET", *, public: bool = False) -> Route:
        return Route(path, endpoint(config, handler, public=public), methods=[method])

    return [
        page("/", week.week_page),
        page("/log", week.quick_log, "POST"),
        page("/log/activities", week.activities_field),
        page("/target", week.set_target, "POST"),
        page("/signin", signin.signin_page, public=True),
        page("/signin", signin.sign_in, "POST", public=True),
        page("/signout", signin.sign_out, "POST", public=True),
        page("/times", entries.times_page),
        page("/times/export.{kind:str}", entries.export),
        page("/times/{uuid}", entries.entry_page),
        page("/times/{uuid}", entries.update_entry, "POST"),
        page("/times/{uuid}/delete", entries.delete_entry, "POST"),
        page("/reports", report_page.report_page),
        page("/reports/chart/{kind:str}.svg", report_page.chart),
        page("/reports/export.csv", report_page.export),
        page("/admin", admin.admin_page),
        page("/admin/projects", admin.create_project, "POST"),
        page("/admin/projects/{slug}", admin.project_page),
        page("/admin/projects/{slug}", admin.update_project, "POST"),
        page("/admin/projects/{slug}/delete", admin.delete_project, "POST"),
        page("/admin/activities", admin.create_activity, "POST"),
        page("/admin/activities/{slug}", admin.update_activity, "POST"),
        page("/admin/activities/{slug}/delete", admin.delete_activity, "POST"),
        page("/admin/users", admin.create_user, "POST"),
        page("/admin/users/{username}", admin.update_user, "POST"),
        page("/admin/users/{username}/delete", admin.delete_user, "POST"),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
