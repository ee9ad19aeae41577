"""The Admin page: projects (slugs, default activity, members and their roles), activities, and
users with their flags. Site managers and admins see everything; a project's managers see their
projects. Each change is the API's own call, so the API decides who may make it; the page only
leaves out the forms a caller could never use."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from pymesync.server import auth
from pymesync.server.errors import ApiError
from pymesync.server.routes import activities as activities_route
from pymesync.server.routes import projects as projects_route
from pymesync.server.routes import users as users_route
from pymesync.web.page import Page, Refused, redirect

ROLES = projects_route.ROLE_FLAGS
FLAGS = ("site_admin", "site_manager", "site_spectator", "active")


def managed_projects(page: Page) -> list[dict[str, Any]]:
    """The projects the caller may change, by the API's rule (:func:`auth.may_manage_project`)."""
    me = page.me
    return [
        p for p in page.projects() if auth.may_manage_project(me, (p.get("users") or {}).get(me.username))
    ]


def may_open(page: Page) -> bool:
    return page.me.manages_site or bool(managed_projects(page))


def _slugs(text: str) -> list[str]:
    return [slug for slug in re.split(r"[\s,]+", text.strip()) if slug]


def admin_page(page: Page, *, error: str = "", status: int = 200) -> Response:
    me = page.me
    projects = managed_projects(page)
    if not me.manages_site and not projects:
        if error:  # a forged form post: the API's refusal, as the API said it
            raise Refused(status, error)
        raise Refused(403, "Only site managers and the managers of a project may open the admin page.")
    activities = page.api(activities_route.list_activities)
    users = page.api(users_route.list_users) if me.manages_site else []
    return page.render(
        "admin.html",
        status,
        projects=sorted(projects, key=lambda p: p["name"].lower()),
        activities=sorted(activities, key=lambda a: a["slug"] or ""),
        users=users,
        flags=FLAGS,
        error=error,
        form=dict(page.form) if error else {},
    )


def _attempt(page: Page, change: Any, done: str) -> Response:
    """Run one API change; on refusal show the admin page again with the API's words."""
    try:
        change()
    except ApiError as error:
        return admin_page(page, error=error.text, status=error.status)
    return redirect("/admin", done=done)


def create_project(page: Page) -> Response:
    form = page.form
    fields: dict[str, Any] = {"name": form.get("name", "").strip(), "slugs": _slugs(form.get("slugs", ""))}
    if form.get("uri", "").strip():
        fields["uri"] = form["uri"].strip()
    if form.get("default_activity"):
        fields["default_activity"] = form["default_activity"]
    return _attempt(
        page,
        lambda: page.api(projects_route.create_project, method="POST", obj=fields),
        f"Created project {fields['name']}.",
    )


def project_page(page: Page, slug: str = "", *, error: str = "", status: int = 200) -> Response:
    slug = slug or page.request.path_params["slug"]
    try:
        project = page.api(projects_route.get_project, path={"slug": slug})
    except ApiError as problem:
        raise Refused(problem.status, problem.text) from None
    if not auth.may_manage_project(page.me, (project.get("users") or {}).get(page.me.username)):
        if error:  # a forged form post: the API's refusal, as the API said it
            raise Refused(status, error)
        raise Refused(403, f"Only the managers of {project['name']} and site managers may change it.")
    return page.render(
        "project.html",
        status,
        project=project,
        slug=slug,
        roles=ROLES,
        activities=sorted(page.api(activities_route.list_activities), key=lambda a: a["slug"] or ""),
        usernames=sorted(u["username"] for u in page.api(users_route.list_users)),
        error=error,
    )


def update_project(page: Page) -> Response:
    slug = page.request.path_params["slug"]
    form, lists = page.form, page.form_lists
    members: dict[str, dict[str, bool]] = {}
    for name in lists.get("member", []):
        chosen = set(lists.get(f"roles.{name}", []))
        if chosen:
            members[name] = {role: role in chosen for role in ROLES}
    new_user = form.get("new_user", "").strip()
    if new_user:
        chosen = set(lists.get("new_roles", [])) or {"member"}
        members[new_user] = {role: role in chosen for role in ROLES}
    fields: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "slugs": _slugs(form.get("slugs", "")),
        "uri": form.get("uri", "").strip() or None,
        "default_activity": form.get("default_activity") or None,
        "users": members,
    }
    new_slugs = fields["slugs"]
    back = f"/admin/projects/{new_slugs[0] if new_slugs else slug}"
    try:
        page.api(projects_route.update_project, method="POST", path={"slug": slug}, obj=fields)
    except ApiError as error:
        return project_page(page, slug, error=error.text, status=error.status)
    return redirect(back, done="Saved.")


def delete_project(page: Page) -> Response:
    slug = page.request.path_params["slug"]
    return _attempt(
        page,
        lambda: page.api(projects_route.delete_project, method="DELETE", path={"slug": slug}),
        f"Deleted project {slug}.",
    )


def create_activity(page: Page) -> Response:
    fields = {"name": page.form.get("name", "").strip(), "slug": page.form.get("slug", "").strip()}
    return _attempt(
        page,
        lambda: page.api(activities_route.create_activity, method="POST", obj=fields),
        f"Created activity {fields['slug']}.",
    )


def update_activity(page: Page) -> Response:
    slug = page.request.path_params["slug"]
    fields = {"name": page.form.get("name", "").strip(), "slug": page.form.get("slug", "").strip()}
    return _attempt(
        page,
        lambda: page.api(activities_route.update_activity, method="POST", path={"slug": slug}, obj=fields),
        f"Saved activity {fields['slug']}.",
    )


def delete_activity(page: Page) -> Response:
    slug = page.request.path_params["slug"]
    return _attempt(
        page,
        lambda: page.api(activities_route.delete_activity, method="DELETE", path={"slug": slug}),
        f"Deleted activity {slug}.",
    )


def create_user(page: Page) -> Response:
    form = page.form
    fields: dict[str, Any] = {
        "username": form.get("username", "").strip(),
        "password": form.get("password", ""),
    }
    for name in ("display_name", "email"):
        if form.get(name, "").strip():
            fields[name] = form[name].strip()
    for flag in ("site_admin", "site_manager", "site_spectator"):
        if form.get(flag):
            fields[flag] = True
    return _attempt(
        page,
        lambda: page.api(users_route.create_user, method="POST", obj=fields),
        f"Created user {fields['username']}.",
    )


def update_user(page: Page) -> Response:
    """Sends only what changed: a site manager may change few fields of others (the API says which)."""
    username = page.request.path_params["username"]
    form = page.form
    try:
        current = page.api(users_route.get_user, path={"username": username})
    except ApiError as error:
        raise Refused(error.status, error.text) from None
    fields: dict[str, Any] = {}
    for name in ("display_name", "email"):
        value = form.get(name, "").strip() or None
        if value != current.get(name):
            fields[name] = value
    for flag in FLAGS:
        if bool(form.get(flag)) != current[flag]:
            fields[flag] = bool(form.get(flag))
    if form.get("password"):
        fields["password"] = form["password"]
    if not fields:
        return redirect("/admin", done=f"Nothing to change for {username}.")
    return _attempt(
        page,
        lambda: page.api(users_route.update_user, method="POST", path={"username": username}, obj=fields),
        f"Saved user {username}.",
    )


def delete_user(page: Page) -> Response:
    username = page.request.path_params["username"]
    return _attempt(
        page,
        lambda: page.api(users_route.delete_user, method="DELETE", path={"username": username}),
        f"Deleted user {username}.",
    )
