"""What the server offers (``GET /v1/``) is remembered between commands, and asked again when it matters."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pymesync.cli._app import EXTENSIONS_TTL
from pymesync.server.testing import RunningServer

from .conftest import Runner, seeded_server


def _saved(home: Path) -> dict[str, object]:
    (path,) = (home / "cache").glob("extensions-*.json")
    data: dict[str, object] = json.loads(path.read_text())
    return data


def _rewrite(home: Path, **values: object) -> None:
    (path,) = (home / "cache").glob("extensions-*.json")
    path.write_text(json.dumps({**_saved(home), **values}))


def test_asked_once_then_again_when_a_day_old(logged_in: Runner, requests_sent: list[str]) -> None:
    logged_in("ls")
    assert requests_sent == ["GET /", "GET /changes/projects", "GET /changes/times"]
    assert "changes:times" in _saved(logged_in.home)["extensions"]  # type: ignore[operator]
    requests_sent.clear()
    logged_in("ls")
    assert requests_sent == ["GET /changes/projects", "GET /changes/times"]
    requests_sent.clear()
    _rewrite(logged_in.home, saved=time.time() - EXTENSIONS_TTL - 1)
    logged_in("ls")
    assert requests_sent == ["GET /", "GET /changes/projects", "GET /changes/times"]
    assert time.time() - float(_saved(logged_in.home)["saved"]) < 60  # type: ignore[arg-type]


def test_saved_for_another_server_is_not_used(logged_in: Runner, requests_sent: list[str]) -> None:
    logged_in("ls")
    _rewrite(logged_in.home, url="http://127.0.0.1:1/v1")
    requests_sent.clear()
    logged_in("ls")
    assert requests_sent[0] == "GET /"


def test_an_edit_asks_before_its_revision_check(logged_in: Runner, requests_sent: list[str]) -> None:
    logged_in("log", "1h", "gwm", "--date", "2026-02-02")
    requests_sent.clear()
    logged_in("edit", "last", "--duration", "2h")
    assert "GET /" in requests_sent
    assert requests_sent.index("GET /") < next(
        n for n, sent in enumerate(requests_sent) if sent.startswith("POST /times/")
    )


@pytest.fixture(scope="module")
def plain_server() -> Iterator[RunningServer]:
    """Our server with the extensions off: no feed, no If-Match (as the reference server)."""
    yield from seeded_server(sync_extensions=False)


def test_a_feed_that_went_away_is_noticed(
    plain_server: RunningServer, home: Path, requests_sent: list[str]
) -> None:
    run = Runner(plain_server, home)
    run.login()
    run("log", "1h", "gwm", "--date", "2026-02-03")
    assert _saved(home)["extensions"] == []
    # as if saved while the extensions were on: the feed is refused, asked again, and read in full
    _rewrite(home, extensions=["changes:projects", "changes:times", "if_match"])
    requests_sent.clear()
    listed = run("ls", "--period", "2026-02")
    assert "2026-02-03" in listed.stdout
    assert requests_sent == ["GET /changes/projects", "GET /", "GET /projects", "GET /times"]
    assert _saved(home)["extensions"] == []


def test_a_stale_if_match_is_not_trusted_for_an_edit(
    plain_server: RunningServer, home: Path, requests_sent: list[str]
) -> None:
    run = Runner(plain_server, home)
    run.login()
    run("log", "1h", "gwm", "--date", "2026-02-04")
    _rewrite(home, extensions=["if_match"])
    requests_sent.clear()
    run("edit", "last", "--duration", "2h")
    # asked again, so the revision is read first (the fallback) instead of an If-Match nobody checks
    post = next(n for n, sent in enumerate(requests_sent) if sent.startswith("POST /times/"))
    assert "GET /" in requests_sent[:post]
    assert any(sent.startswith("GET /times/") for sent in requests_sent[requests_sent.index("GET /") : post])
