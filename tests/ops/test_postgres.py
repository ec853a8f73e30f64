"""The same ops data layer on PostgreSQL (the scale-out profile): same lists, same figures as SQLite."""

from __future__ import annotations

import os
import sqlite3
import threading

import pytest
from sqlalchemy import create_engine, insert, select, text

from bot.ops.events import refresh
from bot.ops.metrics import report
from bot.ops.review import Filters, Review
from bot.ops.schema import events, open_engine, turns

SERVER = "postgresql://postgres@127.0.0.1:5432"  # trust auth on loopback (Makefile/CI)


@pytest.fixture(scope="module")
def pg_ops_url():  # type: ignore[no-untyped-def]
    name = "ops_test_" + os.urandom(4).hex()
    admin = create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as db:
            db.execute(text(f'create database "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection problem means no server here
        pytest.fail(f"PostgreSQL at {SERVER} is not reachable (run `make scale-services`): {type(exc).__name__}")
    yield f"{SERVER}/{name}"
    with admin.connect() as db:
        db.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


@pytest.fixture(scope="module")
def both(ops_copy, pg_ops_url):  # type: ignore[no-untyped-def]
    engine = open_engine(pg_ops_url)
    with sqlite3.connect(ops_copy.path) as db:
        rows = [
            {"id": i, "sender_id": s, "data": d} for i, s, d in db.execute("select id, sender_id, data from events")
        ]
    half = len(rows) // 2
    with engine.begin() as db:
        db.execute(insert(events), rows[:half])
    refresh(engine)  # a first slice, then the rest: the watermark must pick up where it stopped
    with engine.begin() as db:
        db.execute(insert(events), rows[half:])
        db.execute(text("select setval(pg_get_serial_sequence('events', 'id'), (select max(id) from events))"))
    yield ops_copy.review, Review(engine)
    engine.dispose()


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"failed": "yes"},
        {"synthetic": "no"},
        {"handed_off": "yes"},
        {"category": "loan"},
        {"below": "0.7"},
        {"intent": "loan_ask"},
        {"q": "貸款"},
        {"q": "%"},
        {"rating": "none"},
        {"sort": "confidence", "order": "asc", "per_page": "5", "page": "2"},
    ],
)
def test_postgres_lists_the_same_conversations_as_sqlite(both, raw):
    sqlite_review, pg_review = both
    raw = {"synthetic": "yes", **raw}
    expected, actual = sqlite_review.search(Filters.parse(raw)), pg_review.search(Filters.parse(raw))
    assert actual.total == expected.total
    assert [r.sender_id for r in actual.rows] == [r.sender_id for r in expected.rows]


def test_postgres_metrics_equal_sqlite_metrics(both):
    sqlite_review, pg_review = both
    expected, actual = report(sqlite_review.engine), report(pg_review.engine)
    for name in ("conversations", "questions", "contained", "fallback_rate", "handoff_rate", "satisfaction", "ratings"):
        assert getattr(actual, name) == pytest.approx(getattr(expected, name)), name
    for key in ("categories", "hours", "handoff_reasons", "schemes"):
        assert actual.tables[key].rows == expected.tables[key].rows, key
    # Ties may sort differently under PostgreSQL's collation: compare as sets.
    assert {tuple(r[:2]) for r in actual.tables["unanswered"].rows} == {
        tuple(r[:2]) for r in expected.tables["unanswered"].rows
    }


def test_concurrent_refreshes_fold_each_event_once(both, ops_copy):
    _, pg_review = both
    with sqlite3.connect(ops_copy.path) as db:
        sender, data = db.execute(
            'select sender_id, data from events where data like \'%"event": "user"%\' limit 1'
        ).fetchone()
    with pg_review.engine.begin() as db:
        for _ in range(3):
            db.execute(insert(events).values(sender_id=sender + "-again", data=data))
    threads = [threading.Thread(target=refresh, args=(pg_review.engine,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with pg_review.engine.connect() as db:
        count = len(db.execute(select(turns.c.event_id).where(turns.c.sender_id == sender + "-again")).all())
    assert count == 3


def test_processes_starting_together_create_the_tables_once(postgres_url):
    """Web app, CLI and a refresh may start at once on a new database: none may fail."""
    url, errors = postgres_url(), []

    def start() -> None:
        try:
            open_engine(url).dispose()
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    engine = create_engine(url, future=True)
    with engine.connect() as db:
        names = {n for (n,) in db.execute(text("select indexname from pg_indexes where tablename = 'events'"))}
    engine.dispose()
    assert "ops_events_sender" in names
