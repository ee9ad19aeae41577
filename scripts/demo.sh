#!/usr/bin/env bash
# The demo: start the embedded TimeSync server, drive it with both pymesync clients and the CLI, and print
# the address of its web page (kept serving until Ctrl-C when run from a terminal).
source "$(dirname "$0")/_env.sh"
uv run --frozen python examples/demo.py
