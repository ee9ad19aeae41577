"""Placeholder while the activities endpoints are written."""

from __future__ import annotations

from pymesync.server.context import Handler

ROUTES: list[tuple[str, list[str], Handler]] = []
