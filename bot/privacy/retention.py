"""Retention: delete conversations idle longer than N days, and personal details of old tickets.

A conversation's age is its last event anywhere (tracker store or ops database). When
it is older than the cutoff, every row keyed by its ``sender_id`` goes: the tracker
store's events, the event broker's events, and the rows of any other table in either
database with a ``sender_id`` column (review tags and corrections), found by
inspection so new review tables are covered without code changes.

Tickets are the hotline's record of work and stay, but a ticket resolved more than N
days ago loses what identifies the caller: contact name, phone and preferred time,
the transcript and entities, personal fields of a disaster report; its summary,
replies and notes are masked. Category, priority, times and rating stay for metrics.

Works on any SQLAlchemy URL; last-event times are read in SQL on SQLite and
PostgreSQL and in Python elsewhere.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bot.handoff.tickets import TicketStore
from bot.privacy.masking import mask_text

CHUNK = 500


@dataclass(frozen=True, slots=True)
class PurgeReport:
    cutoff: dt.datetime
    conversations: int
    rows: dict[str, int] = field(default_factory=dict)  # "tracker:events" -> rows deleted
    tickets_redacted: int = 0
    contact_drafts: int = 0
    dry_run: bool = False


def _exists(url: str) -> bool:
    """False for a SQLite file that is not there (so a purge does not create it)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return True
    return Path(parsed.database).exists()


def _sender_tables(engine: sa.engine.Engine) -> dict[str, list[str]]:
    inspector = sa.inspect(engine)
    tables = {name: [c["name"] for c in inspector.get_columns(name)] for name in inspector.get_table_names()}
    return {name: columns for name, columns in tables.items() if "sender_id" in columns}


def _last_event_times(db: sa.engine.Connection, table: sa.Table) -> Iterator[tuple[str, float]]:
    """(sender_id, last event time) from an events table: Rasa's tracker store or the SQL broker's."""
    if "timestamp" in table.c:
        when = table.c.timestamp
    elif db.dialect.name == "sqlite":
        when = sa.func.json_extract(table.c.data, "$.timestamp")
    elif db.dialect.name == "postgresql":
        when = sa.cast(sa.cast(table.c.data, postgresql.JSON).op("->>")("timestamp"), sa.Float)
    else:
        latest: dict[str, float] = {}
        for sender, data in db.execute(sa.select(table.c.sender_id, table.c.data)):
            stamp = float(json.loads(data).get("timestamp") or 0)
            latest[sender] = max(latest.get(sender, 0.0), stamp)
        yield from latest.items()
        return
    query = sa.select(table.c.sender_id, sa.func.max(when)).group_by(table.c.sender_id)
    for sender, stamp in db.execute(query):
        yield sender, float(stamp or 0)


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class Database:
    """One database (tracker store or ops) seen through its tables with a ``sender_id`` column."""

    def __init__(self, label: str, url: str) -> None:
        self.label = label
        self.engine = sa.create_engine(url)
        self.tables = {
            name: sa.Table(name, sa.MetaData(), autoload_with=self.engine) for name in _sender_tables(self.engine)
        }

    def last_events(self) -> dict[str, float]:
        """Each conversation's last event time in this database's ``events`` table (if it has one)."""
        table = self.tables.get("events")
        if table is None:
            return {}
        with self.engine.connect() as db:
            return dict(_last_event_times(db, table))

    def delete(self, senders: list[str], dry_run: bool) -> dict[str, int]:
        """Delete (or count, for a dry run) the rows of ``senders`` in every table; rows per table."""
        counts: dict[str, int] = {}
        with self.engine.begin() as db:
            for name, table in self.tables.items():
                total = 0
                for chunk in _chunks(senders):
                    where = table.c.sender_id.in_(chunk)
                    if dry_run:
                        total += int(
                            db.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar() or 0
                        )
                    else:
                        total += int(db.execute(table.delete().where(where)).rowcount or 0)
                counts[f"{self.label}:{name}"] = total
        return counts

    def close(self) -> None:
        self.engine.dispose()


def stale_conversations(databases: list[Database], cutoff: float) -> list[str]:
    """Conversations whose last event in any of ``databases`` is before ``cutoff`` (epoch seconds).

    Rows of a conversation with no events at all (say, review data seeded by hand)
    are left alone: there is no date to judge them by.
    """
    last: dict[str, float] = {}
    for database in databases:
        for sender, stamp in database.last_events().items():
            last[sender] = max(last.get(sender, 0.0), stamp)
    return sorted(sender for sender, stamp in last.items() if stamp < cutoff)


def purge(
    tracker_url: str,
    ops_url: str,
    tickets: TicketStore | None,
    days: int,
    now: dt.datetime | None = None,
    dry_run: bool = False,
) -> PurgeReport:
    """Delete conversations idle for more than ``days`` and redact tickets resolved before then.

    Args:
        tracker_url: SQLAlchemy URL of Rasa's tracker store.
        ops_url: SQLAlchemy URL of the ops database (event broker and review tables).
        tickets: the ticket store, or ``None`` when there is none yet.
        days: the retention period (``BOT_RETENTION_DAYS``).
        now: the current time (UTC); tests pass one.
        dry_run: count what would go, change nothing.
    """
    if days <= 0:
        raise ValueError("days must be a positive whole number")
    cutoff = (now or dt.datetime.now(dt.timezone.utc)) - dt.timedelta(days=days)
    urls = {"tracker": tracker_url, "ops": ops_url}
    databases = [Database(label, url) for label, url in urls.items() if _exists(url)]
    try:
        senders = stale_conversations(databases, cutoff.timestamp())
        rows: dict[str, int] = {}
        for database in databases:
            rows.update(database.delete(senders, dry_run))
    finally:
        for database in databases:
            database.close()
    redacted = drafts = 0
    if tickets is not None:
        before = cutoff.isoformat(timespec="seconds")
        redacted = tickets.redact_resolved_before(before, mask_text, dry_run)
        drafts = tickets.drop_contact_drafts_before(before, dry_run)
    return PurgeReport(cutoff, len(senders), rows, redacted, drafts, dry_run)
