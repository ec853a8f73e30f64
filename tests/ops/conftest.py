"""Fixtures for the ops tests: scratch PostgreSQL databases with unique names."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

import pytest

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def _admin():  # type: ignore[no-untyped-def]
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    connection.autocommit = True
    return connection


@pytest.fixture
def postgres_url() -> Iterator[Callable[[], str]]:
    """A factory of URLs of new, empty PostgreSQL databases, dropped afterwards.

    Skips when no PostgreSQL answers on 127.0.0.1:5432 (the scale-out profile's server).
    """
    import psycopg2

    try:
        admin = _admin()
    except psycopg2.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not running on 127.0.0.1:5432: {exc}")
    created: list[str] = []

    def make() -> str:
        name = f"bot_test_{os.getpid()}_{os.urandom(4).hex()}"
        with admin.cursor() as cursor:
            cursor.execute(f'create database "{name}"')
        created.append(name)
        return f"postgresql://{PG['user']}@{PG['host']}:{PG['port']}/{name}"

    yield make
    with admin.cursor() as cursor:
        for name in created:
            cursor.execute(f'drop database if exists "{name}" with (force)')
    admin.close()


@pytest.fixture(autouse=True)
def restore_log_record_factory() -> Iterator[None]:
    """The masking stores install a process-wide log record factory; other tests get theirs back."""
    previous = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(previous)
