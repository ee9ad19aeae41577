"""Shared by every test directory: being here puts ``tests/`` on ``sys.path`` for :mod:`raw_http`."""
