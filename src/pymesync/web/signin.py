"""Sign in and out with the API's own login (password, or LDAP when the server has it)."""

from __future__ import annotations

from starlette.responses import Response

from pymesync.server import auth
from pymesync.server.errors import ApiError
from pymesync.server.routes import login as login_route
from pymesync.web import api, session
from pymesync.web.page import Page, local_path, redirect


def _next(page: Page) -> str:
    """Where to go after signing in: a path on this site only (never ``//elsewhere``)."""
    return local_path(page.form.get("next") or page.params.get("next") or "/", "/")


def signin_page(page: Page, *, error: str = "", status: int = 200) -> Response:
    if page.caller is not None and not error:
        return redirect(_next(page))
    return page.render(
        "signin.html",
        status,
        error=error,
        next=_next(page),
        username=page.form.get("username", ""),
        auth_types=page.config.auth_modules,
    )


def sign_in(page: Page) -> Response:
    username, password = page.form.get("username", ""), page.form.get("password", "")
    auth_type = page.form.get("auth_type", "password")
    body = {"auth": {"type": auth_type, "username": username, "password": password}}
    try:
        answer = api.call(
            page.config,
            None,
            login_route.login,
            method="POST",
            body=body,
            headers=page.request.headers,
            peer=page.request.client.host if page.request.client is not None else None,
        )
    except ApiError as error:
        return signin_page(page, error=error.text, status=error.status)
    claims = auth.token_claims(
        answer["token"], page.config.secret, page.config.instance_name, lifetime=page.config.token_lifetime
    )
    if claims is None:  # issued a moment ago with our own secret: cannot happen
        return signin_page(page, error="The sign-in could not be completed; try again.", status=500)
    page.session = session.signed_in(claims.subject, int(claims.issued_at))
    return redirect(_next(page))


def sign_out(page: Page) -> Response:
    """End the session on the server (a copy of the cookie is refused too), then in this browser."""
    if page.session.signed_in:
        session.end(page.config, page.session)
    page.session = session.anonymous()
    return redirect("/signin", done="Signed out.")
