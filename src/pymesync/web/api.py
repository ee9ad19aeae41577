"""Every change the page makes, and every read of one object, goes through the API's own handlers,
in process: the same validation, the same permission checks, the same revision rows and the same
error texts as a client of ``/v1`` would meet. The page never decides a permission itself.

The handlers authenticate with a token; :func:`call` issues a short-lived one for the signed-in
user, which lives only in this process's memory for the length of the call (never in a cookie,
a URL or a page).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import Headers

from pymesync.server import auth
from pymesync.server.context import Config, Context, Handler, run_handler
from pymesync.server.errors import ApiError

#: Lifetime of the token of one in-process call (it is never seen outside the call).
CALL_TOKEN_LIFETIME = 60.0


def _token(config: Config, username: str) -> str:
    return auth.make_token(config.secret, config.instance_name, username, lifetime=CALL_TOKEN_LIFETIME)


def call(
    config: Config,
    username: str | None,
    handler: Handler,
    *,
    method: str = "GET",
    path: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    obj: object = None,
    body: object = None,
    headers: Headers | None = None,
    peer: str | None = None,
) -> Any:
    """Run ``handler`` as ``username`` in this thread (a page handler's, in the thread pool) and
    return its JSON answer (None for an empty one).

    GET and DELETE carry the token in the query, POST in ``auth`` beside ``obj``; ``body`` replaces
    the whole POST body (login). An :class:`ApiError` is raised as the API would have answered it.
    """
    values = {name: [value] for name, value in (query or {}).items()}
    if method == "POST" and body is None:
        body = {"object": obj}
        if username is not None:
            body["auth"] = {"type": "token", "token": _token(config, username)}
    elif method != "POST" and username is not None:
        values["token"] = [_token(config, username)]
    context = Context(
        config=config,
        path_params=dict(path or {}),
        query=values,
        body=body,
        headers=headers if headers is not None else Headers(),
        peer=peer,
    )
    response = run_handler(handler, context)
    raw = bytes(response.body)
    return json.loads(raw) if raw else None


__all__ = ["ApiError", "call"]
