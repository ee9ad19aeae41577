"""A browser without a browser: forms and cookies over a real socket, redirects not followed, so
request-level tests see every status, header and cookie the page sends."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import urlencode

COOKIE = "timesync_session"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_MESSAGE = re.compile(r'role="(?:alert|status)"[^>]*>([^<]*)<')


@dataclass
class Page:
    status: int
    headers: dict[str, str]
    text: str
    set_cookies: list[str] = field(default_factory=list)

    @property
    def location(self) -> str:
        return self.headers.get("location", "")

    def csrf(self) -> str:
        found = _CSRF.search(self.text)
        assert found is not None, self.text[:500]
        return found.group(1)

    def messages(self) -> list[str]:
        return [unescape(text).strip() for text in _MESSAGE.findall(self.text)]


class WebClient:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cookie: str | None = None
        self.csrf_token = ""

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Page:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        sent = dict(headers or {})
        if self.cookie is not None:
            sent["Cookie"] = f"{COOKIE}={self.cookie}"
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
            cookies = [value for name, value in response.getheaders() if name.lower() == "set-cookie"]
            page = Page(response.status, {k.lower(): v for k, v in response.getheaders()}, text, cookies)
        finally:
            connection.close()
        for cookie in cookies:
            name, _, rest = cookie.partition("=")
            if name == COOKIE:
                value = rest.split(";")[0].strip('"')
                self.cookie = value or None
        found = _CSRF.search(text)
        if found is not None:
            self.csrf_token = found.group(1)
        return page

    def get(self, path: str, **query: Any) -> Page:
        return self.request("GET", f"{path}?{urlencode(query, doseq=True)}" if query else path)

    def post(self, path: str, *, csrf: str | None = None, **fields: Any) -> Page:
        values = {"csrf": self.csrf_token if csrf is None else csrf, **fields}
        body = urlencode(values, doseq=True).encode()
        return self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})

    def follow(self, page: Page) -> Page:
        """The page a 303 leads to."""
        assert page.status == 303, (page.status, page.messages(), page.text[:300])
        return self.get(page.location)

    def sign_in(self, username: str, password: str) -> Page:
        self.get("/signin")
        answer = self.post("/signin", username=username, password=password, next="/")
        assert answer.status == 303, (answer.status, answer.messages())
        return self.follow(answer)
