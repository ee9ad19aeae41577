"""Request-level tests of every page and form of the web page, against a real server: what each
user may see and do is what the API lets them (forged form posts included), CSRF, escaping, the
security headers, and sessions that end with the account or its password."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest

from pymesync.server.testing import serve
from server.helpers import PASSWORD

from .client import Page, WebClient
from .conftest import Site


def _times(site: Site, user: str) -> list[dict]:
    return site.api.ok(site.api.get("/times", site.world.token("admin"), user=user, include_deleted="true"))


# --- signing in and out ------------------------------------------------------------------------


def test_pages_need_a_session(site: Site) -> None:
    client = site.client()
    for path in ("/", "/times", "/reports", "/admin", "/reports/chart/days.svg", "/times/export.csv"):
        page = client.get(path)
        assert page.status == 303 and page.location == f"/signin?next={path.replace('/', '%2F')}", path


def test_sign_in_wrong_password_says_so(site: Site) -> None:
    client = site.client()
    client.get("/signin")
    page = client.post("/signin", username="member", password="wrong")
    assert page.status == 401
    assert page.messages() == ["Incorrect username or password"]
    assert client.get("/").status == 303


def test_sign_in_goes_to_next_on_this_site_only(site: Site) -> None:
    client = site.client()
    client.get("/signin")
    page = client.post("/signin", username="member", password=PASSWORD, next="/times")
    assert page.status == 303 and page.location == "/times"
    other = site.client()
    other.get("/signin")
    page = other.post("/signin", username="member", password=PASSWORD, next="//evil.example/")
    assert page.status == 303 and page.location == "/"


def test_sign_out_ends_the_session(site: Site) -> None:
    client = site.signed_in("member")
    page = client.post("/signout")
    assert page.status == 303 and page.location.startswith("/signin")
    assert client.get("/").status == 303


def test_sign_out_ends_the_session_on_the_server_not_only_in_the_browser(site: Site) -> None:
    """A copy of the cookie taken before signing out (another browser, a stolen one) is refused after,
    while another sign-in of the same user goes on."""
    client = site.signed_in("member")
    elsewhere = site.signed_in("member")
    stolen, stolen_csrf = client.cookie, client.csrf_token
    copy = site.client()
    copy.cookie = stolen
    assert copy.get("/times").status == 200
    assert client.post("/signout").status == 303
    for path in ("/", "/times", "/times/export.csv"):
        copy.cookie = stolen
        page = copy.get(path)
        assert page.status == 303 and page.location.startswith("/signin"), path
    before = len(_times(site, "member"))
    copy.cookie = stolen
    page = copy.post("/log", csrf=stolen_csrf, duration="1h", project="gwm")
    assert page.status == 401 and page.messages() == ["Your session has ended; sign in again."]
    assert len(_times(site, "member")) == before
    assert elsewhere.get("/times").status == 200
    copy.cookie = stolen
    assert copy.post("/signout", csrf=stolen_csrf).status == 303  # signing out again changes nothing
    assert elsewhere.get("/").status == 200


def test_cookie_and_headers(site: Site) -> None:
    client = site.client()
    client.get("/signin")
    page = client.post("/signin", username="member", password=PASSWORD, next="/")
    [cookie] = page.set_cookies
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP, no trusted proxy
    week = client.follow(page)
    policy = week.headers["content-security-policy"]
    assert policy.startswith("default-src 'self';") and "unsafe" not in policy
    assert week.headers["x-frame-options"] == "DENY"
    # no inline script or style that the policy would block
    assert not re.search(r"<script(?![^>]*\bsrc=)", week.text)
    assert "<style" not in week.text and " style=" not in week.text


def test_cookie_is_secure_behind_a_trusted_proxy_saying_https() -> None:
    from pymesync.server.throttle import parse_networks

    with serve(trusted_proxies=parse_networks(["127.0.0.1/32"])) as srv:
        parts = urlsplit(srv.root_url)
        client = WebClient(parts.hostname or "", parts.port or 0)
        plain = client.request("GET", "/signin")
        assert "secure" not in plain.set_cookies[0].lower()
        client.cookie = None
        proxied = client.request("GET", "/signin", headers={"X-Forwarded-Proto": "https"})
        assert "; secure" in proxied.set_cookies[0].lower()


def test_only_a_trusted_proxy_may_say_https() -> None:
    from starlette.requests import Request

    from pymesync.server.context import Config
    from pymesync.server.throttle import parse_networks
    from pymesync.web import session

    def says_https(peer: str, trusted: tuple) -> bool:
        scope = {
            "type": "http",
            "scheme": "http",
            "method": "GET",
            "path": "/",
            "headers": [(b"x-forwarded-proto", b"https")],
            "client": (peer, 1234),
            "server": ("127.0.0.1", 80),
        }
        config = Config(
            engine=None, secret="x" * 32, instance_name="t", token_lifetime=60, trusted_proxies=trusted
        )  # type: ignore[arg-type]
        return session.is_https(Request(scope), config)

    assert says_https("10.0.0.7", parse_networks(["10.0.0.0/8"]))
    assert not says_https("192.0.2.9", parse_networks(["10.0.0.0/8"]))
    assert not says_https("10.0.0.7", ())


def test_no_token_in_any_page_or_link(site: Site) -> None:
    client = site.signed_in("admin")
    uuid = site.world.times["m1"]["uuid"]
    for path in ("/", "/times", "/reports", "/admin", "/admin/projects/gwm", f"/times/{uuid}"):
        page = client.get(path)
        assert page.status == 200, path
        assert "token" not in page.text.lower(), path
        assert "eyJ0eXAi" not in page.text, path  # the start of every API token
    assert client.cookie is not None and "eyJ0eXAi" not in client.cookie


def test_session_ends_when_the_password_changes(site: Site) -> None:
    client = site.signed_in("member")
    assert client.get("/").status == 200
    changed = site.api.post("/users/member", {"password": "another-password"}, site.world.token("admin"))
    assert changed.status == 200
    assert client.get("/").status == 303
    before = len(_times(site, "member"))
    page = client.post("/log", duration="1h", project="gwm")
    assert page.status in (401, 403)
    assert len(_times(site, "member")) == before
    again = site.client()
    assert again.sign_in("member", "another-password").status == 200


def test_session_ends_when_the_user_is_deleted(site: Site) -> None:
    client = site.signed_in("member2")
    assert client.get("/times").status == 200
    assert site.api.delete("/users/member2", site.world.token("admin")).status == 200
    assert client.get("/times").status == 303


def test_a_forged_or_tampered_cookie_is_anonymous(site: Site) -> None:
    client = site.signed_in("member")
    assert client.cookie is not None
    payload, signature = client.cookie.split(".")
    client.cookie = f"{payload}.{signature[:-2]}AA"
    assert client.get("/").status == 303


# --- CSRF --------------------------------------------------------------------------------------


def test_every_form_post_needs_the_csrf_token(site: Site) -> None:
    client = site.signed_in("member")
    before = len(_times(site, "member"))
    uuid = site.world.times["m1"]["uuid"]
    for path, fields in (
        ("/log", {"duration": "1h", "project": "gwm"}),
        (f"/times/{uuid}", {"duration": "5h", "project": "gwm"}),
        (f"/times/{uuid}/delete", {}),
        ("/target", {"target": "30"}),
    ):
        for forged in ("", "not-the-token"):
            page = client.post(path, csrf=forged, **fields)
            assert page.status == 403, path
    after = _times(site, "member")
    assert len(after) == before
    assert next(t for t in after if t["uuid"] == uuid)["revision"] == 1


def test_sign_in_needs_the_csrf_cookie(site: Site) -> None:
    client = site.client()
    page = client.post("/signin", csrf="anything", username="member", password=PASSWORD)
    assert page.status == 403


def test_forms_carry_the_csrf_token(site: Site) -> None:
    client = site.signed_in("admin")
    for path in ("/", "/times", "/admin", "/admin/projects/gwm"):
        page = client.get(path)
        posts = re.findall(r'<form method="post"[^>]*>(.*?)</form>', page.text, re.S)
        assert posts, path
        assert all(f'name="csrf" value="{client.csrf_token}"' in form for form in posts), path


# --- the week and quick log -----------------------------------------------------------------------


def test_quick_log_shows_in_the_week_grid(site: Site) -> None:
    client = site.signed_in("member")
    page = client.post(
        "/log", duration="1h30m", project="gwm", date=datetime.date.today().isoformat(), notes="wrote docs"
    )
    assert page.status == 303
    week = client.follow(page)
    assert "Logged 1h30m on gwm" in week.messages()[0]
    row = re.search(r'<tr class="today"[^>]*>(.*?)</tr>', week.text, re.S)
    assert row is not None and "1h30m" in row.group(1)
    assert re.search(r'id="week-total">1h30m<', week.text)
    [created] = [t for t in _times(site, "member") if t["notes"] == "wrote docs"]
    assert created["duration"] == 5400 and created["activities"] == ["dev"]  # gwm's default activity


def test_quick_log_accepts_the_clis_forms(site: Site) -> None:
    client = site.signed_in("member")
    for typed, seconds in (("90m", 5400), ("1.5h", 5400), ("1:30", 5400), ("2h", 7200)):
        page = client.post(
            "/log", duration=typed, project="pgd", activities=["qa"], date="yesterday", notes=typed
        )
        assert page.status == 303
        [entry] = [t for t in _times(site, "member") if t["notes"] == typed]
        assert entry["duration"] == seconds, typed
        assert entry["date_worked"] == (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
        assert entry["activities"] == ["qa"]


def test_quick_log_refuses_a_bad_duration_and_keeps_the_form(site: Site) -> None:
    client = site.signed_in("member")
    page = client.post("/log", duration="90", project="gwm", notes="kept")
    assert page.status == 422
    assert "add a unit" in page.messages()[0]
    assert 'value="kept"' in page.text


def test_quick_log_says_what_is_wrong_with_a_field_in_plain_words(site: Site) -> None:
    client = site.signed_in("member")
    before = len(_times(site, "member"))
    for fields, message in (
        ({"activities": ["nope"]}, "There is no such activity."),
        ({"notes": "x" * 300}, "Notes can be at most 255 characters."),
        (
            {"issue_uri": "not a link"},
            "The issue link must be a full address, such as https://example.org/issues/12.",
        ),
    ):
        page = client.post("/log", duration="1h", project="gwm", **fields)
        assert page.status in (400, 409) and page.messages() == [message], fields
    assert len(_times(site, "member")) == before


def test_edit_says_what_is_wrong_with_a_field_in_plain_words(site: Site) -> None:
    client = site.signed_in("member")
    client.get("/times")
    uuid = site.world.times["m1"]["uuid"]
    page = _htmx(client, "POST", f"/times/{uuid}", duration="1h", project="gwm", notes="y" * 300)
    assert page.status == 400 and page.messages() == ["Notes can be at most 255 characters."]
    assert site.api.ok(site.api.get(f"/times/{uuid}", site.world.token("member")))["revision"] == 1


def test_logging_into_a_project_without_membership_is_refused_by_the_api(site: Site) -> None:
    client = site.signed_in("spec")  # spectator of gwm, not a member
    before = len(_times(site, "spec"))
    page = client.post("/log", duration="1h", project="gwm")
    assert page.status == 401
    assert page.messages() == ["spec is not authorized to create time entries for project gwm."]
    assert len(_times(site, "spec")) == before


def test_the_week_arrows_move_by_seven_days(site: Site) -> None:
    client = site.signed_in("member")
    page = client.get("/", week="2015-04-20")
    assert "Week of 20 April 2015" in page.text
    assert 'href="/?week=2015-04-13"' in page.text and 'href="/?week=2015-04-27"' in page.text
    # member's entries of that week: 2015-04-20 (30m on gwm) and those seeded around it
    assert re.search(r"Mon 20<span class=\"month\"> Apr</span></th>\s*<td class=\"num\">30m</td>", page.text)


def test_weekly_target_is_kept_in_the_users_meta(site: Site) -> None:
    client = site.signed_in("member")
    client.post("/log", duration="10h", project="gwm")
    page = client.follow(client.post("/target", target="40", week=""))
    assert "Weekly target saved." in page.messages()
    assert re.search(r'<progress id="target-bar" value="36000" max="144000">', page.text)
    meta = site.api.ok(site.api.get("/users/member", site.world.token("admin")))["meta"]
    assert json.loads(meta) == {"weekly_target_hours": 40}
    loner = site.signed_in("loner")  # meta holds other text: refused, nothing overwritten
    assert loner.post("/target", target="20").status == 409
    assert site.api.ok(site.api.get("/users/loner", site.world.token("admin")))["meta"] == "no roles"


# --- times: listing, editing, deleting, history, export ------------------------------------------


def _listed(page_text: str) -> int:
    return len(
        re.findall(r"<tr id=\"time-[^\"]+\"(?: class=\"deleted\")?>\s*<td>\d{4}-\d\d-\d\d</td>", page_text)
    )


def test_times_lists_what_the_api_lets_each_user_see(site: Site) -> None:
    every = {"period": "all"}
    counts = {
        who: _listed(site.signed_in(who).get("/times", **every).text) for who in ("member", "spec", "loner")
    }
    api = site.api
    for who, count in counts.items():
        expected = api.ok(api.get("/times", site.world.token(who)))
        assert count == len(expected), who
    assert counts["loner"] == 0 and counts["spec"] > counts["loner"]


def test_times_filters_by_user_project_and_activity(site: Site) -> None:
    client = site.signed_in("admin")
    page = client.get("/times", period="all", user="member", project="gwm", activity="docs")
    expected = site.api.ok(
        site.api.get("/times", site.world.token("admin"), user="member", project="gwm", activity="docs")
    )
    assert _listed(page.text) == len(expected) >= 1


def test_times_pages(site: Site) -> None:
    token = site.world.token("member")
    for day in range(55):
        site.api.create_time(
            token, "member", "pgd", duration=60, activities=["qa"], date_worked=f"2020-01-{day % 28 + 1:02d}"
        )
    client = site.signed_in("member")
    first = client.get("/times", project="pgd", start="2020-01-01", end="2020-01-31")
    assert _listed(first.text) == 50 and "Older &rarr;" in first.text
    second = client.get("/times", project="pgd", start="2020-01-01", end="2020-01-31", page="2")
    assert _listed(second.text) == 5 and "&larr; Newer" in second.text
    assert "<strong>55</strong> entries" in first.text


def test_edit_and_history(site: Site) -> None:
    client = site.signed_in("member")
    uuid = site.world.times["m1"]["uuid"]
    page = client.post(
        f"/times/{uuid}", duration="2h", project="gwm", date="2015-04-18", notes="second thoughts"
    )
    assert page.status == 303
    entry = client.follow(page)
    assert "Saved." in entry.messages()
    history = re.search(r'<table class="striped" id="history">(.*?)</table>', entry.text, re.S)
    assert history is not None
    rows = re.findall(r"<tr><td>(\d+)</td>", history.group(1))
    assert rows == ["2", "1"]
    assert "second thoughts" in history.group(1) and "first" in history.group(1)
    stored = site.api.ok(site.api.get(f"/times/{uuid}", site.world.token("member")))
    assert stored["duration"] == 7200 and stored["revision"] == 2


def test_a_forged_edit_of_another_users_entry_is_refused(site: Site) -> None:
    theirs = site.world.times["m1"]["uuid"]  # member's entry
    # spec sees gwm's entries (so is told "not authorized"); member2 and loner do not (so "not found")
    for who, status in (("spec", 401), ("member2", 404), ("loner", 404)):
        client = site.signed_in(who)
        page = client.post(f"/times/{theirs}", duration="9h", project="gwm", date="2015-04-18")
        assert page.status == status, who
        delete = client.post(f"/times/{theirs}/delete", confirmed="yes")
        assert delete.status == status, who
    stored = site.api.ok(site.api.get(f"/times/{theirs}", site.world.token("admin")))
    assert stored["duration"] == 1200 and stored["revision"] == 1 and stored["deleted_at"] is None


def test_no_edit_or_delete_buttons_where_the_api_would_refuse(site: Site) -> None:
    page = site.signed_in("spec").get("/times", period="all")
    assert _listed(page.text) > 0
    assert "/delete" not in page.text and ">Edit<" not in page.text


@pytest.mark.parametrize("elsewhere", ["//evil.example/", "/\\evil.example/", "https://evil.example/"])
def test_back_links_and_redirects_stay_on_this_site(site: Site, elsewhere: str) -> None:
    client = site.signed_in("member")
    uuid = site.world.times["m1"]["uuid"]
    shown = client.get(f"/times/{uuid}", back=elsewhere)
    assert "evil.example" not in shown.text
    page = client.post(f"/times/{uuid}/delete", back=elsewhere, confirmed="yes")
    assert page.status == 303 and page.location.startswith("/times")


def test_delete_and_include_deleted(site: Site) -> None:
    client = site.signed_in("member")
    uuid = site.world.times["m1"]["uuid"]
    asked = client.post(f"/times/{uuid}/delete", back="/times?period=all")
    assert asked.status == 200 and "Delete this entry?" in asked.text  # without JavaScript: asks first
    assert re.search(r'name="confirmed" value="yes"', asked.text)
    assert next(t for t in _times(site, "member") if t["uuid"] == uuid)["deleted_at"] is None
    page = client.post(f"/times/{uuid}/delete", back="/times?period=all", confirmed="yes")
    assert page.status == 303 and page.location.startswith("/times?period=all")
    listing = client.follow(page)
    assert uuid not in listing.text
    shown = client.get("/times", period="all", include_deleted="1")
    assert uuid in shown.text and 'class="deleted"' in shown.text


HTMX = {"HX-Request": "true"}


def _htmx(client: WebClient, method: str, path: str, **fields: Any) -> Page:
    """A request htmx sends for a part of a page (an element's own hx-get or hx-post)."""
    if method == "GET":
        return client.request("GET", f"{path}?{urlencode(fields)}" if fields else path, headers=HTMX)
    body = urlencode({"csrf": client.csrf_token, **fields}, doseq=True).encode()
    headers = {**HTMX, "Content-Type": "application/x-www-form-urlencoded"}
    return client.request("POST", path, body, headers)


def test_the_times_rows_offer_inline_edit_and_ask_before_deleting(site: Site) -> None:
    page = site.signed_in("member").get("/times", period="all")
    uuid = site.world.times["m1"]["uuid"]
    row = re.search(rf'<tr id="time-{uuid}">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert f'href="/times/{uuid}?back=%2Ftimes%3Fperiod%3Dall"' in row.group(1)  # the no-JS fallback
    assert f'hx-get="/times/{uuid}?back=%2Ftimes%3Fperiod%3Dall" hx-target="closest tr"' in row.group(1)
    assert 'hx-confirm="Delete the entry of' in row.group(1)
    assert re.search(
        r'id="times-summary" hx-get="/times\?period=all&amp;[^"]*" hx-trigger="entry-saved from:body"',
        page.text,
    )


def test_edit_in_place_answers_a_form_then_the_saved_row(site: Site) -> None:
    client = site.signed_in("member")
    client.get("/times")
    uuid = site.world.times["m1"]["uuid"]
    whole = client.get(f"/times/{uuid}", back="/times?period=all")  # a browser, or a boosted link
    assert whole.text.startswith("<!doctype html>") and 'id="history"' in whole.text
    boosted = client.request("GET", f"/times/{uuid}", headers={**HTMX, "HX-Boosted": "true"})
    assert boosted.text.startswith("<!doctype html>")  # a link htmx boosts wants the whole page
    form = _htmx(client, "GET", f"/times/{uuid}", back="/times?period=all")
    assert form.status == 200 and form.text.lstrip().startswith(f'<tr id="time-{uuid}" class="editing">')
    assert "<html" not in form.text and 'name="csrf"' in form.text
    assert f'<input id="duration-{uuid}" name="duration" required value="20m"' in form.text
    labelled = set(re.findall(r'<label for="([^"]+)"', form.text))
    fields = set(re.findall(r'<(?:input|select) id="([^"]+)"', form.text))
    assert fields and fields <= labelled
    saved = _htmx(
        client,
        "POST",
        f"/times/{uuid}",
        duration="1h15m",
        project="gwm",
        date="2015-04-18",
        activities="docs",
        notes="done in place",
        back="/times?period=all",
    )
    assert saved.status == 200 and saved.text.lstrip().startswith(f'<tr id="time-{uuid}">')
    assert "1h15m" in saved.text and "done in place" in saved.text and "autofocus" in saved.text
    assert saved.headers["hx-trigger"] == "entry-saved"  # the list's total line reloads on it
    stored = site.api.ok(site.api.get(f"/times/{uuid}", site.world.token("member")))
    assert (stored["duration"], stored["activities"], stored["revision"]) == (4500, ["docs"], 2)
    cancel = _htmx(client, "GET", f"/times/{uuid}", view="row", back="/times?period=all")
    assert cancel.text.lstrip().startswith(f'<tr id="time-{uuid}">') and "1h15m" in cancel.text
    plain = client.post(f"/times/{uuid}", duration="2h", project="gwm", date="2015-04-18")
    assert plain.status == 303 and plain.location.startswith(f"/times/{uuid}?done=Saved.")


def test_edit_in_place_shows_the_error_in_the_form(site: Site) -> None:
    client = site.signed_in("member")
    client.get("/times")
    uuid = site.world.times["m1"]["uuid"]
    bad = _htmx(client, "POST", f"/times/{uuid}", duration="90", project="gwm", notes="kept")
    assert bad.status == 422 and bad.text.lstrip().startswith(f'<tr id="time-{uuid}" class="editing">')
    assert 'role="alert"' in bad.text and 'value="kept"' in bad.text and 'value="90"' in bad.text
    assert site.api.ok(site.api.get(f"/times/{uuid}", site.world.token("member")))["revision"] == 1


def test_a_refused_inline_edit_says_why_in_place(site: Site) -> None:
    theirs = site.world.times["m1"]["uuid"]  # member's entry; spec may see it, not change it
    client = site.signed_in("spec")
    client.get("/times")
    page = _htmx(client, "POST", f"/times/{theirs}", duration="9h", project="gwm", date="2015-04-18")
    assert page.status == 401 and page.text.lstrip().startswith(f'<tr id="time-{theirs}" class="editing">')
    [message] = page.messages()
    assert (
        message == site.api.post(f"/times/{theirs}", {"duration": 1}, site.world.token("spec")).json["text"]
    )
    stored = site.api.ok(site.api.get(f"/times/{theirs}", site.world.token("admin")))
    assert stored["duration"] == 1200 and stored["revision"] == 1


def test_an_inline_edit_without_the_csrf_token_is_refused(site: Site) -> None:
    client = site.signed_in("member")
    client.get("/times")
    uuid = site.world.times["m1"]["uuid"]
    client.csrf_token = "forged"
    page = _htmx(client, "POST", f"/times/{uuid}", duration="9h", project="gwm", date="2015-04-18")
    assert page.status == 403
    # an error page takes the place of the page's main element, never of the row
    assert (page.headers["hx-retarget"], page.headers["hx-reswap"]) == ("#main", "outerHTML")
    assert site.api.ok(site.api.get(f"/times/{uuid}", site.world.token("member")))["revision"] == 1


def test_export_csv_and_json_hold_the_filtered_set(site: Site) -> None:
    client = site.signed_in("member")
    expected = site.api.ok(site.api.get("/times", site.world.token("member"), project="gwm"))
    as_json = client.get("/times/export.json", period="all", project="gwm")
    assert as_json.headers["content-disposition"].startswith("attachment;")
    assert sorted(t["uuid"] for t in json.loads(as_json.text)) == sorted(t["uuid"] for t in expected)
    as_csv = client.get("/times/export.csv", period="all", project="gwm")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert sorted(r["uuid"] for r in rows) == sorted(t["uuid"] for t in expected)
    assert {r["duration"] for r in rows} == {str(t["duration"]) for t in expected}


def test_csv_export_cells_cannot_start_a_formula(site: Site) -> None:
    token = site.world.token("member")
    risky = ['=HYPERLINK("http://x")', "+1", "-2+3", "@SUM(A1)", "\tlead", "\rlead", "plain - text"]
    for notes in risky:
        site.api.create_time(
            token, "member", "gwm", duration=60, activities=["dev"], date_worked="2019-03-04", notes=notes
        )
    client = site.signed_in("member")
    query = {"start": "2019-03-04", "end": "2019-03-04"}
    rows = list(csv.DictReader(io.StringIO(client.get("/times/export.csv", **query).text)))
    assert sorted(r["notes"] for r in rows) == sorted(n if n == "plain - text" else "'" + n for n in risky)
    assert {r["duration"] for r in rows} == {"60"}  # numbers stay numbers
    as_json = json.loads(client.get("/times/export.json", **query).text)
    assert sorted(t["notes"] for t in as_json) == sorted(risky)  # JSON is data, left as it is


# --- reports ---------------------------------------------------------------------------------------


def test_report_tables_charts_and_csv(site: Site) -> None:
    client = site.signed_in("admin")
    query = {"period": "all", "by": "project", "rows": "day", "columns": "project"}
    page = client.get("/reports", **query)
    assert page.status == 200
    listed = site.api.ok(site.api.get("/times", site.world.token("admin")))
    total = sum(t["duration"] for t in listed)
    assert f"{total / 3600:.2f} h" in page.text
    chart = client.get("/reports/chart/totals.svg", **query, totals="project")
    assert chart.headers["content-type"].startswith("image/svg+xml")
    bars = [float(v) for v in re.findall(r'<desc class="value">([^<]*)</desc>', chart.text)]
    per_project: dict[str, int] = {}
    for entry in listed:
        per_project[entry["project"][0]] = per_project.get(entry["project"][0], 0) + entry["duration"]
    assert sorted(bars) == sorted(round(s / 3600, 2) for s in per_project.values())
    assert client.get("/reports/chart/days.svg", **query).status == 200
    exported = list(csv.reader(io.StringIO(client.get("/reports/export.csv", **query).text)))
    assert exported[0] == ["project", "hours", "seconds", "entries"]
    assert sum(int(row[2]) for row in exported[1:]) == total


def test_report_refuses_an_unknown_grouping(site: Site) -> None:
    page = site.signed_in("member").get("/reports", by="colour")
    assert page.status == 400 and "cannot group by 'colour'" in page.messages()[0]


def test_report_refuses_the_same_key_for_rows_and_columns(site: Site) -> None:
    page = site.signed_in("member").get("/reports", rows="activity", columns="activity")
    assert page.status == 400 and "choose two different keys" in page.messages()[0]


# --- admin -------------------------------------------------------------------------------------------


def test_who_may_open_admin(site: Site) -> None:
    for who in ("member", "spec", "loner", "sitespec"):
        page = site.signed_in(who).get("/admin")
        assert page.status == 403, who
        assert ">Admin<" not in page.text
    pm = site.signed_in("pm").get("/admin")
    assert pm.status == 200 and "Ganeti Web Manager" in pm.text and "Protein Geometry" not in pm.text
    assert "New project" not in pm.text and 'id="users"' not in pm.text
    admin = site.signed_in("sitemgr").get("/admin")
    assert admin.status == 200 and 'id="users"' in admin.text and "Protein Geometry" in admin.text


def test_forged_admin_posts_are_refused_by_the_api(site: Site) -> None:
    member = site.signed_in("member")
    member.get("/")
    assert member.post("/admin/projects", name="Mine", slugs="mine").status == 401
    assert member.post("/admin/activities", name="Mine", slug="mine").status == 401
    assert member.post("/admin/users/loner", site_admin="1", active="1").status == 401
    assert member.post("/admin/projects/pgd", name="Taken", slugs="pgd").status == 401
    pm = site.signed_in("pm")
    assert pm.post("/admin/projects/pgd/delete").status == 401  # manages gwm, not pgd
    assert (
        site.api.ok(site.api.get("/projects/pgd", site.world.token("admin")))["name"]
        == "Protein Geometry Database"
    )
    assert site.api.get("/projects/mine", site.world.token("admin")).status == 404


def test_admin_creates_and_changes_projects_activities_and_users(site: Site) -> None:
    client = site.signed_in("admin")
    assert client.post("/admin/activities", name="Meetings", slug="meet").status == 303
    created = client.post("/admin/projects", name="Web", slugs="web, www", default_activity="meet")
    assert created.status == 303
    page = client.post(
        "/admin/projects/web",
        name="Web site",
        slugs="web www",
        default_activity="meet",
        new_user="member",
        new_roles=["member", "spectator"],
    )
    assert page.status == 303, page.messages()
    project = site.api.ok(site.api.get("/projects/web", site.world.token("admin")))
    assert project["name"] == "Web site" and project["default_activity"] == "meet"
    assert project["users"] == {"member": {"member": True, "spectator": True, "manager": False}}
    # clearing every box takes a member off
    assert client.post("/admin/projects/web", name="Web site", slugs="web www", member="member").status == 303
    assert "users" not in site.api.ok(site.api.get("/projects/web", site.world.token("admin")))
    assert (
        client.post("/admin/users", username="newbie", password="long-enough", site_spectator="1").status
        == 303
    )
    assert client.post("/admin/users/newbie", display_name="New Bie", active="1").status == 303
    user = site.api.ok(site.api.get("/users/newbie", site.world.token("admin")))
    assert user["display_name"] == "New Bie" and user["site_spectator"] is False
    assert client.post("/admin/users/newbie/delete").status == 303
    assert site.api.get("/users/newbie", site.world.token("admin")).status == 404
    assert client.post("/admin/projects/web/delete").status == 303
    assert client.post("/admin/activities/meet/delete").status == 303


def test_a_site_manager_changes_only_what_the_api_allows(site: Site) -> None:
    client = site.signed_in("sitemgr")
    client.get("/admin")
    ok = client.post("/admin/users/loner", site_spectator="1", active="1", display_name="")
    assert ok.status == 303
    assert site.api.ok(site.api.get("/users/loner", site.world.token("admin")))["site_spectator"] is True
    refused = client.post("/admin/users/siteadmin", site_admin="", active="1")
    assert refused.status == 401
    assert site.api.ok(site.api.get("/users/siteadmin", site.world.token("admin")))["site_admin"] is True


# --- escaping -----------------------------------------------------------------------------------------


def test_markup_in_names_and_notes_is_text(site: Site) -> None:
    hostile = "<script>alert(1)</script>"
    token = site.world.token("admin")
    site.api.ok(site.api.post("/projects/pgd", {"name": hostile}, token))
    notes = f'"><img src=x onerror=alert(2)>{hostile}'
    site.api.create_time(site.world.token("member"), "member", "pgd", activities=["qa"], notes=notes)
    client = site.signed_in("admin")
    for path in ("/admin", "/admin/projects/pgd", "/times?period=all", "/"):
        page = client.get(path)
        assert page.status == 200, path
        assert hostile not in page.text and "<img src=x" not in page.text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get("/admin").text


# --- the switch ----------------------------------------------------------------------------------------


def test_no_web_leaves_the_api_alone() -> None:
    with serve(web=False) as srv:
        parts = urlsplit(srv.root_url)
        client = WebClient(parts.hostname or "", parts.port or 0)
        page = client.get("/")
        assert page.status == 404 and json.loads(page.text)["text"] == "Cannot GET /"
        assert client.get("/static/vendor/htmx.min.js").status == 404
        assert (
            client.request(
                "POST",
                "/v1/login",
                b'{"auth":{"type":"password","username":"admin","password":"adminpass"}}',
                {"Content-Type": "application/json"},
            ).status
            == 200
        )


def test_static_files_are_served(site: Site) -> None:
    client = site.client()
    for path, kind in (
        ("/static/vendor/htmx.min.js", "javascript"),
        ("/static/vendor/pico.min.css", "text/css"),
        ("/static/app.css", "text/css"),
    ):
        page = client.get(path)
        assert page.status == 200 and kind in page.headers["content-type"], path


@pytest.mark.parametrize(
    "path",
    ["/times/not-a-uuid", "/admin/projects/nope", "/reports/chart/pie.svg", "/times/export.xml", "/?week=x"],
)
def test_unknown_objects_are_a_page_not_a_crash(site: Site, path: str) -> None:
    page = site.signed_in("admin").get(path)
    assert page.status in (400, 404) and page.messages()
