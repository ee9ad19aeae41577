#!/usr/bin/env bash
# The whole test suite: lint, type check, then pytest (SQLite and PostgreSQL servers, LDAP, keyring,
# terminal, the upstream pymesync 0.2.0 compatibility check). Extra arguments go to pytest.
source "$(dirname "$0")/_env.sh"
source scripts/pg.sh
start_test_postgres
# Real parts the tests drive, installed from Debian packages when this runs as root and they are missing;
# elsewhere the tests that need them skip and say why. Packages' postinst scripts would start system
# services (slapd, nginx); a temporary policy-rc.d (exit 101) forbids that: the tests start their own.
missing=()
need() {  # need COMMAND PACKAGE...: queue the packages when COMMAND is found nowhere
    if ! command -v "$1" >/dev/null && [ ! -x "/usr/sbin/$1" ]; then missing+=("${@:2}"); fi
}
need gnome-keyring-daemon gnome-keyring   # tests/cli/test_keyring.py: a real Secret Service
need dbus-run-session dbus
need slapd slapd ldap-utils               # tests/server/test_api_ldap.py: a real OpenLDAP
need tmux tmux                            # tests/cli/test_end_to_end.py: what a terminal shows
need sqlite3 sqlite3                      # tests/server/test_backup.py: the documented backup command
need nginx nginx                          # tests/server/test_deployment_docs.py: the documented proxy
need chromium chromium                    # tests/web/test_browser.py: the web page in a real browser
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} from Debian packages..."
    policy_added=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_added=1
    fi
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
        >/dev/null || echo "install failed: the tests that need ${missing[*]} are skipped"
    if [ -n "$policy_added" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
uv run --frozen ruff check src tests bench examples
uv run --frozen ruff format --check src tests bench examples
uv run --frozen mypy
uv run --frozen pytest -q -p no:cacheprovider "$@"
