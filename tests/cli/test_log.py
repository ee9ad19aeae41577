"""timesync log: durations, project slugs and prefixes, default activity, dates, refusals."""

from __future__ import annotations

import datetime

import pytest

from pymesync import Client

from .conftest import USER, Runner


def _entries(run: Runner, day: datetime.date) -> list:
    with Client(run.server.base_url, username=USER[0], password=USER[1]) as client:
        return client.times.list(user=USER[0], start=day, end=day)


def test_log_uses_default_activity_and_prints_day_total(logged_in: Runner) -> None:
    day = datetime.date(2026, 1, 5)
    before = sum(entry.duration for entry in _entries(logged_in, day))
    result = logged_in("log", "1h30m", "gwm", "--date", day.isoformat(), "-m", "wrote docs")
    assert result.stdout.startswith("Logged 1h30m on gwm (dev), 2026-01-05")
    from pymesync._duration import format_human_duration

    assert f"Total 2026-01-05: {format_human_duration(before + 5400)}" in result.stdout
    stored = [entry for entry in _entries(logged_in, day) if entry.notes == "wrote docs"]
    assert stored and stored[-1].duration == 5400 and stored[-1].activities == ("dev",)


def test_log_by_other_slug_prefix_and_activity_prefix(logged_in: Runner) -> None:
    day = datetime.date(2026, 1, 6)
    logged_in("log", "1.5h", "gan", "do", "rev", "--date", day.isoformat())
    entry = _entries(logged_in, day)[-1]
    assert entry.duration == 5400 and sorted(entry.activities) == ["docs", "review"]
    assert "gwm" in entry.project


def test_ambiguous_project_lists_candidates(logged_in: Runner) -> None:
    result = logged_in("log", "1h", "gw", code=2)
    assert "ambiguous" in result.stderr and "gwm" in result.stderr and "gwmx" in result.stderr


def test_unknown_project_exits_5(logged_in: Runner) -> None:
    result = logged_in("log", "1h", "nosuch", code=5)
    assert "no project 'nosuch'" in result.stderr


def test_project_without_default_activity_needs_one(logged_in: Runner) -> None:
    result = logged_in("log", "1h", "pgd", code=2)
    assert "no default activity" in result.stderr
    logged_in("log", "1h", "pgd", "dev", "--date", "2026-01-07")


def test_a_field_the_server_refuses_is_named_in_plain_words(logged_in: Runner) -> None:
    day = datetime.date(2026, 1, 9)
    result = logged_in("log", "1h", "gwm", "--date", day.isoformat(), "--issue", "not a link", code=2)
    assert result.stderr.strip() == (
        "Error: the issue link must be a full address, such as https://example.org/issues/12"
    )
    assert _entries(logged_in, day) == []


@pytest.mark.parametrize("duration", ["90", "1.5", "abc", "0m", "1:75", "1h30", "1h30x", ""])
def test_bad_durations_exit_2_with_the_accepted_forms(logged_in: Runner, duration: str) -> None:
    result = logged_in("log", duration, "gwm", "--date", "2026-01-08", code=2)
    assert "1h30m, 90m, 1.5h, 1:30 or 45m" in result.stderr
    assert _entries(logged_in, datetime.date(2026, 1, 8)) == []


def test_bad_date_exits_2(logged_in: Runner) -> None:
    result = logged_in("log", "1h", "gwm", "--date", "someday", code=2)
    assert "mon..sun" in result.stderr


def test_weekday_date_is_the_latest_such_day(logged_in: Runner) -> None:
    result = logged_in("log", "15m", "gwm", "--date", "mon")
    day = datetime.date.fromisoformat(result.stdout.split(", ")[1].split(" ")[0])
    today = datetime.date.today()
    assert day.weekday() == 0 and 0 <= (today - day).days < 7


def test_logging_for_someone_else_without_rights_exits_4(logged_in: Runner) -> None:
    logged_in("log", "1h", "gwm", "--user", "admin", "--date", "2026-01-09", code=4)


def test_log_resolves_slugs_from_the_cached_catalogue(logged_in: Runner, requests_sent: list[str]) -> None:
    logged_in("log", "20m", "gwm", "--date", "2026-01-20")
    first_sync = ["GET /", "GET /changes/times"]  # what the server offers; the entry cache, read in full
    assert requests_sent == [*first_sync, "GET /projects", "GET /activities", "POST /times"]
    requests_sent.clear()
    logged_in("log", "20m", "gan", "docs", "--date", "2026-01-20")
    # what the server offers is remembered; the outbox reconciles the entry cache before it sends (so a
    # lost answer is never sent twice), and the day's total comes from that cache
    assert requests_sent == ["GET /changes/times", "POST /times"]


def test_a_project_missing_from_the_cache_is_looked_up_again(
    logged_in: Runner, requests_sent: list[str]
) -> None:
    logged_in("log", "20m", "gwm", "--date", "2026-01-21")
    with Client(logged_in.server.base_url, username="admin", password="adminpass") as admin:
        member = {"member": True, "spectator": False, "manager": False}
        admin.projects.create(name="Fresh", slugs=["fresh"], default_activity="dev", users={USER[0]: member})
    requests_sent.clear()
    assert logged_in("log", "20m", "fresh", "--date", "2026-01-21").stdout.startswith("Logged 20m on fresh")
    assert requests_sent == ["GET /changes/times", "GET /projects", "GET /activities", "POST /times"]
    assert "no project 'nothere'" in logged_in("log", "20m", "nothere", code=5).stderr


def test_catalogue_commands_forget_the_cache(logged_in: Runner) -> None:
    logged_in("log", "20m", "gwm", "--date", "2026-01-22")
    cached = list((logged_in.home / "cache").glob("catalogue-*.json"))
    assert len(cached) == 1 and oct(cached[0].stat().st_mode & 0o777) == "0o600"
    logged_in("projects", "ls")
    assert not cached[0].exists()
