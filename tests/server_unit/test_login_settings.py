"""LDAP escaping, the LDAP and login-throttle settings, and how ``timesync-server serve`` reports bad ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pymesync.server import ldap, throttle
from pymesync.server.errors import ConfigError

BIND_DN = "uid={username},ou=people,dc=example,dc=org"


@pytest.mark.parametrize(
    ("username", "in_dn", "in_filter"),
    [
        ("*", "*", "\\2a"),
        (")(", ")(", "\\29\\28"),
        ("\\", "\\\\", "\\5c"),
        ("a\x00b", "a\\00b", "a\\00b"),
        ("a,ou=x", "a\\,ou\\=x", "a,ou=x"),
        ("=", "\\=", "="),
        ("#a b ", "\\#a b\\ ", "#a b "),
        ('a+"<>;', 'a\\+\\"\\<\\>\\;', 'a+"<>;'),
        ("alice", "alice", "alice"),
    ],
)
def test_escaping_follows_rfc_4514_and_4515(username: str, in_dn: str, in_filter: str) -> None:
    assert ldap.escape_dn_value(username) == in_dn
    assert ldap.escape_filter_value(username) == in_filter


def _env(**values: str) -> dict[str, str]:
    return {f"TIMESYNC_LDAP_{name.upper()}": value for name, value in values.items()}


def test_settings_from_the_environment() -> None:
    assert ldap.settings({}) is None
    env = _env(
        url="ldaps://ldap.example.org", search_base="ou=people,dc=example,dc=org", service_dn="cn=reader"
    )
    found = ldap.settings(
        {**env, **_env(service_password="s3cret", timeout="2.5", unknown_users="create", verify="no")}
    )
    assert found is not None
    assert (found.search_filter, found.timeout, found.create_users, found.verify) == (
        "(uid={username})",
        2.5,
        True,
        False,
    )
    assert "s3cret" not in repr(found)
    assert ldap.auth_modules({}, found) == ("password", "ldap")
    assert ldap.auth_modules({}, None) == ("password",)
    assert ldap.auth_modules({"TIMESYNC_AUTH_MODULES": '["ldap"]'}, found) == ("ldap",)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (_env(url="http://ldap.example.org", bind_dn=BIND_DN), "is not an LDAP server URL"),
        (_env(url="ldap://ldap.example.org:x", bind_dn=BIND_DN), "has a bad port"),
        (_env(url="ldap://cn=admin:hunter2@h", bind_dn=BIND_DN), "must not contain a user or password"),
        (_env(url="ldap://h/dc=x??sub", bind_dn=BIND_DN), "has a query or fragment"),
        (_env(url="ldap://h"), "set either an LDAP bind DN template or an LDAP search base"),
        (_env(url="ldap://h", bind_dn=BIND_DN, search_base="dc=x"), "not both or neither"),
        (_env(url="ldap://h", bind_dn="uid=x,dc=example"), "must contain {username} once"),
        (_env(url="ldap://h", bind_dn="uid={username},cn={other}"), "no other braces"),
        (_env(url="ldap://h", search_base="dc=x", search_filter="uid={username}"), "in parentheses"),
        (_env(url="ldap://h", search_base="dc=x", service_dn="cn=reader"), "needs its password"),
        (
            _env(url="ldap://h", bind_dn=BIND_DN, service_dn="cn=r", service_password="p"),
            "only with a search base",
        ),
        (_env(url="ldaps://h", bind_dn=BIND_DN, start_tls="yes"), "StartTLS is for ldap://"),
        (_env(url="ldap://h", bind_dn=BIND_DN, start_tls="maybe"), "must be yes or no"),
        (
            _env(url="ldap://h", bind_dn=BIND_DN, ca_file="/nonexistent/ca.pem"),
            "cannot read the LDAP CA file",
        ),
        (_env(url="ldap://h", bind_dn=BIND_DN, timeout="0"), "timeout must be 0.1 to 60"),
        (_env(url="ldap://h", bind_dn=BIND_DN, timeout="soon"), "must be a number of seconds"),
        (_env(url="ldap://h", bind_dn=BIND_DN, unknown_users="welcome"), "must be refuse or create"),
        (_env(url="ldap://h", bind_dn=BIND_DN, email_attribute="mail)(x"), "is not an LDAP attribute name"),
        (_env(bind_dn=BIND_DN), "TIMESYNC_LDAP_BIND_DN is set but TIMESYNC_LDAP_URL is not"),
    ],
)
def test_bad_ldap_settings_are_one_line_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        ldap.settings(env)
    assert (
        message in str(raised.value) and "\n" not in str(raised.value) and "hunter2" not in str(raised.value)
    )


def test_the_service_password_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "bind-password"
    path.write_text("reader-secret\n")
    env = _env(url="ldap://h", search_base="dc=x", service_dn="cn=reader", service_password_file=str(path))
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="is open to group or others"):
        ldap.settings(env)
    path.chmod(0o600)
    found = ldap.settings(env)
    assert found is not None and found.service_password == "reader-secret"
    with pytest.raises(ConfigError, match="not both"):
        ldap.settings({**env, "TIMESYNC_LDAP_SERVICE_PASSWORD": "x"})
    with pytest.raises(ConfigError, match="enables ldap but TIMESYNC_LDAP_URL is not set"):
        ldap.auth_modules({"TIMESYNC_AUTH_MODULES": '["password", "ldap"]'}, None)


def test_throttle_settings() -> None:
    assert throttle.settings({}) == (throttle.DEFAULT, ())
    assert throttle.parse("off") == throttle.OFF and not throttle.OFF.enabled
    custom = throttle.parse("user=10/60, address=off")
    assert (custom.user, custom.address, custom.user_address) == (
        throttle.Bucket(10, 60),
        None,
        throttle.DEFAULT.user_address,
    )
    for spec, message in [
        ("users=1/2", "is not user-address"),
        ("user=1", "is not NAME=LIMIT/SECONDS"),
        ("user=0/60", "needs a limit"),
    ]:
        with pytest.raises(ConfigError, match=message):
            throttle.parse(spec)
    with pytest.raises(ConfigError, match="is not an IP address or network"):
        throttle.settings({"TIMESYNC_FORWARDED_ALLOW_IPS": "10.0.0.0/8,proxy.example.org"})


def test_the_client_address_is_the_peer_unless_a_trusted_proxy_forwarded_it() -> None:
    proxies = throttle.parse_networks(["10.0.0.0/8", "192.0.2.1"])
    assert throttle.client_address("203.0.113.5", "198.51.100.1", ()) == "203.0.113.5"
    assert throttle.client_address("203.0.113.5", "198.51.100.1", proxies) == "203.0.113.5"  # not a proxy
    assert throttle.client_address("10.1.2.3", "198.51.100.1", proxies) == "198.51.100.1"
    assert throttle.client_address("10.1.2.3", "6.6.6.6, 198.51.100.1, 192.0.2.1", proxies) == "198.51.100.1"
    assert throttle.client_address("10.1.2.3", None, proxies) == "10.1.2.3"


@pytest.mark.parametrize(
    ("arguments", "env", "message"),
    [
        (
            ["--ldap-url", "ftp://ldap.example.org", "--ldap-bind-dn", BIND_DN],
            {},
            "is not an LDAP server URL",
        ),
        (
            ["--ldap-url", "ldap://h", "--ldap-search-base", "dc=x", "--ldap-service-dn", "cn=r"],
            {},
            "needs its password",
        ),
        (["--login-throttle", "user=fast"], {}, "is not NAME=LIMIT/SECONDS"),
        (
            [],
            {
                "TIMESYNC_LDAP_URL": "ldap://h",
                "TIMESYNC_LDAP_TIMEOUT": "-1",
                "TIMESYNC_LDAP_BIND_DN": BIND_DN,
            },
            "timeout",
        ),
        (["--forwarded-allow-ips", "everyone"], {}, "is not an IP address"),
    ],
)
def test_serve_refuses_bad_login_settings_before_it_starts(
    tmp_path: Path, arguments: list[str], env: dict[str, str], message: str
) -> None:
    """One line on stderr and exit code 2; the database is not even created."""
    database = tmp_path / "never.db"
    clean = {name: value for name, value in os.environ.items() if not name.startswith("TIMESYNC_")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pymesync.server.cli",
            "serve",
            "--database",
            f"sqlite:///{database}",
            *arguments,
        ],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and message in result.stderr
    assert not database.exists()
