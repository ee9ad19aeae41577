"""login, logout, whoami, config: credentials never leak, the file fallback is private, exit codes hold."""

from __future__ import annotations

import json
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pymesync.cli._config import _already_normal, _normalize_any

from .conftest import USER, Runner


def test_login_saves_password_in_private_file_when_no_keyring(run: Runner) -> None:
    result = run.login()
    assert "credentials.toml (mode 0600)" in result.stderr
    credentials = run.home / "credentials.toml"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    token_files = list((run.home / "cache").glob("token-*.json"))
    assert len(token_files) == 1 and stat.S_IMODE(token_files[0].stat().st_mode) == 0o600
    config = (run.home / "config.toml").read_text()
    assert USER[1] not in config and "token" not in config
    assert f'url = "{run.server.base_url}"' in config


def test_login_appends_api_version_to_bare_server_url(run: Runner) -> None:
    run("login", "--server", run.server.root_url, "--user", USER[0], "--password-stdin", input=USER[1])
    assert run("config", "get", "url").stdout.strip() == run.server.base_url


def test_wrong_password_exits_4_and_saves_nothing(run: Runner) -> None:
    result = run(
        "login",
        "--server",
        run.server.base_url,
        "--user",
        USER[0],
        "--password-stdin",
        input="wrong\n",
        code=4,
    )
    assert "Traceback" not in result.stderr and "wrong" not in result.stderr
    assert result.stderr.startswith("Error: authentication failed")
    assert not (run.home / "credentials.toml").exists()
    assert not (run.home / "config.toml").exists()


def test_unreachable_server_exits_7(run: Runner) -> None:
    result = run(
        "login", "--server", "http://127.0.0.1:9/v1", "--user", "x", "--password-stdin", input="pw\n", code=7
    )
    assert "cannot reach the TimeSync server" in result.stderr


@pytest.mark.parametrize(
    "url", ["ftp://example.org", "example.org", "http://u:p@example.org/v1", "http://[::1/v1", "http://]/v1"]
)
def test_bad_server_url_is_a_usage_error(run: Runner, url: str) -> None:
    result = run("login", "--server", url, "--user", "x", "--password-stdin", input="pw\n", code=2)
    assert "p@" not in result.stderr and "Traceback" not in result.stderr
    assert run("config", "set", "url", url, code=2).stderr.startswith("Error: ")


_URLS = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "http:/", "http:///", ""]),
        st.sampled_from(["example.org", "127.0.0.1:8000", "h"])
        | st.text(alphabet="ab09.-_~:%@[]?# é/", max_size=10),
        st.sampled_from(["", "/", "/v1", "/api/v2", "/v", "/vx", "/1", "/v1/", "/v١"]),
        st.text(alphabet="/v12?#@ ", max_size=4),
    ),
)


@settings(max_examples=1000)
@given(_URLS)
def test_urls_in_normal_form_are_known_without_urlsplit(url: str) -> None:
    """A URL taken as normal without urllib.parse is one its reading by urlsplit leaves as it is."""
    url = url.strip().rstrip("/")
    if _already_normal(url):
        assert _normalize_any(url) == url


def test_login_without_terminal_or_password_refuses_to_prompt(run: Runner) -> None:
    result = run("--no-input", "login", "--server", run.server.base_url, "--user", USER[0], code=2)
    assert "--password-stdin" in result.stderr


def test_whoami_uses_cached_token_not_the_password(logged_in: Runner) -> None:
    (logged_in.home / "credentials.toml").unlink()  # a command that needed the password would now fail
    result = logged_in("whoami", "--json")
    info = json.loads(result.stdout)
    assert info["user"] == USER[0] and info["password_store"] == "file"


def test_expired_token_is_renewed_silently(logged_in: Runner) -> None:
    token_file = next((logged_in.home / "cache").glob("token-*.json"))
    cached = json.loads(token_file.read_text())
    cached["token"] = "not-a-valid-token"
    token_file.write_text(json.dumps(cached))
    logged_in("whoami")
    assert json.loads(token_file.read_text())["token"] != "not-a-valid-token"


def test_not_logged_in_exits_4(run: Runner) -> None:
    result = run("whoami", code=4)
    assert "timesync login" in result.stderr


def test_environment_credentials_for_ci(run: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMESYNC_URL", run.server.base_url)
    monkeypatch.setenv("TIMESYNC_USER", USER[0])
    monkeypatch.setenv("TIMESYNC_PASSWORD", USER[1])
    info = json.loads(run("whoami", "--json").stdout)
    assert info["password_store"] == "environment"
    assert not (run.home / "credentials.toml").exists()


def test_logout_removes_password_and_token(logged_in: Runner) -> None:
    logged_in("logout")
    assert "alice" not in (logged_in.home / "credentials.toml").read_text()
    assert not list((logged_in.home / "cache").glob("token-*.json"))
    logged_in("whoami", code=4)


def test_profiles_are_separate(run: Runner) -> None:
    run(
        "--profile",
        "work",
        "login",
        "--server",
        run.server.base_url,
        "--user",
        USER[0],
        "--password-stdin",
        input=USER[1],
    )
    assert run("--profile", "work", "config", "get", "user").stdout.strip() == USER[0]
    run("--profile", "other", "config", "get", "user", code=5)


def test_config_get_never_shows_a_secret(logged_in: Runner) -> None:
    everything = logged_in("config", "get").stdout
    assert "password_store=file" in everything
    assert USER[1] not in everything and "token" not in everything


def test_config_set_validates(run: Runner) -> None:
    run("config", "set", "color", "purple", code=2)
    run("config", "set", "target", "40", code=2)
    run("config", "set", "password_store", "file", code=2)
    run("config", "set", "target", "40h")
    assert run("config", "get", "target").stdout.strip() == "40h"
    assert run("config", "path").stdout.strip() == str(run.home / "config.toml")


def test_broken_config_file_is_reported_not_a_traceback(run: Runner) -> None:
    run.home.mkdir(parents=True)
    (run.home / "config.toml").write_text("profile = [unclosed")
    result = run("config", "get", code=1)
    assert "config.toml is not valid TOML" in result.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_generated(run: Runner, shell: str) -> None:
    assert "_TIMESYNC_COMPLETE" in run("completion", shell).stdout


def test_a_config_edited_by_hand_is_read_again(logged_in: Runner) -> None:
    """The parsed config is remembered between commands, but never past a change to the file."""
    logged_in("config", "set", "target", "40h")
    assert logged_in("config", "get", "target").stdout.strip() == "40h"
    path = logged_in.home / "config.toml"
    edited = path.read_text().replace('"40h"', '"41h"')  # the same size, written in place
    with path.open("r+") as handle:
        handle.write(edited)
    assert logged_in("config", "get", "target").stdout.strip() == "41h"
    path.write_text(edited + "\n[broken\n")
    assert "not valid TOML" in logged_in("config", "get", "target", code=1).stderr
