"""The web page in a real browser: Debian's chromium, headless, driven by Playwright (launched with
the system browser, never a downloaded one). The whole flow with JavaScript (htmx) and without,
keyboard-only sign-in, no console errors (so nothing broke the Content-Security-Policy), and
screenshots of every page at desktop and phone widths in ``tests/web/artifacts/``."""

from __future__ import annotations

import datetime
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from server.helpers import ADMIN, PASSWORD

from .conftest import Site

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (scripts/test.sh installs it as root)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # launch() gives the browser a fresh temporary profile of its own, removed when it closes
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def _new_page(browser: Any, *, javascript: bool, width: str = "desktop") -> tuple[Any, Any, list[str]]:
    w, h = WIDTHS[width]
    context = browser.new_context(java_script_enabled=javascript, viewport={"width": w, "height": h})
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(f"{page.url}: {message.text}") if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    return context, page, problems


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    # caret="initial": hiding the caret would inject a style element, which the page's CSP blocks
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, caret="initial")


def _sign_in(page: Any, root: str, username: str, password: str) -> None:
    page.goto(f"{root}/signin")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#week-title").wait_for()  # the week, swapped in by htmx or loaded (the URL follows)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_log_edit_report_delete_sign_out(site: Site, browser: Any, javascript: bool) -> None:
    root = site.server.root_url
    context, page, problems = _new_page(browser, javascript=javascript)
    tag = "js" if javascript else "nojs"
    try:
        _sign_in(page, root, "member", PASSWORD)
        assert page.get_by_role("heading", level=1).inner_text().startswith("Week of")

        page.get_by_label("Duration").fill("1h30m")
        page.locator("#project").select_option("ganeti-webmgr")
        page.get_by_label("Notes").fill("browser flow")
        page.get_by_role("button", name="Log", exact=True).click()
        page.get_by_role("status").filter(has_text="Logged 1h30m on ganeti-webmgr").wait_for()
        today_row = page.locator("#week-grid tr.today")
        assert "1h30m" in today_row.inner_text()
        assert page.locator("#week-total").inner_text() == "1h30m"
        _shot(page, f"flow-{tag}-1-week-after-log")

        page.goto(f"{root}/times?period=week")
        page.get_by_role("link", name=re.compile("^Edit")).click()
        if javascript:  # htmx swaps the row for its form, in place
            row = page.locator("#times-table tr.editing")
            row.get_by_label("Duration").fill("2h")
            _shot(page, f"flow-{tag}-2-inline-edit")
            row.get_by_role("button", name="Save").click()
            page.locator("#times-table tr.editing").wait_for(state="detached")
            assert page.url.endswith("/times?period=week")  # never left the list
            assert "2h" in page.locator("#times-table tbody tr").first.inner_text()
            page.locator("#times-summary").filter(has_text="2h (2.00 h)").wait_for()  # the new total
            assert page.evaluate("document.activeElement.textContent") == "Edit"
            page.goto(f"{root}/")
            page.get_by_role("link", name=re.compile("2h · ganeti-webmgr")).click()
        else:  # the entry's own page
            page.locator("#edit-form").get_by_label("Duration").fill("2h")
            page.get_by_role("button", name="Save").click()
            page.get_by_role("status").filter(has_text="Saved.").wait_for()
        page.locator("#history").wait_for()
        history = page.locator("#history tbody tr")
        assert history.count() == 2
        assert history.nth(0).inner_text().startswith("2") and "2h" in history.nth(0).inner_text()
        assert "1h30m" in history.nth(1).inner_text()
        _shot(page, f"flow-{tag}-2-entry-history")

        page.goto(f"{root}/reports?period=week&by=project&totals=project")
        days_chart = page.locator("#chart-days")
        days_chart.wait_for()
        svg = context.request.get(root + days_chart.get_attribute("src")).text()
        assert re.findall(r'<desc class="value">([^<]*)</desc>', svg).count("2") == 1  # 2 h on one day
        totals = context.request.get(root + page.locator("#chart-totals").get_attribute("src")).text()
        assert re.findall(r'<desc class="value">([^<]*)</desc>', totals) == ["2"]
        assert page.evaluate("document.getElementById('chart-days').naturalWidth") > 0 if javascript else True
        assert "2.00" in page.locator("#summary").inner_text()
        _shot(page, f"flow-{tag}-3-report")

        page.goto(f"{root}/")
        page.get_by_role("link", name=re.compile("2h · ganeti-webmgr")).click()
        page.locator("#edit-form").wait_for()
        if javascript:  # htmx asks in the browser
            asked: list[str] = []
            page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
            page.get_by_role("button", name="Delete this entry").click()
        else:  # a page asks first
            page.get_by_role("button", name="Delete this entry").click()
            page.get_by_role("heading", name="Delete this entry?").wait_for()
            _shot(page, f"flow-{tag}-4-confirm-delete")
            page.get_by_role("button", name="Delete", exact=True).click()
        page.get_by_role("status").filter(has_text="Deleted.").wait_for()
        if javascript:
            assert asked and asked[0].startswith("Delete this entry of")
        page.goto(f"{root}/")
        assert page.locator("#week-total").inner_text() == "0m"

        page.get_by_role("button", name=re.compile("Sign out")).click()
        page.wait_for_url(re.compile(r"/signin"))
        page.goto(f"{root}/times")
        assert "/signin" in page.url
        assert problems == [], "\n".join(problems)
    finally:
        context.close()


def test_sign_in_by_keyboard_alone(site: Site, browser: Any) -> None:
    context, page, problems = _new_page(browser, javascript=True)
    try:
        page.goto(f"{site.server.root_url}/signin")
        page.wait_for_function("document.activeElement && document.activeElement.id === 'username'")
        page.keyboard.type("member")  # the username field has focus on arrival
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.locator("#week-title").wait_for()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "TimeSync"
        assert problems == [], "\n".join(problems)
    finally:
        context.close()


def test_the_project_choice_fills_in_its_default_activity(site: Site, browser: Any) -> None:
    context, page, _problems = _new_page(browser, javascript=True)
    try:
        _sign_in(page, site.server.root_url, "member", PASSWORD)
        page.locator("#project").select_option("pgd")
        page.locator("#project").select_option("ganeti-webmgr")
        page.locator("#activities option", has_text="the project's default (dev)").wait_for()
    finally:
        context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_edit_in_place_by_keyboard(site: Site, browser: Any, width: str) -> None:
    root = site.server.root_url
    _fill_this_week(site)
    context, page, problems = _new_page(browser, javascript=True, width=width)
    try:
        _sign_in(page, root, *ADMIN)
        page.goto(f"{root}/times?period=week")
        first = page.locator("#times-table tbody tr").first
        before = first.inner_text()
        first.get_by_role("link", name=re.compile("^Edit")).focus()
        page.keyboard.press("Enter")
        form = page.locator("#times-table tr.editing form")
        form.wait_for()
        # the duration field has the keyboard, every field has a label, and the page is no wider
        assert page.evaluate("document.activeElement.name") == "duration"
        assert page.evaluate(UNLABELLED) == []
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
        _shot(page, f"times-inline-edit-{width}")
        form.get_by_role("button", name="Cancel").focus()
        page.keyboard.press("Enter")
        form.wait_for(state="detached")
        assert page.locator("#times-table tbody tr").first.inner_text() == before
        assert page.evaluate("document.activeElement.textContent") == "Edit"

        page.keyboard.press("Enter")
        form.wait_for()
        page.keyboard.press("Control+a")
        page.keyboard.type("90")  # minutes or hours? refused, and said in the form
        page.keyboard.press("Enter")
        form.locator("[role=alert]").wait_for()
        _shot(page, f"times-inline-edit-error-{width}")
        # the browser logs the refusal's status (422) as a console error; nothing else may be there
        assert [p for p in problems if "status of 422" not in p] == [], "\n".join(problems)
    finally:
        context.close()


PAGES = (
    ("signin", "/signin"),
    ("week", "/"),
    ("times", "/times?period=all"),
    ("entry", "/times/{m2}"),
    ("reports", "/reports?period=month&by=project&then=activity&rows=day&columns=project"),
    ("admin", "/admin"),
    ("project", "/admin/projects/gwm"),
)


def _fill_this_week(site: Site) -> None:
    """A week worth showing: the admin's entries on three projects and a 20-hour target."""
    api, token = site.api, site.world.token("admin")
    monday = datetime.date.today() - datetime.timedelta(days=datetime.date.today().weekday())
    for day, project, minutes, tags in (
        (0, "gwm", 150, ["dev"]),
        (0, "pgd", 60, ["qa"]),
        (1, "gwm", 240, ["dev", "docs"]),
        (2, "pgd", 90, ["qa"]),
        (3, "gwm", 45, ["docs"]),
        (4, "gwm", 300, ["dev"]),
    ):
        date = (monday + datetime.timedelta(days=day)).isoformat()
        api.create_time(token, "admin", project, duration=60 * minutes, activities=tags, date_worked=date)
    api.ok(api.post("/users/admin", {"meta": '{"weekly_target_hours": 20}'}, token))


#: The fields of a page that have neither a <label> nor an aria-label.
UNLABELLED = """
[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(field => field.labels.length === 0 && !field.getAttribute('aria-label'))
  .map(field => field.outerHTML.slice(0, 80))
"""


@pytest.mark.parametrize("width", list(WIDTHS))
def test_screenshots_of_every_page(site: Site, browser: Any, width: str) -> None:
    root = site.server.root_url
    _fill_this_week(site)
    context, page, problems = _new_page(browser, javascript=True, width=width)
    try:
        for name, path in PAGES:
            if name == "week":
                _sign_in(page, root, *ADMIN)
            page.goto(root + path.format(m2=site.world.times["m2"]["uuid"]))
            page.wait_for_load_state("networkidle")
            unlabelled = page.evaluate(UNLABELLED)
            assert unlabelled == [], (name, unlabelled)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            _shot(page, f"{name}-{width}")
            assert overflow <= 1, (name, width, overflow)  # wide tables scroll inside their box
            if name == "week":  # the week's grid, though, is read whole: no scrolling for its totals
                grid = "document.getElementById('week-grid')"
                hidden = page.evaluate(f"{grid}.scrollWidth - {grid}.parentElement.clientWidth")
                assert hidden <= 1, (width, hidden)
        assert problems == [], "\n".join(problems)
    finally:
        context.close()
