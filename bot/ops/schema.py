"""The ops database: Rasa's ``events`` table plus our derived and review tables.

SQLAlchemy Core, so the same code runs on SQLite (default profile) and PostgreSQL
(scale-out profile). Our tables start with ``ops_`` and every one that holds
conversation data has a ``sender_id`` column, so a purge of a conversation can
delete its rows from every table without knowing them. Tables are created
idempotently on first use; no migrations tool (a later column is an ``ALTER`` here).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

logger = logging.getLogger(__name__)

metadata = MetaData()

# Rasa's SQL event broker table (rasa/core/brokers/sql.py), declared identically so we
# can read it, and create it when the ops pages start before any event arrived.
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("data", Text),
)

EVENTS_BY_SENDER = Index("ops_events_sender", events.c.sender_id, events.c.id)

# One row per user message, derived from events (bot/ops/events.py).
turns = Table(
    "ops_turns",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=False),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("ts", Float, nullable=False),
    Column("day", String(10), nullable=False),
    Column("hour", Integer, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("intent", String(100)),
    Column("confidence", Float),
    Column("entities", Text, nullable=False),
    Column("category", String(32), nullable=False),
    Column("form_answer", Boolean, nullable=False),
    Column("actions", Text, nullable=False),
    Column("replies", Text, nullable=False),
    Column("answer", Text, nullable=False),
    Column("fell_back", Boolean, nullable=False),
    Column("handoff", Boolean, nullable=False),
    Column("rating", Integer),
    Column("scheme", String(100)),
    Column("failed", Boolean, nullable=False, default=False),  # bot/ops/failures.py
    Column("failure", String(200), nullable=False, default=""),
    Column("tapped", Text),
)
Index("ops_turns_ts", turns.c.ts)
Index("ops_turns_intent", turns.c.intent)

# One row per conversation (sender), derived from its turns.
conversations = Table(
    "ops_conversations",
    metadata,
    Column("sender_id", String(255), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("last_at", Float, nullable=False),
    Column("questions", Integer, nullable=False),
    Column("messages", Integer, nullable=False),
    Column("category", String(32), nullable=False),
    Column("first_text", Text, nullable=False),
    Column("min_confidence", Float),
    Column("fallbacks", Integer, nullable=False),
    Column("handed_off", Boolean, nullable=False),
    Column("handoff_reason", String(32)),
    Column("rating", Integer),
    Column("failures", Integer, nullable=False, default=0),
    Column("failure_kinds", String(200), nullable=False, default=""),
    Column("synthetic", String(16)),  # bot/ops/synthetic.py; NULL for real callers
)
Index("ops_conversations_synthetic", conversations.c.synthetic)
Index("ops_conversations_started", conversations.c.started_at)

reviews = Table(
    "ops_reviews",
    metadata,
    Column("sender_id", String(255), primary_key=True),
    Column("reviewed_by", String(64), nullable=False),
    Column("reviewed_at", Float, nullable=False),
)

tags = Table(
    "ops_tags",
    metadata,
    Column("sender_id", String(255), primary_key=True),
    Column("tag", String(40), primary_key=True),
    Column("added_by", String(64), nullable=False),
    Column("added_at", Float, nullable=False),
)
Index("ops_tags_tag", tags.c.tag)

corrections = Table(
    "ops_corrections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255), nullable=False, index=True),
    Column("event_id", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("intent", String(100), nullable=False),
    Column("entities", Text, nullable=False),
    Column("corrected_by", String(64), nullable=False),
    Column("corrected_at", Float, nullable=False),
    UniqueConstraint("event_id", name="ops_corrections_event"),
)

# Messages the channels' rate limits refused (bot/channels/rate_limit.py), per Taipei day,
# channel and reason ("sender" or "address"); counts only, no conversation data.
rate_limits = Table(
    "ops_rate_limits",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("reason", String(16), primary_key=True),
    Column("refused", Integer, nullable=False),
)

# Watermarks (the last events.id folded into ops_turns); no conversation data.
state = Table(
    "ops_state",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", Integer, nullable=False),
)
DERIVED_WATERMARK = "events"
DERIVED = (turns, conversations)


def open_engine(url: str) -> Engine:
    """An engine for ``url`` with our tables created (idempotent).

    SQLite: WAL so our reads never block Rasa's event writes, and a long busy
    timeout so a refresh and the broker wait for each other instead of failing.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, future=True, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, future=True, pool_pre_ping=True)
    create_tables(engine)
    return engine


def create_tables(engine: Engine) -> None:
    """Our tables and the index on Rasa's ``events``, idempotently, even with another process at it.

    Two processes starting together (web app, CLI, Rasa's broker) can both see a table
    missing and both create it; the loser gets an error and simply checks again.
    Rasa's table has no index on sender_id, which refresh and purge read by; create_all
    adds indexes only with a new table, so this one is created on its own.
    """
    for attempt in range(3):
        try:
            metadata.create_all(engine, checkfirst=True)
            EVENTS_BY_SENDER.create(engine, checkfirst=True)
            _renew_outdated_derived(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == 2:
                raise
            logger.info("another process was creating the ops tables; checking again")


def _renew_outdated_derived(engine: Engine) -> None:
    """Drop and recreate the derived tables when they lack a column this code writes.

    They hold nothing but what ``events`` already says, so rebuilding them (the next
    refresh starts again from event 0) is the whole migration.
    """
    from sqlalchemy import delete, inspect

    inspector = inspect(engine)
    outdated = [t for t in DERIVED if {c.name for c in t.columns} - {c["name"] for c in inspector.get_columns(t.name)}]
    if not outdated:
        return
    logger.info("ops derived tables are older than this code; rebuilding them from events")
    for table in DERIVED:
        table.drop(engine, checkfirst=True)
    with engine.begin() as db:
        db.execute(delete(state).where(state.c.name == DERIVED_WATERMARK))
    metadata.create_all(engine, checkfirst=True)


def add_rate_limited(engine: Engine, counts: Mapping[tuple[str, str, str], int]) -> None:
    """Add refusal counts keyed (day, channel, reason), in one transaction.

    One upsert per key (``INSERT … ON CONFLICT DO UPDATE``, SQLite and PostgreSQL alike), so
    several Rasa servers adding to the same day at once all count.
    """
    if not counts:
        return
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    with engine.begin() as db:
        for (day, channel, reason), n in counts.items():
            statement = insert(rate_limits).values(day=day, channel=channel, reason=reason, refused=n)
            db.execute(
                statement.on_conflict_do_update(
                    index_elements=[rate_limits.c.day, rate_limits.c.channel, rate_limits.c.reason],
                    set_={"refused": rate_limits.c.refused + statement.excluded.refused},
                )
            )


def _sqlite_pragmas(connection: sqlite3.Connection, record: object) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute("pragma journal_mode=wal")
    except Exception:  # noqa: BLE001 - another process holds a lock: keep the current mode
        logger.debug("could not switch ops.db to WAL")
    finally:
        cursor.close()
