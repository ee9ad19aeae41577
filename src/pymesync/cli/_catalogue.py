"""The catalogue: projects (and their members), activities and users. A fresh server has none of the first
two, and nothing can be logged until they exist."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from pymesync.cli._app import App, pass_app
from pymesync.cli._errors import usage_error
from pymesync.cli._output import Table, output_options, resolve_format

ROLES = ("member", "manager", "spectator")


def _confirm(app: App, yes: bool, question: str) -> None:
    if yes:
        return
    if not app.term.may_prompt:
        raise usage_error("this needs confirmation: add -y (no terminal to ask on, or --no-input)")
    click.confirm(question, abort=True, err=True)


def _show(app: App, data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        app.term.out(json.dumps(data, indent=2, default=str))
        return
    for key, value in data.items():
        if value not in (None, "", [], {}):
            app.term.out(f"{app.term.style(f'{key:<16}', bold=True)} {value}")


# ----------------------------------------------------------------------------------------------------


@click.group()
@pass_app
def projects(app: App) -> None:
    """Projects: ls, show, add, update, rm, members."""
    from pymesync.cli._resolve import forget_catalogue

    forget_catalogue(app)  # whatever changes here, 'log' must not resolve slugs from an old list


@projects.command("ls")
@output_options
@pass_app
def projects_ls(app: App, fmt: str | None) -> None:
    """List projects."""
    table = Table(["slugs", "name", "default activity", "members"])
    for item in sorted(app.client().projects.list(), key=lambda project: project.slugs):
        table.add(
            [",".join(item.slugs), item.name or "", item.default_activity or "", str(len(item.users))],
            item.to_dict(),
        )
    table.render(resolve_format(fmt, app.term), app.term)


@projects.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def projects_show(app: App, slug: str, as_json: bool) -> None:
    """Show one project (by slug or unambiguous prefix) and its members."""
    from pymesync.cli import _resolve

    found = _resolve.project(app, slug, fresh=True)
    data = found.to_dict()
    if not as_json:
        data["users"] = ", ".join(f"{name} ({_role(role.to_dict())})" for name, role in found.users.items())
    _show(app, data, as_json)


def _role(flags: dict[str, bool]) -> str:
    return "+".join(role for role in ROLES if flags.get(role)) or "none"


@projects.command("add")
@click.argument("name")
@click.option("--slug", "slugs", multiple=True, required=True, help="A short name (repeat for several).")
@click.option("--uri", help="The project's home page or repository.")
@click.option("--default-activity", metavar="ACTIVITY", help="Used when an entry names no activity.")
@click.option("--member", "members", multiple=True, metavar="USER", help="Add a member (repeatable).")
@pass_app
def projects_add(
    app: App,
    name: str,
    slugs: tuple[str, ...],
    uri: str | None,
    default_activity: str | None,
    members: tuple[str, ...],
) -> None:
    """Create a project NAME with one or more --slug."""
    fields: dict[str, Any] = {"name": name, "slugs": list(slugs)}
    if uri:
        fields["uri"] = uri
    if default_activity:
        fields["default_activity"] = default_activity
    if members:
        fields["users"] = {user: {"member": True, "spectator": False, "manager": False} for user in members}
    created = app.client().projects.create(fields)
    app.term.info(f"Created project {', '.join(created.slugs)} ({created.name})")


@projects.command("update")
@click.argument("slug")
@click.option("--name", help="New name.")
@click.option("--slug", "slugs", multiple=True, help="Replace the slugs (repeat for several).")
@click.option("--uri", help="New URI.")
@click.option("--default-activity", metavar="ACTIVITY", help="New default activity.")
@pass_app
def projects_update(
    app: App,
    slug: str,
    name: str | None,
    slugs: tuple[str, ...],
    uri: str | None,
    default_activity: str | None,
) -> None:
    """Change a project's name, slugs, URI or default activity."""
    changes: dict[str, Any] = {"name": name, "uri": uri, "default_activity": default_activity}
    changes = {key: value for key, value in changes.items() if value is not None}
    if slugs:
        changes["slugs"] = list(slugs)
    if not changes:
        raise usage_error("nothing to change: give --name, --slug, --uri or --default-activity")
    updated = app.client().projects.update(slug, **changes)
    app.term.info(f"Updated project {', '.join(updated.slugs)}")


@projects.command("rm")
@click.argument("slug")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def projects_rm(app: App, slug: str, yes: bool) -> None:
    """Delete a project (the server refuses while it has entries)."""
    _confirm(app, yes, f"Delete project {slug}?")
    app.client().projects.delete(slug)
    app.term.info(f"Deleted project {slug}")


@projects.command("members")
@click.argument("slug")
@click.argument("action", type=click.Choice(["add", "rm"]))
@click.argument("user")
@click.option(
    "--role", type=click.Choice(ROLES), default="member", show_default=True, help="The role to give."
)
@pass_app
def projects_members(app: App, slug: str, action: str, user: str, role: str) -> None:
    """Add a member to a project (with a role) or remove one: members SLUG add|rm USER."""
    client = app.client()
    found = client.projects[slug]
    users = {name: flags.to_dict() for name, flags in found.users.items()}
    if action == "add":
        users[user] = {name: name == role for name in ROLES}
    elif users.pop(user, None) is None:
        raise usage_error(f"{user} is not a member of {slug}")
    client.projects.update(slug, users=users)
    app.term.info(
        f"{'Added' if action == 'add' else 'Removed'} {user} {'to' if action == 'add' else 'from'} {slug}"
    )


# ----------------------------------------------------------------------------------------------------


@click.group()
@pass_app
def activities(app: App) -> None:
    """Activities: ls, add, update, rm."""
    from pymesync.cli._resolve import forget_catalogue

    forget_catalogue(app)


@activities.command("ls")
@output_options
@pass_app
def activities_ls(app: App, fmt: str | None) -> None:
    """List activities."""
    table = Table(["slug", "name"])
    for item in sorted(app.client().activities.list(), key=lambda activity: activity.slug or ""):
        table.add([item.slug or "", item.name or ""], item.to_dict())
    table.render(resolve_format(fmt, app.term), app.term)


@activities.command("add")
@click.argument("name")
@click.option("--slug", required=True, help="The short name used when logging.")
@pass_app
def activities_add(app: App, name: str, slug: str) -> None:
    """Create an activity NAME with --slug."""
    created = app.client().activities.create(name=name, slug=slug)
    app.term.info(f"Created activity {created.slug} ({created.name})")


@activities.command("update")
@click.argument("slug")
@click.option("--name", help="New name.")
@click.option("--slug", "new_slug", help="New slug.")
@pass_app
def activities_update(app: App, slug: str, name: str | None, new_slug: str | None) -> None:
    """Change an activity's name or slug."""
    changes: dict[str, Any] = {
        key: value for key, value in (("name", name), ("slug", new_slug)) if value is not None
    }
    if not changes:
        raise usage_error("nothing to change: give --name or --slug")
    updated = app.client().activities.update(slug, **changes)
    app.term.info(f"Updated activity {updated.slug}")


@activities.command("rm")
@click.argument("slug")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def activities_rm(app: App, slug: str, yes: bool) -> None:
    """Delete an activity."""
    _confirm(app, yes, f"Delete activity {slug}?")
    app.client().activities.delete(slug)
    app.term.info(f"Deleted activity {slug}")


# ----------------------------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """Users: ls, show, add, update, rm (site administrators)."""


@users.command("ls")
@output_options
@pass_app
def users_ls(app: App, fmt: str | None) -> None:
    """List users."""
    table = Table(["username", "display name", "email", "roles", "active"])
    for item in sorted(app.client().users.list(), key=lambda user: user.username or ""):
        roles = [name for name in ("admin", "manager", "spectator") if getattr(item, f"site_{name}")]
        table.add(
            [
                item.username or "",
                item.display_name or "",
                item.email or "",
                ",".join(roles),
                "yes" if item.active else "no",
            ],
            item.to_dict(),
        )
    table.render(resolve_format(fmt, app.term), app.term)


@users.command("show")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def users_show(app: App, username: str, as_json: bool) -> None:
    """Show one user."""
    _show(app, app.client().users[username].to_dict(), as_json)


def _new_password(app: App, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise usage_error("--password-stdin: standard input held no password")
        return password
    app.require_prompt("a password is needed: use --password-stdin")
    prompted: str = click.prompt(
        "Password for the new user", hide_input=True, confirmation_prompt=True, err=True
    )
    return prompted


@users.command("add")
@click.argument("username")
@click.option("--display-name", help="The name shown to people.")
@click.option("--email", help="E-mail address.")
@click.option(
    "--site-role", "site_roles", multiple=True, type=click.Choice(["admin", "manager", "spectator"])
)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@pass_app
def users_add(
    app: App,
    username: str,
    display_name: str | None,
    email: str | None,
    site_roles: tuple[str, ...],
    password_stdin: bool,
) -> None:
    """Create a user; the password is asked (or read from stdin) and bcrypt-hashed before it is sent."""
    fields: dict[str, Any] = {"username": username, "password": _new_password(app, password_stdin)}
    if display_name:
        fields["display_name"] = display_name
    if email:
        fields["email"] = email
    for role in site_roles:
        fields[f"site_{role}"] = True
    created = app.client().users.create(fields)
    app.term.info(f"Created user {created.username}")


@users.command("update")
@click.argument("username")
@click.option("--display-name", help="New display name.")
@click.option("--email", help="New e-mail address.")
@click.option(
    "--password", "change_password", is_flag=True, help="Set a new password (asked, or from stdin)."
)
@click.option("--password-stdin", is_flag=True, help="With --password: read it from stdin.")
@pass_app
def users_update(
    app: App,
    username: str,
    display_name: str | None,
    email: str | None,
    change_password: bool,
    password_stdin: bool,
) -> None:
    """Change a user's display name, e-mail or password."""
    changes: dict[str, Any] = {
        key: value for key, value in (("display_name", display_name), ("email", email)) if value is not None
    }
    if change_password:
        changes["password"] = _new_password(app, password_stdin)
    if not changes:
        raise usage_error("nothing to change: give --display-name, --email or --password")
    app.client().users.update(username, **changes)
    app.term.info(f"Updated user {username}")


@users.command("rm")
@click.argument("username")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def users_rm(app: App, username: str, yes: bool) -> None:
    """Delete a user."""
    _confirm(app, yes, f"Delete user {username}?")
    app.client().users.delete(username)
    app.term.info(f"Deleted user {username}")
