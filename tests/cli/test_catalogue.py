"""projects, activities, users: what a new server needs before anyone can log time."""

from __future__ import annotations

import json

from .conftest import ADMIN, USER, Runner


def test_admin_sets_up_a_project_that_a_member_logs_to(run: Runner) -> None:
    run.login(ADMIN)
    run("activities", "add", "Testing", "--slug", "qa")
    run(
        "projects",
        "add",
        "Catalogue Test",
        "--slug",
        "cat",
        "--slug",
        "catalogue",
        "--default-activity",
        "qa",
    )
    run("projects", "members", "cat", "add", USER[0], "--role", "member")
    shown = json.loads(run("projects", "show", "cat", "--json").stdout)
    assert shown["users"][USER[0]] == {"member": True, "spectator": False, "manager": False}
    assert "qa" in [row["slug"] for row in json.loads(run("activities", "ls", "--json").stdout)]
    run.login(USER)
    assert run("log", "1h", "catalogue", "--date", "2026-05-04").stdout.startswith(
        "Logged 1h on catalogue (qa)"
    )


def test_catalogue_errors_have_exit_codes(run: Runner) -> None:
    run.login(ADMIN)
    run("activities", "add", "Dup", "--slug", "dev", code=6)  # the slug exists
    run("projects", "show", "nosuch", code=5)
    run("projects", "update", "gwm", code=2)
    run("projects", "members", "gwm", "rm", "nobody", code=2)
    assert "add -y" in run("activities", "rm", "dev", code=2).stderr


def test_users_add_hashes_the_password_and_the_user_can_log_in(run: Runner) -> None:
    run.login(ADMIN)
    run("users", "add", "carol", "--display-name", "Carol", "--password-stdin", input="carolpass\n")
    assert "carol" in [row["username"] for row in json.loads(run("users", "ls", "--json").stdout)]
    run.login(("carol", "carolpass"))
    assert json.loads(run("whoami", "--json").stdout)["display_name"] == "Carol"


def test_members_cannot_create_projects(logged_in: Runner) -> None:
    logged_in("projects", "add", "Nope", "--slug", "nope", code=4)
