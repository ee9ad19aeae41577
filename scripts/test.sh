#!/usr/bin/env bash
# The whole test suite: lint, type check, then pytest (SQLite and PostgreSQL servers, the upstream
# pymesync 0.2.0 compatibility check). Extra arguments go to pytest.
source "$(dirname "$0")/_env.sh"
source scripts/pg.sh
start_test_postgres
uv run --frozen ruff check src tests bench examples
uv run --frozen ruff format --check src tests bench examples
uv run --frozen mypy
uv run --frozen pytest -q -p no:cacheprovider "$@"
