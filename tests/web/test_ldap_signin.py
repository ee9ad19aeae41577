"""Signing in to the web page with a directory password: the page offers the choice when the
server has LDAP login, and the API's own login decides (a real slapd, as in the API's LDAP tests)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from pymesync.server.ldap import LdapSettings
from pymesync.server.testing import create_user, serve
from server.ldap_directory import PEOPLE, Directory, slapd_binary

from .client import WebClient

pytestmark = pytest.mark.skipif(
    slapd_binary() is None, reason="needs OpenLDAP's slapd (Debian: apt-get install slapd ldap-utils)"
)


@pytest.fixture(scope="module")
def client() -> Iterator[WebClient]:
    directory = Directory({"alice": ("alice-ldap-pw", "Alice Liddell", "alice@example.org")})
    directory.start()
    try:
        settings = LdapSettings(url=directory.url, bind_dn=f"uid={{username}},{PEOPLE}")
        with serve(ldap_settings=settings) as server:
            create_user(server.database_url, "alice", "alice-local-pw")
            parts = urlsplit(server.root_url)
            assert parts.hostname is not None and parts.port is not None
            yield WebClient(parts.hostname, parts.port)
    finally:
        directory.remove()


def test_the_sign_in_form_offers_the_directory(client: WebClient) -> None:
    page = client.get("/signin")
    assert page.status == 200
    assert '<option value="ldap">directory (LDAP)</option>' in page.text


def test_a_directory_password_signs_in_and_a_local_one_does_not_count_as_it(client: WebClient) -> None:
    client.get("/signin")
    refused = client.post("/signin", username="alice", password="alice-local-pw", auth_type="ldap", next="/")
    assert refused.status != 303 and "Incorrect username or password" in " ".join(refused.messages())
    answer = client.post("/signin", username="alice", password="alice-ldap-pw", auth_type="ldap", next="/")
    week = client.follow(answer)
    assert week.status == 200 and "Sign out" in week.text and "alice" in week.text
