"""A small HTTP client and seed helpers for the black-box API tests.

Everything here talks to a real server over a socket (``http.client``); nothing is mocked. Paths
are sent exactly as given, so tests control percent-encoding, trailing slashes and raw query
strings themselves.
"""

from __future__ import annotations

import datetime as dt
import http.client
import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import quote, urlsplit

import bcrypt

#: One password for every seeded user, sent to ``POST /users`` as a cheap (4-round) bcrypt hash.
#: The server stores a bcrypt hash as given (API doc 2.1), so logins stay fast.
PASSWORD = "s3cret-pass"
PASSWORD_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()

ADMIN = ("admin", "adminpass")

_MISSING: Any = object()
_counter = itertools.count(1)


def today() -> str:
    """The current UTC date as the API prints it (3.1)."""
    return dt.datetime.now(dt.timezone.utc).date().isoformat()


def first_revision(uuid: str) -> dict[str, object]:
    """The server-set fields of an object created today and never updated."""
    return {"uuid": uuid, "revision": 1, "created_at": today(), "updated_at": None, "deleted_at": None}


def unique(prefix: str = "x") -> str:
    """A name that is unique within this test process, valid as slug, username and name."""
    return f"{prefix}{next(_counter)}"


def q(value: str) -> str:
    """Percent-encode one path segment or query value completely."""
    return quote(value, safe="")


def error(status: int, title: str, text: Any, values: list[str] | None = None) -> dict[str, Any]:
    """The exact body of an error response (API doc 6)."""
    body: dict[str, Any] = {"status": status, "error": title, "text": text}
    if values is not None:
        body["values"] = values
    return body


def authz(caller: str, action: str) -> dict[str, Any]:
    """401 AuthZ(action) for ``caller`` (API doc 5, conventions)."""
    return error(401, "Authorization failure", f"{caller} is not authorized to {action}")


def bad_object(text: str) -> dict[str, Any]:
    return error(400, "Bad object", text)


def bad_query(key: str, value: str) -> dict[str, Any]:
    return error(400, "Bad query value", f"Parameter {key} contained invalid value {value}")


def not_found(thing: str) -> dict[str, Any]:
    return error(404, "Object not found", f"Nonexistent {thing}")


def invalid_id(kind: str, identifier: str) -> dict[str, Any]:
    return error(
        400, "The provided identifier was invalid", f"Expected {kind} but received {identifier}", [identifier]
    )


def fk(kind: str, key: str) -> dict[str, Any]:
    return error(409, "Invalid foreign key", f"The {kind} does not contain a valid {key} reference.")


BAD_TOKEN = error(401, "Authentication failure", "Bad API token")
MISSING_CREDENTIALS = error(401, "Authentication failure", "Missing credentials")
BAD_JSON = bad_object("The request body could not be parsed as valid JSON")


ERROR_KEYS = {"status", "error", "text", "values"}


class Response(NamedTuple):
    status: int
    headers: http.client.HTTPMessage
    json: Any
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def assert_client_error(resp: Response) -> None:
    """A 4xx with the catalogue's error shape."""
    assert 400 <= resp.status < 500, (resp.status, resp.body[:300])
    assert isinstance(resp.json, dict), resp.body[:300]
    assert set(resp.json) <= ERROR_KEYS and {"status", "error", "text"} <= set(resp.json), resp.json
    assert resp.json["status"] == resp.status


def assert_no_server_error(resp: Response) -> None:
    assert resp.status < 500, (resp.status, resp.body[:300])
    if resp.status >= 400:
        assert_client_error(resp)


def _encode_query(query: Mapping[str, Any]) -> str:
    parts = []
    for key, value in query.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, bool):
                item = "true" if item else "false"
            parts.append(f"{q(key)}={q(str(item))}")
    return "&".join(parts)


class Api:
    """HTTP helper bound to one server and one version prefix (``/v0`` or ``/v1``).

    ``get``/``post``/``delete`` take a path relative to the version prefix (``/times``). The path
    is sent as given; use :func:`q` for parameters that need escaping.
    """

    def __init__(self, host: str, port: int, version: str = "v1", timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.prefix = f"/{version}" if version else ""
        self.timeout = timeout
        self._tokens: dict[tuple[str, str], str] = {}

    def with_version(self, version: str) -> Api:
        other = Api(self.host, self.port, version, self.timeout)
        other._tokens = self._tokens
        return other

    def close(self) -> None:
        """Nothing to release: every request uses its own connection."""

    # -- raw transport -------------------------------------------------------------------------
    def raw(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        """Send ``target`` (an absolute path with query) exactly as given."""
        all_headers = {"Accept": "application/json", **(headers or {})}
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
        # One connection per request: cheap on loopback, and no request waits on a kept-alive
        # socket's delayed ACK.
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        try:
            conn.request(method, target, body=body, headers=all_headers)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return Response(resp.status, resp.headers, parsed, data)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        token: str | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        params = dict(query or {})
        if token is not None:
            params["token"] = token
        target = self.prefix + path
        if params:
            target += ("&" if "?" in target else "?") + _encode_query(params)
        return self.raw(method, target, body, headers, timeout)

    # -- the verbs ---------------------------------------------------------------------------------
    def get(self, path: str, token: str | None = None, **query: Any) -> Response:
        return self.request("GET", path, query=query, token=token)

    def delete(self, path: str, token: str | None = None, **query: Any) -> Response:
        return self.request("DELETE", path, query=query, token=token)

    def post(
        self,
        path: str,
        obj: Any = _MISSING,
        token: str | None = None,
        *,
        auth: Any = _MISSING,
        timeout: float | None = None,
    ) -> Response:
        """POST ``{"auth": {"type": "token", "token": token}, "object": obj}``.

        ``auth`` replaces the auth block (``None`` sends none); a missing ``obj`` sends no object.
        """
        payload: dict[str, Any] = {}
        if auth is not _MISSING:
            if auth is not None:
                payload["auth"] = auth
        elif token is not None:
            payload["auth"] = {"type": "token", "token": token}
        if obj is not _MISSING:
            payload["object"] = obj
        return self.post_raw(path, json.dumps(payload).encode(), timeout=timeout)

    def post_raw(
        self, path: str, body: bytes, content_type: str = "application/json", timeout: float | None = None
    ) -> Response:
        return self.request("POST", path, body=body, headers={"Content-Type": content_type}, timeout=timeout)

    def login(self, username: str, password: str, auth_type: str = "password") -> Response:
        body = {"auth": {"type": auth_type, "username": username, "password": password}}
        return self.post_raw("/login", json.dumps(body).encode())

    def token(self, username: str, password: str = PASSWORD) -> str:
        """A (cached) token for the user; fails the test if the login fails."""
        key = (username, password)
        if key not in self._tokens:
            resp = self.login(username, password)
            assert resp.status == 200, (username, resp.json)
            self._tokens[key] = resp.json["token"]
        return self._tokens[key]

    def admin_token(self) -> str:
        return self.token(*ADMIN)

    # -- seeding through the API ---------------------------------------------------------------
    def ok(self, resp: Response) -> Any:
        assert resp.status == 200, (resp.status, resp.json or resp.body[:500])
        return resp.json

    def create_user(self, username: str | None = None, token: str | None = None, **fields: Any) -> User:
        name = username or unique("user")
        obj = {"username": name, "password": PASSWORD_HASH, **fields}
        self.ok(self.post("/users", obj, token or self.admin_token()))
        return User(name, PASSWORD, self)

    def create_activity(
        self, slug: str | None = None, name: str | None = None, token: str | None = None
    ) -> dict:
        slug = slug or unique("act")
        return self.ok(
            self.post(
                "/activities", {"name": name or f"Activity {slug}", "slug": slug}, token or self.admin_token()
            )
        )

    def create_project(
        self,
        slugs: list[str] | None = None,
        name: str | None = None,
        token: str | None = None,
        **fields: Any,
    ) -> dict:
        slugs = slugs or [unique("proj")]
        obj = {"name": name or f"Project {slugs[0]}", "slugs": slugs, **fields}
        return self.ok(self.post("/projects", obj, token or self.admin_token()))

    def create_time(self, token: str, user: str, project: str, **fields: Any) -> dict:
        obj = {"duration": 3600, "user": user, "project": project, "date_worked": "2015-04-19", **fields}
        return self.ok(self.post("/times", obj, token))


def make_api(srv: Any, version: str = "v1") -> Api:
    """An :class:`Api` for a server started by ``pymesync.server.testing.serve``."""
    parts = urlsplit(srv.root_url)
    assert parts.hostname is not None and parts.port is not None
    return Api(parts.hostname, parts.port, version)


@dataclass
class User:
    username: str
    password: str
    api: Api = field(repr=False)

    @property
    def token(self) -> str:
        return self.api.token(self.username, self.password)


def roles(member: bool = False, spectator: bool = False, manager: bool = False) -> dict[str, bool]:
    return {"member": member, "spectator": spectator, "manager": manager}


@dataclass
class World:
    """A realistic fixture set, built through the API by :func:`seed`.

    Users: ``admin`` (all site flags, from ``serve``), ``siteadmin`` (site_admin only),
    ``sitemgr`` (site_manager only), ``sitespec`` (site_spectator only), ``pm`` (manager of gwm),
    ``member`` and ``member2`` (members of gwm; member also of pgd), ``spec`` (spectator of gwm)
    and ``loner`` (no roles at all).
    Activities: dev, docs, qa. Projects: gwm (slugs ganeti-webmgr and gwm, default activity dev),
    pgd (no default activity). Times: three by member, one by member2, one by admin.
    """

    api: Api
    users: dict[str, User]
    activities: dict[str, dict]
    projects: dict[str, dict]
    times: dict[str, dict]

    def token(self, who: str) -> str:
        if who == "admin":
            return self.api.admin_token()
        return self.users[who].token

    def get_time(self, name: str) -> dict:
        return self.api.ok(self.api.get(f"/times/{self.times[name]['uuid']}", self.api.admin_token()))


def seed(api: Api) -> World:
    admin = api.admin_token()
    users = {
        "siteadmin": api.create_user("siteadmin", site_admin=True),
        "sitemgr": api.create_user("sitemgr", site_manager=True),
        "sitespec": api.create_user("sitespec", site_spectator=True),
        "pm": api.create_user("pm", display_name="Project Manager", email="pmgr@example.com"),
        "member": api.create_user("member", display_name="Member One"),
        "member2": api.create_user("member2"),
        "spec": api.create_user("spec"),
        "loner": api.create_user("loner", meta="no roles"),
    }
    activities = {
        slug: api.create_activity(slug, name)
        for slug, name in [("dev", "Development"), ("docs", "Documentation"), ("qa", "Quality Assurance")]
    }
    projects = {
        "gwm": api.create_project(
            ["gwm", "ganeti-webmgr"],
            "Ganeti Web Manager",
            uri="https://code.osuosl.org/projects/ganeti-webmgr",
            default_activity="dev",
            users={
                "pm": roles(manager=True),
                "member": roles(member=True),
                "member2": roles(member=True),
                "spec": roles(spectator=True),
                "admin": roles(member=True, spectator=True, manager=True),
            },
        ),
        "pgd": api.create_project(["pgd"], "Protein Geometry Database", users={"member": roles(member=True)}),
    }
    member = users["member"].token
    times = {
        "m1": api.create_time(
            member,
            "member",
            "gwm",
            duration=1200,
            notes="first",
            issue_uri="https://github.com/osuosl/gwm/issues/1",
            date_worked="2015-04-18",
        ),
        "m2": api.create_time(
            member,
            "member",
            "ganeti-webmgr",
            duration=1800,
            activities=["docs", "dev"],
            date_worked="2015-04-20",
        ),
        "m3": api.create_time(member, "member", "pgd", activities=["qa"], date_worked="2015-04-22"),
        "m2b": api.create_time(
            users["member2"].token, "member2", "gwm", duration=600, date_worked="2015-04-19"
        ),
        "a1": api.create_time(
            admin, "admin", "pgd", duration=60, activities=["dev"], date_worked="2015-04-25"
        ),
    }
    return World(api, users, activities, projects, times)


def strip(obj: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


def by_uuid(items: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {item["uuid"]: item for item in items}


TIME_KEYS = {
    "duration",
    "user",
    "project",
    "activities",
    "notes",
    "issue_uri",
    "date_worked",
    "uuid",
    "revision",
    "created_at",
    "updated_at",
    "deleted_at",
}
PROJECT_KEYS = {
    "name",
    "uri",
    "uuid",
    "default_activity",
    "revision",
    "slugs",
    "created_at",
    "updated_at",
    "deleted_at",
}
ACTIVITY_KEYS = {"name", "slug", "uuid", "revision", "created_at", "updated_at", "deleted_at"}
USER_KEYS = {
    "username",
    "display_name",
    "email",
    "meta",
    "site_spectator",
    "site_manager",
    "site_admin",
    "active",
    "created_at",
    "updated_at",
    "deleted_at",
}
