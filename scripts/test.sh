#!/usr/bin/env bash
# The whole test suite: lint, type check, then pytest (SQLite and PostgreSQL servers, the upstream
# pymesync 0.2.0 compatibility check). Extra arguments go to pytest.
source "$(dirname "$0")/_env.sh"
source scripts/pg.sh
start_test_postgres
# The Secret Service test (tests/cli/test_keyring.py) needs gnome-keyring and dbus: install them when we can.
if ! command -v gnome-keyring-daemon >/dev/null || ! command -v dbus-run-session >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing gnome-keyring and dbus from Debian packages..."
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnome-keyring dbus; } \
            >/dev/null || echo "gnome-keyring install failed: the Secret Service test is skipped"
    fi
fi
# The LDAP login tests (tests/server/test_api_ldap.py) run a slapd of their own: install OpenLDAP when we can.
# The package's postinst would start a system slapd as well; a temporary policy-rc.d (exit 101) forbids that.
if [ ! -x /usr/sbin/slapd ] && ! command -v slapd >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing slapd and ldap-utils from Debian packages..."
        policy_added=
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_added=1
        fi
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils; } \
            >/dev/null || echo "slapd install failed: the LDAP login tests are skipped"
        if [ -n "$policy_added" ]; then rm -f /usr/sbin/policy-rc.d; fi
    fi
fi
uv run --frozen ruff check src tests bench examples
uv run --frozen ruff format --check src tests bench examples
uv run --frozen mypy
uv run --frozen pytest -q -p no:cacheprovider "$@"
