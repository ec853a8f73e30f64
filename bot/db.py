"""One way to open our own databases (tickets, staff accounts): SQLAlchemy Core on SQLite or PostgreSQL.

The default profile keeps each store in a SQLite file under ``var/``; the scaled
profile puts them in PostgreSQL, where several action servers and web app replicas
share them. The stores write portable Core statements and this module hides the rest:

- SQLite writes start with ``BEGIN IMMEDIATE`` (datasette's rule, ``datasette/database.py``):
  the write lock is taken at the start, so two writers queue on the 30 s busy timeout
  instead of one failing half-way with "database is locked" when its read turns into a
  write. This is SQLAlchemy's documented pysqlite recipe: the driver's own implicit
  BEGIN is switched off on connect and a ``begin`` event emits ours. Reads (``reading``)
  begin a deferred transaction, so they never wait for a writer (WAL).
- SQLite files use WAL (readers and the writer do not block each other) and foreign keys.
- A file database gets a new connection per operation (pysqlite's ``NullPool`` in
  SQLAlchemy 1.4); PostgreSQL keeps a small pool, checked before use. ``Engine.dispose``
  (each store's ``close``) closes what the pool holds.

``bot/ops/schema.py`` opens the ops database itself: Rasa's event broker writes that
file through its own engine, and ops writes keep SQLite's default deferred BEGIN.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from sqlalchemy import create_engine, event, literal_column, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.schema import MetaData, Table

logger = logging.getLogger(__name__)

# Execution option of connections that only read: their transaction is deferred on SQLite.
READ_ONLY = "bot_read_only"
BUSY_TIMEOUT = 30  # seconds a SQLite writer waits for another's lock
# PostgreSQL advisory lock held while tables are created, when several processes start at once.
SCHEMA_LOCK = 4242


def open_engine(target: Path | str) -> Engine:
    """An engine for a SQLite file (a ``Path``, its folder created) or a SQLAlchemy URL (``str``)."""
    url = f"sqlite:///{target}" if isinstance(target, Path) else target
    if not url.startswith("sqlite"):
        return create_engine(url, future=True, pool_pre_ping=True)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, connect_args={"timeout": BUSY_TIMEOUT})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def reading(engine: Engine) -> Connection:
    """A connection for reads only (use it in ``with``): on SQLite its transaction does not take the write lock."""
    return engine.connect().execution_options(**{READ_ONLY: True})


@contextmanager
def creating(engine: Engine, metadata: MetaData) -> Iterator[Connection]:
    """Create ``metadata``'s missing tables, in a write transaction the caller may go on using (to seed rows).

    Processes that start together (web replicas, action servers) would each see a table
    missing and race on CREATE TABLE: on PostgreSQL the transaction first takes an
    advisory lock, so the second waits, then finds the tables made; on SQLite
    ``BEGIN IMMEDIATE`` already lets one writer in at a time.
    """
    with engine.begin() as db:
        if db.dialect.name == "postgresql":
            db.execute(text("select pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        metadata.create_all(db, checkfirst=True)
        yield db


def insertion_order(db: Connection) -> ColumnElement:
    """The physical row order, to break ties in a table without an id: SQLite's rowid, PostgreSQL's ctid.

    Only for append-only tables (ctid follows insertion while no row is updated or deleted).
    """
    return literal_column("ctid" if db.dialect.name == "postgresql" else "rowid")


def upsert(db: Connection, table: Table) -> Insert:
    """``insert(table)`` of the connection's dialect, which has ``on_conflict_do_update`` on SQLite and PostgreSQL."""
    insert: Callable[[Table], Insert] = postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
    return insert(table)


def postgres_url(url: str, password: str | None) -> str:
    """A PostgreSQL ``url`` as a libpq/SQLAlchemy URL, with ``password`` (BOT_PG_PASSWORD) filled in.

    For processes only, never for files. A URL that already carries a password keeps it;
    the user defaults to postgres, the port to 5432 and the database to hotline.

    Raises:
        ValueError: the URL has no host.
    """
    parts = urlsplit(url.replace("postgresql+psycopg2://", "postgresql://"))
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    auth = quote(parts.username or "postgres", safe="")
    password = unquote(parts.password) if parts.password else password
    if password:
        auth += ":" + quote(password, safe="")
    return f"postgresql://{auth}@{parts.hostname}:{parts.port or 5432}/{parts.path.strip('/') or 'hotline'}"


def _sqlite_connect(connection: Any, record: Any) -> None:
    connection.isolation_level = None  # no implicit BEGIN from pysqlite: _sqlite_begin emits ours
    cursor = connection.cursor()
    try:
        cursor.execute("pragma foreign_keys=on")
        cursor.execute("pragma journal_mode=wal")
    except Exception:  # another process holds a lock: keep the current journal mode
        logger.debug("could not switch a SQLite database to WAL")
    finally:
        cursor.close()


def _sqlite_begin(db: Connection) -> None:
    db.exec_driver_sql("begin" if db.get_execution_options().get(READ_ONLY) else "begin immediate")
