"""Where the web page sits: a face the server mounts only when it is on, built on the server and the
core, never on the clients; its files in the wheel."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

from pymesync.server import storage
from pymesync.server.context import Config
from pymesync.web import session

PACKAGE = Path(__file__).parents[2] / "src" / "pymesync"


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_the_server_loads_the_page_only_to_mount_it() -> None:
    loaded = _modules_after("import pymesync.server.app, pymesync.server.cli")
    assert not any(name.startswith("pymesync.web") for name in loaded)
    assert "jinja2" not in loaded and "pygal" not in loaded


def test_the_page_uses_no_client_and_no_chart_library_until_a_chart() -> None:
    loaded = _modules_after("import pymesync.web.app")
    clients = {"pymesync.client", "pymesync.aio", "pymesync.legacy", "pymesync._transport", "pymesync.cli"}
    assert not clients & loaded
    assert "pygal" not in loaded


def test_no_server_module_imports_the_page_at_module_level() -> None:
    for module in (PACKAGE / "server").rglob("*.py"):
        for line in module.read_text().splitlines():
            if line.startswith(("import pymesync.web", "from pymesync.web")):
                raise AssertionError(f"{module.name}: {line}")


def test_templates_and_vendored_files_are_package_data() -> None:
    web = PACKAGE / "web"
    for name in ("htmx.min.js", "htmx.LICENSE", "pico.min.css", "pico.LICENSE.md", "README.md"):
        assert (web / "static" / "vendor" / name).stat().st_size > 0, name
    assert {path.name for path in (web / "templates").glob("*.html")} >= {
        "base.html",
        "week.html",
        "times.html",
        "entry.html",
        "reports.html",
        "admin.html",
        "project.html",
        "signin.html",
    }
    pyproject = (PACKAGE.parents[1] / "pyproject.toml").read_text()
    assert 'packages = ["src/pymesync"]' in pyproject  # hatch ships every file of the package directory


CONFIG = Config(engine=None, secret="s" * 40, instance_name="t", token_lifetime=60)  # type: ignore[arg-type]


def test_a_session_expires() -> None:
    made = session.signed_in("member", int(time.time() * 1000))
    cookie = session.encode(CONFIG, made)
    assert session.decode(CONFIG, cookie) == made
    later = time.time() + session.LIFETIME_SECONDS + 1
    assert session.decode(CONFIG, cookie, now=later) is None


def test_a_sign_in_without_a_session_id_counts_as_none() -> None:
    """Cookies signed before sign-out was recorded on the server carry no id that could be ended."""
    made = session.signed_in("member", int(time.time() * 1000))
    old = dataclasses.replace(made, session_id=None)
    found = session.decode(CONFIG, session.encode(CONFIG, old))
    assert found is not None and not found.signed_in and found.username is None
    assert found.csrf == made.csrf


def test_ending_a_session_forgets_those_expired(tmp_path: Path) -> None:
    engine = storage.create_engine(f"sqlite:///{tmp_path}/ended.db")
    storage.create_schema(engine)
    config = dataclasses.replace(CONFIG, engine=engine)
    now_ms = int(time.time() * 1000)
    expired = dataclasses.replace(session.signed_in("member", now_ms), expires=int(time.time()) - 1)
    current = session.signed_in("member", now_ms)
    session.end(config, expired)
    session.end(config, current)
    session.end(config, current)
    with storage.transaction(engine) as connection:
        assert session.has_ended(connection, current)
        assert not session.has_ended(connection, expired)
        assert not session.has_ended(connection, session.signed_in("member", now_ms))
    engine.dispose()


def test_a_session_signed_with_another_secret_is_refused() -> None:
    other = Config(engine=None, secret="o" * 40, instance_name="t", token_lifetime=60)  # type: ignore[arg-type]
    cookie = session.encode(other, session.signed_in("admin", int(time.time() * 1000)))
    assert session.decode(CONFIG, cookie) is None
    for broken in ("", "x", "a.b.c", cookie + "x", "." + cookie.split(".")[1]):
        assert session.decode(CONFIG, broken) is None
