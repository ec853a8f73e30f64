"""Fixtures for the ops tests.

Scratch PostgreSQL databases with unique names (masking, purge); and a copy of the
seeded stack's ops database per module (review, metrics, export): tests change
their copy freely (backdating, channels, tags) without touching the shared stack,
and compute the expected figures from the raw ``events`` rows with their own code,
not with bot/ops.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.ops.review import Review
from bot.ops.schema import open_engine

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def _admin():  # type: ignore[no-untyped-def]
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    connection.autocommit = True
    return connection


@pytest.fixture
def postgres_url() -> Iterator[Callable[[], str]]:
    """A factory of URLs of new, empty PostgreSQL databases, dropped afterwards.

    Fails when no PostgreSQL answers on 127.0.0.1:5432: `make test` starts it (`make scale-services`),
    and a skipped check would look like a passed one.
    """
    import psycopg2

    try:
        admin = _admin()
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not running on 127.0.0.1:5432 (run `make scale-services`): {exc}")
    created: list[str] = []

    def make(name: str = "") -> str:
        name = name or f"bot_test_{os.getpid()}_{os.urandom(4).hex()}"
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


@dataclass
class OpsCopy:
    path: Path
    url: str
    review: Review
    tickets: Path
    kb: Path

    def raw(self) -> dict[str, list[dict[str, Any]]]:
        """Every sender's events, oldest first (straight from the events table)."""
        by_sender: dict[str, list[dict[str, Any]]] = defaultdict(list)
        with sqlite3.connect(self.path) as db:
            for sender, data in db.execute("select sender_id, data from events order by id"):
                by_sender[sender].append(json.loads(data))
        return dict(by_sender)

    def rewrite(self, sender: str, change) -> None:  # type: ignore[no-untyped-def]
        """Apply ``change(event)`` to every event of ``sender`` (backdating, channel)."""
        with sqlite3.connect(self.path) as db:
            rows = db.execute("select id, data from events where sender_id = ?", (sender,)).fetchall()
            for event_id, data in rows:
                event = json.loads(data)
                change(event)
                db.execute("update events set data = ? where id = ?", (json.dumps(event), event_id))


def copy_ops_db(seeded, folder: Path) -> OpsCopy:  # type: ignore[no-untyped-def]
    source = seeded.stack.var_dir / "ops.db"
    target = folder / "ops.db"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    with sqlite3.connect(target) as db:  # start from a clean review state (the browser test corrects, too)
        for table in ("ops_corrections", "ops_tags", "ops_reviews"):
            db.execute(f"delete from {table}")
    url = f"sqlite:///{target}"
    return OpsCopy(
        target, url, Review(open_engine(url)), seeded.stack.var_dir / "tickets.db", seeded.stack.var_dir / "kb.db"
    )


@pytest.fixture(scope="module")
def ops_copy(seeded_ops, tmp_path_factory) -> OpsCopy:  # type: ignore[no-untyped-def]
    return copy_ops_db(seeded_ops, tmp_path_factory.mktemp("ops"))


def user_events(events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], bool]]:
    """(user event, inside a form) pairs: a form answer's intent is noise."""
    out, in_form = [], False
    for event in events:
        if event.get("event") == "active_loop":
            in_form = bool(event.get("name"))
        elif event.get("event") == "user":
            out.append((event, in_form))
    return out
