"""ls, show, edit, rm, undo against the real server."""

from __future__ import annotations

import json

from pymesync import Client

from .conftest import USER, Runner


def _log(run: Runner, *args: str) -> str:
    """Log an entry and return its uuid (read back through `show last --json`)."""
    run("log", *args)
    return json.loads(run("show", "last", "--json").stdout)["uuid"]


def test_ls_lists_the_period_with_daily_subtotals(logged_in: Runner) -> None:
    _log(logged_in, "1h", "gwm", "--date", "2026-02-02", "-m", "first")
    _log(logged_in, "30m", "pgd", "docs", "--date", "2026-02-02")
    _log(logged_in, "2h", "gwm", "--date", "2026-02-04")
    plain = logged_in("ls", "--period", "2026-W06").stdout.splitlines()
    assert "2026-02-02 total\t1h30m" in "\n".join(plain).replace("\t\t", "\t")
    assert sum("total" in line for line in plain) == 2
    records = json.loads(logged_in("ls", "--period", "2026-W06", "--json").stdout)
    assert sorted(record["duration"] for record in records) == [1800, 3600, 7200]
    only_gwm = json.loads(
        logged_in("ls", "--since", "2026-02-01", "--until", "2026-02-28", "-p", "gan", "--json").stdout
    )
    assert {record["duration"] for record in only_gwm} == {3600, 7200}
    table = logged_in("ls", "--period", "2026-W06", "-f", "table").stdout
    assert "3 entries, 3h30m from 2026-02-02 to 2026-02-08" in table


def test_ls_bad_period_and_conflicting_options_exit_2(logged_in: Runner) -> None:
    assert "YYYY-Www" in logged_in("ls", "--period", "2026-W60", code=2).stderr
    logged_in("ls", "--week", "--month", code=2)
    logged_in("ls", "--week", "--since", "mon", code=2)


def test_ls_csv_and_md(logged_in: Runner) -> None:
    _log(logged_in, "45m", "gwm", "--date", "2026-02-10", "-m", "a|b, c")
    csv_out = logged_in("ls", "--period", "2026-02-10", "-f", "csv").stdout.splitlines()
    assert csv_out[0].startswith("uuid,") and '"a|b, c"' in csv_out[1]
    md = logged_in("ls", "--period", "2026-02-10", "-f", "md").stdout
    assert "a\\|b, c" in md and md.startswith("| id | date |")


def test_show_by_prefix(logged_in: Runner) -> None:
    uuid = _log(logged_in, "1h", "gwm", "--date", "2026-02-11", "-m", "show me")
    out = logged_in("show", uuid[:8]).stdout
    assert "show me" in out and uuid in out
    logged_in("show", "zz", code=2)
    logged_in("show", "ffffffff", code=5)


def test_edit_changes_fields_and_undo_reverts(logged_in: Runner) -> None:
    uuid = _log(logged_in, "1h", "gwm", "--date", "2026-02-12")
    logged_in("edit", "last", "--duration", "+15m", "-m", "edited", "-p", "pgd")
    shown = json.loads(logged_in("show", uuid, "--json").stdout)
    assert shown["duration"] == 4500 and shown["notes"] == "edited" and shown["project"] == ["pgd"]
    assert "Undid the edit" in logged_in("undo").stdout
    shown = json.loads(logged_in("show", uuid, "--json").stdout)
    assert shown["duration"] == 3600 and "gwm" in shown["project"]
    logged_in("undo", code=5)


def test_undo_brings_back_notes_an_edit_cleared(logged_in: Runner) -> None:
    uuid = _log(logged_in, "1h", "gwm", "--date", "2026-02-14", "-m", "keep me")
    logged_in("edit", uuid, "-m", "")
    assert json.loads(logged_in("show", uuid, "--json").stdout)["notes"] in ("", None)
    logged_in("undo")
    assert json.loads(logged_in("show", uuid, "--json").stdout)["notes"] == "keep me"


def test_edit_refuses_when_the_revision_moved(logged_in: Runner) -> None:
    uuid = _log(logged_in, "1h", "gwm", "--date", "2026-02-13")
    with Client(logged_in.server.base_url, username=USER[0], password=USER[1]) as client:
        client.times.update(uuid, notes="changed elsewhere")
    result = logged_in("edit", uuid, "--duration", "2h", "--expect-revision", "1", code=6)
    assert "changed on the server (revision 1 → 2)" in result.stderr
    assert json.loads(logged_in("show", uuid, "--json").stdout)["duration"] == 3600


def test_edit_bad_input(logged_in: Runner) -> None:
    _log(logged_in, "1h", "gwm", "--date", "2026-02-14")
    logged_in("edit", "last", code=2)
    logged_in("edit", "last", "--duration", "-2h", code=2)
    logged_in("edit", "last", "--duration", "90", code=2)


def test_rm_needs_yes_without_terminal_and_undo_recreates(logged_in: Runner) -> None:
    uuid = _log(logged_in, "20m", "gwm", "--date", "2026-02-16", "-m", "to delete")
    assert "add -y" in logged_in("rm", uuid, code=2).stderr
    logged_in("show", uuid)
    logged_in("rm", uuid, "-y")
    logged_in("show", uuid, code=5)
    assert "Undid the deletion" in logged_in("undo").stdout
    records = json.loads(logged_in("ls", "--period", "2026-02-16", "--json").stdout)
    assert [record["notes"] for record in records] == ["to delete"]


def test_undo_of_log(logged_in: Runner) -> None:
    uuid = _log(logged_in, "5m", "gwm", "--date", "2026-02-17")
    assert "Undid logging 5m on gwm" in logged_in("undo").stdout
    logged_in("show", uuid, code=5)
