#!/usr/bin/env bash
# The demo: start the embedded TimeSync server and drive it with both pymesync clients.
source "$(dirname "$0")/_env.sh"
uv run --frozen python examples/demo.py
