"""What every page handler shares: the session and the signed-in caller, the CSRF check of every
form, in-process API calls, and rendering (a whole page, or one block of it for htmx).

Handlers are synchronous ``(Page) -> Response`` functions run in the thread pool, like the API's
handlers: the caller, the reads and the template rendering of one request happen in one thread.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from pymesync import _duration, _wording
from pymesync.server import auth, storage
from pymesync.server.context import Config, Handler, caller_signed_in
from pymesync.server.errors import ApiError
from pymesync.web import api, session

#: The page's own policy: scripts, styles and everything else only from this origin (so no inline
#: script or style anywhere), forms only to it, no framing. Images may also be ``data:`` URLs: Pico
#: CSS draws its checkboxes and select arrows with them (an image runs no script).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'; object-src 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
TEMPLATES = Path(__file__).parent / "templates"


def _hours(seconds: int | None) -> str:
    return _duration.format_human_duration(int(seconds or 0)) if seconds else ""


def _decimal(seconds: int | None) -> str:
    return _duration.format_decimal_hours(int(seconds or 0))


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["hours"] = _hours
    environment.filters["decimal"] = _decimal
    environment.globals["query"] = lambda values: urlencode(values)
    return environment


ENVIRONMENT = _environment()


class Refused(Exception):
    """A page the caller may not open (403), or an object that is not there for them (404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass
class Page:
    request: Request
    config: Config
    session: session.Session
    caller: auth.Caller | None
    form: Mapping[str, str]
    form_lists: Mapping[str, list[str]]
    flash: str = ""
    _projects: list[dict[str, Any]] | None = dataclasses.field(default=None, repr=False)

    @property
    def params(self) -> Mapping[str, str]:
        return self.request.query_params

    @property
    def me(self) -> auth.Caller:
        if self.caller is None:
            raise Refused(401, "Sign in first.")
        return self.caller

    @property
    def today(self) -> datetime.date:
        """Today in the server's local time zone (``TZ``), where its team works; not UTC, which would
        turn the evening of a team west of Greenwich into tomorrow."""
        return datetime.date.today()

    @property
    def partial(self) -> bool:
        """Whether htmx asked for a part of a page (an element's own ``hx-get``/``hx-post``), not a
        whole one (a browser without JavaScript, or a link or form that htmx boosts)."""
        headers = self.request.headers
        return headers.get("hx-request") == "true" and headers.get("hx-boosted") != "true"

    def api(self, handler: Handler, **arguments: Any) -> Any:
        """Call an API handler as the signed-in user (see :func:`api.call`)."""
        return api.call(self.config, self.me.username, handler, **arguments)

    def projects(self) -> list[dict[str, Any]]:
        """GET /projects as the caller: every project for site managers, else those they hold a role
        in. Read once per request (the nav, the log form and the admin page all ask)."""
        if self._projects is None:
            from pymesync.server.routes import projects

            me = self.me
            self._projects = self.api(
                projects.list_projects, query={} if me.manages_site else {"user": me.username}
            )
        return self._projects

    def may_admin(self) -> bool:
        """Whether the Admin link is shown: the caller manages the site or one of its projects."""
        from pymesync.web import admin

        return self.caller is not None and admin.may_open(self)

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        """The page: the same whole page for a browser and for htmx (which swaps in its body)."""
        values.update(
            page=self,
            caller=self.caller,
            csrf=self.session.csrf,
            flash=self.flash,
            request_path=self.request.url.path,
        )
        html = ENVIRONMENT.get_template(template).render(values)
        return HTMLResponse(html, status, headers=PAGE_HEADERS)


def local_path(target: str, default: str) -> str:
    """``target`` when it is a path on this site, else ``default``: never ``//elsewhere`` or
    ``/\\elsewhere``, which browsers follow to another host."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) else default


def redirect(path: str, **query: str) -> Response:
    """See other: the answer to a form post, so reloading the page does not post it again."""
    joiner = "&" if "?" in path else "?"
    target = f"{path}{joiner}{urlencode(query)}" if query else path
    return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)


PageHandler = Callable[[Page], Response]


def time_form_error(error: ApiError) -> str:
    """What to tell the person whose time entry form the API refused: plain words for a field's
    problem (see :mod:`pymesync._wording`), else the API's own text."""
    plain = _wording.plain_time_error(error.text)
    return error.text if plain is None else f"{plain[0].upper()}{plain[1:]}."


def _resolve(config: Config, found: session.Session | None) -> auth.Caller | None:
    if found is None or not found.signed_in:
        return None
    assert found.username is not None and found.signed_in_at is not None
    with storage.transaction(config.engine) as connection:
        if session.has_ended(connection, found):
            return None
        return caller_signed_in(connection, found.username, found.signed_in_at)


#: Where htmx puts an error page answered to a request for a part: in place of the page's main
#: element, so that a refusal never lands inside a table row.
ERROR_IN_PLACE_OF_MAIN = {"HX-Retarget": "#main", "HX-Reswap": "outerHTML", "HX-Reselect": "#main"}


def _error_page(page: Page, status: int, message: str) -> Response:
    response = page.render("error.html", status, message=message)
    if page.partial:
        response.headers.update(ERROR_IN_PLACE_OF_MAIN)
    return response


#: Largest form accepted; the page's forms are a few hundred bytes.
MAX_FORM_BYTES = 256 * 1024


async def _form_pairs(request: Request) -> list[tuple[str, str]] | None:
    """The fields of a URL-encoded form (all the page sends; no uploads, so no multipart parser),
    or None for another kind of body or one over :data:`MAX_FORM_BYTES`."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", ""):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=2000)


def endpoint(
    config: Config, handler: PageHandler, *, public: bool = False
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint around a page handler: the session, the caller (else to sign-in), the
    CSRF token of a form post (else 403), and the cookie's renewal."""

    async def run(request: Request) -> Response:
        found = session.decode(config, request.cookies.get(session.COOKIE))
        form: dict[str, str] = {}
        form_lists: dict[str, list[str]] = {}
        if request.method == "POST":
            pairs = await _form_pairs(request)
            if pairs is None:
                return HTMLResponse("Forms are sent URL-encoded, up to 256 KiB.", 400, headers=PAGE_HEADERS)
            for name, value in pairs:
                form.setdefault(name, value)
                form_lists.setdefault(name, []).append(value)
        current = found or session.anonymous()
        page = Page(request, config, current, None, form, form_lists, request.query_params.get("done", ""))

        def work() -> Response:
            page.caller = _resolve(config, found)
            if request.method == "POST" and not session.csrf_matches(current, form.get(session.CSRF_FIELD)):
                return _error_page(
                    page, 403, "This form has expired or did not come from this site; reload and try again."
                )
            if page.caller is None and not public:
                if found is not None and found.signed_in:
                    page.session = session.anonymous()
                return (
                    redirect("/signin", next=request.url.path)
                    if request.method == "GET"
                    else _error_page(page, 401, "Your session has ended; sign in again.")
                )
            try:
                return handler(page)
            except Refused as refused:
                return _error_page(page, refused.status, refused.message)

        response = await run_in_threadpool(work)
        if page.session is not found:
            session.store(response, request, config, page.session)
        return response

    return run
