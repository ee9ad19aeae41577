"""Several servers starting at once on an empty database (hosts brought up together): each
creates what is missing of the schema and reads the one signing key, none fails."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from pymesync.server import schema, storage

from .conftest import BACKENDS, fresh_database

STARTING = 8


@pytest.mark.parametrize("backend", BACKENDS)
def test_servers_starting_together_share_one_schema_and_one_key(backend: str, tmp_path: object) -> None:
    with fresh_database(backend) as url:
        database_url = url or f"sqlite:///{tmp_path}/first.db"
        engines = [storage.create_engine(database_url) for _ in range(STARTING)]
        barrier = threading.Barrier(STARTING)
        keys: list[str] = []
        failures: list[BaseException] = []

        def start(engine: sa.Engine) -> None:
            barrier.wait()
            try:
                storage.create_schema(engine)
                keys.append(storage.token_secret(engine))
            except BaseException as exc:  # the test reports every failure, whatever it is
                failures.append(exc)

        threads = [threading.Thread(target=start, args=(engine,)) for engine in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        try:
            assert not failures, [str(failure).splitlines()[0] for failure in failures]
            assert len(keys) == STARTING and len(set(keys)) == 1
            with engines[0].connect() as connection:
                names = connection.execute(sa.select(schema.settings.c.name)).scalars().all()
            assert sorted(names) == ["changes_log_id", "token_secret"]  # one key, one change log
        finally:
            for engine in engines:
                engine.dispose()
