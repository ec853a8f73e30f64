"""Handoff tickets in SQLite: one module for storage, so another backend can replace it.

Every state change is a row in ``ticket_events`` with its time, so waiting and
handling times can be reported. Writes run under ``BEGIN IMMEDIATE``; a claim is
one conditional UPDATE, so of two staff claiming at once exactly one wins.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from bot.settings import Settings


class TicketStatus(str, Enum):
    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"
    WITHDRAWN = "withdrawn"  # the caller cancelled the request before staff resolved it

    @property
    def label(self) -> str:
        return {"open": "待處理", "claimed": "處理中", "resolved": "已結案", "withdrawn": "來電者已撤回"}[self.value]


# The open work a shift sees first (the queue's default): not resolved (nor anything else finished).
ACTIVE = (TicketStatus.OPEN, TicketStatus.CLAIMED)
# Finished: nobody replies to, transfers or resolves these any more (a withdrawn caller is back with the bot).
FINISHED = (TicketStatus.RESOLVED, TicketStatus.WITHDRAWN)

# How a ticket ended; staff pick one when resolving (stored on the 'resolved' event).
OUTCOMES = {"replied": "已回覆", "called_back": "已回電", "no_answer": "未接通", "referred": "轉其他單位",
            "no_action": "無需處理"}


class UnknownTicket(KeyError):
    """No ticket has this id."""


class TicketConflict(RuntimeError):
    """The ticket is not in a state that allows this (e.g. resolving a ticket twice, replying to a withdrawn one)."""


@dataclass(frozen=True, slots=True)
class NewTicket:
    conversation_id: str
    channel: str
    category: str
    summary: str
    transcript: list[dict[str, Any]]
    contact_name: str
    contact_phone: str
    preferred_time: str
    priority: int
    urgent_reason: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    schemes: list[str] = field(default_factory=list)
    kind: str = "handoff"  # or "disaster_report"
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticket(NewTicket):
    """A stored ticket: what it was opened with, and its state since."""

    id: int
    status: TicketStatus
    assignee: str | None
    rating: int | None
    created_at: str
    claimed_at: str | None
    first_response_at: str | None
    resolved_at: str | None


@dataclass(frozen=True, slots=True)
class Entry:
    """A staff reply or a private note."""

    id: int
    ticket_id: int
    author: str
    text: str
    at: str
    buttons: tuple[dict[str, str], ...] = ()


SCHEMA = """
create table if not exists tickets (
    id integer primary key, conversation_id text not null, channel text not null, category text not null,
    summary text not null, transcript text not null, contact_name text not null, contact_phone text not null,
    preferred_time text not null, priority integer not null, urgent_reason text, entities text not null,
    schemes text not null, kind text not null, details text not null, status text not null, assignee text,
    rating integer, created_at text not null, claimed_at text, first_response_at text, resolved_at text
);
create index if not exists tickets_queue on tickets (status, priority, created_at);
create index if not exists tickets_conversation on tickets (conversation_id, status);
create table if not exists ticket_events (
    id integer primary key, ticket_id integer not null references tickets(id), kind text not null,
    actor text, detail text, at text not null
);
create index if not exists ticket_events_ticket on ticket_events (ticket_id, kind);
create table if not exists replies (
    id integer primary key, ticket_id integer not null references tickets(id), conversation_id text not null,
    author text not null, text text not null, at text not null, delivered_at text, buttons text
);
create table if not exists notes (
    id integer primary key, ticket_id integer not null references tickets(id), author text not null,
    text text not null, at text not null
);
create table if not exists canned_replies (id integer primary key, title text not null, text text not null);
create table if not exists contact_drafts (
    id integer primary key, conversation_id text not null, slot text not null, value text not null, at text not null,
    unique (conversation_id, slot)
);
"""

DEFAULT_CANNED = (
    ("問候", "您好，我是馬上辦服務中心的客服人員，接下來由我為您服務。"),
    ("請稍候", "感謝您的耐心，我正在為您查詢，請稍候。"),
    ("請來電", "這個問題需要進一步了解您的狀況，方便的話請撥 0800-280-280，我們會盡快協助。"),
    ("結束", "感謝您的詢問，祝您生意興隆！如有其他問題，歡迎再跟我們聯絡。"),
)


# Disaster report fields that identify the reporter; dropped when a resolved ticket is redacted.
PERSONAL_DETAILS = frozenset({"phone", "company"})


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class SqliteTicketStore:
    """Tickets, replies, notes and canned replies in one SQLite file (a connection per call)."""

    def __init__(self, path: Path, now: Callable[[], str] = utc_now) -> None:
        self.path = path
        self.now = now
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._read() as db:
            db.executescript(SCHEMA)  # executescript commits on its own; no explicit transaction
        with self._write() as db:
            if not db.execute("select 1 from canned_replies limit 1").fetchone():
                db.executemany("insert into canned_replies (title, text) values (?, ?)", DEFAULT_CANNED)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("pragma journal_mode=wal")
        db.execute("pragma foreign_keys=on")
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            db.execute("begin immediate")
            yield db
            db.execute("commit")
        except BaseException:
            db.execute("rollback")
            raise
        finally:
            db.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            yield db
        finally:
            db.close()

    def _event(self, db: sqlite3.Connection, ticket_id: int, kind: str, actor: str | None, detail: Any = None) -> None:
        db.execute("insert into ticket_events (ticket_id, kind, actor, detail, at) values (?, ?, ?, ?, ?)",
                   (ticket_id, kind, actor, json.dumps(detail, ensure_ascii=False) if detail is not None else None,
                    self.now()))

    # --- tickets -------------------------------------------------------------------
    def create(self, new: NewTicket) -> Ticket:
        with self._write() as db:
            cursor = db.execute(
                "insert into tickets (conversation_id, channel, category, summary, transcript, contact_name,"
                " contact_phone, preferred_time, priority, urgent_reason, entities, schemes, kind, details, status,"
                " created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (new.conversation_id, new.channel, new.category, new.summary,
                 json.dumps(new.transcript, ensure_ascii=False), new.contact_name, new.contact_phone,
                 new.preferred_time, new.priority, new.urgent_reason, json.dumps(new.entities, ensure_ascii=False),
                 json.dumps(new.schemes), new.kind, json.dumps(new.details, ensure_ascii=False),
                 TicketStatus.OPEN.value, self.now()),
            )
            ticket_id = int(cursor.lastrowid or 0)
            self._event(db, ticket_id, "created", None, {"priority": new.priority, "kind": new.kind})
        return self.get(ticket_id)

    def get(self, ticket_id: int) -> Ticket:
        with self._read() as db:
            row = db.execute("select * from tickets where id = ?", (ticket_id,)).fetchone()
        if row is None:
            raise UnknownTicket(ticket_id)
        return _ticket(row)

    def open_for(self, conversation_id: str) -> Ticket | None:
        """The conversation's ticket that is neither resolved nor withdrawn yet, if any."""
        with self._read() as db:
            row = db.execute("select * from tickets where conversation_id = ? and status not in (?, ?)"
                             " order by id desc limit 1",
                             (conversation_id, TicketStatus.RESOLVED.value, TicketStatus.WITHDRAWN.value)).fetchone()
        return _ticket(row) if row else None

    def latest_for(self, conversation_id: str) -> Ticket | None:
        with self._read() as db:
            row = db.execute("select * from tickets where conversation_id = ? order by id desc limit 1",
                             (conversation_id,)).fetchone()
        return _ticket(row) if row else None

    def queue(self, status: TicketStatus | tuple[TicketStatus, ...] | None = None, category: str | None = None,
              channel: str | None = None) -> list[Ticket]:
        """Tickets by priority, then longest waiting first (``status``: one, several, or any)."""
        where, args = [], []
        statuses = (status,) if isinstance(status, TicketStatus) else tuple(status or ())
        if statuses:
            where.append("status in (" + ", ".join("?" for _ in statuses) + ")")
            args.extend(s.value for s in statuses)
        if category:
            where.append("category = ?"), args.append(category)
        if channel:
            where.append("channel = ?"), args.append(channel)
        sql = "select * from tickets" + (" where " + " and ".join(where) if where else "")
        with self._read() as db:
            rows = db.execute(sql + " order by status in ('resolved', 'withdrawn'), priority, created_at", args).fetchall()
        return [_ticket(r) for r in rows]

    def claim(self, ticket_id: int, staff: str) -> bool:
        """Take an open ticket; ``False`` when someone else got it first."""
        with self._write() as db:
            cursor = db.execute("update tickets set status = ?, assignee = ?, claimed_at = ? where id = ? and status = ?",
                                (TicketStatus.CLAIMED.value, staff, self.now(), ticket_id, TicketStatus.OPEN.value))
            won = cursor.rowcount == 1
            if won:
                self._event(db, ticket_id, "claimed", staff)
        if not won:
            self.get(ticket_id)  # raises UnknownTicket for a wrong id
        return won

    def transfer(self, ticket_id: int, staff: str, to: str) -> None:
        with self._write() as db:
            cursor = db.execute("update tickets set assignee = ? where id = ? and status = ?",
                                (to, ticket_id, TicketStatus.CLAIMED.value))
            if cursor.rowcount != 1:
                raise TicketConflict("only a ticket being handled can be transferred")
            self._event(db, ticket_id, "transferred", staff, {"to": to})

    def resolve(self, ticket_id: int, staff: str, outcome: str | None = None) -> Ticket:
        """Close the ticket; ``outcome`` (a key of ``OUTCOMES``) is kept on the 'resolved' event."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self._write() as db:
            cursor = db.execute("update tickets set status = ?, resolved_at = ? where id = ? and status in (?, ?)",
                                (TicketStatus.RESOLVED.value, self.now(), ticket_id, TicketStatus.OPEN.value,
                                 TicketStatus.CLAIMED.value))
            if cursor.rowcount != 1:
                self.get(ticket_id)
                raise TicketConflict("the ticket is resolved or withdrawn already")
            self._event(db, ticket_id, "resolved", staff, {"outcome": outcome} if outcome else None)
        return self.get(ticket_id)

    def change_mark(self, ticket_id: int | None = None) -> tuple[int, int]:
        """(latest ticket event id, open tickets): changes whenever a ticket is opened, claimed, answered...

        The live console polls this (several web processes share the store, so no
        in-process notification would reach them all).
        """
        with self._read() as db:
            if ticket_id is None:
                last = db.execute("select max(id) as n from ticket_events").fetchone()["n"]
            else:
                last = db.execute("select max(id) as n from ticket_events where ticket_id = ?", (ticket_id,)).fetchone()["n"]
            waiting = db.execute("select count(*) as n from tickets where status = ?",
                                 (TicketStatus.OPEN.value,)).fetchone()["n"]
        return int(last or 0), int(waiting or 0)

    def caller_wrote(self, ticket_id: int) -> None:
        """The caller sent a message while the ticket waits (the console flags it until staff reply)."""
        with self._write() as db:
            self._event(db, ticket_id, "caller_message", None)

    def unanswered(self, ticket_ids: list[int]) -> dict[int, int]:
        """Ticket id → the caller's messages since the last staff reply (since the ticket opened if none)."""
        if not ticket_ids:
            return {}
        marks = ", ".join("?" for _ in ticket_ids)
        with self._read() as db:
            rows = db.execute(
                "select e.ticket_id as ticket_id, count(*) as n from ticket_events e"
                f" where e.kind = 'caller_message' and e.ticket_id in ({marks}) and e.id > coalesce("
                "(select max(r.id) from ticket_events r where r.ticket_id = e.ticket_id and r.kind = 'replied'), 0)"
                " group by e.ticket_id", tuple(ticket_ids)).fetchall()
        return {int(r["ticket_id"]): int(r["n"]) for r in rows}

    def withdraw(self, ticket_id: int) -> bool:
        """The caller no longer wants a person: an open or claimed ticket becomes withdrawn.

        ``False`` when it was already resolved or withdrawn (nothing changes then).
        """
        with self._write() as db:
            cursor = db.execute("update tickets set status = ? where id = ? and status in (?, ?)",
                                (TicketStatus.WITHDRAWN.value, ticket_id, TicketStatus.OPEN.value,
                                 TicketStatus.CLAIMED.value))
            done = cursor.rowcount == 1
            if done:
                self._event(db, ticket_id, "withdrawn", None)
        return done

    def rate(self, ticket_id: int, rating: int) -> bool:
        """Keep the caller's rating; False when the ticket was rated already.

        One rating per ticket (security review L3): anyone who knows a sender id could
        otherwise keep changing the satisfaction figures.
        """
        if not 1 <= rating <= 5:
            raise ValueError("rating must be 1 to 5")
        with self._write() as db:
            changed = db.execute("update tickets set rating = ? where id = ? and rating is null",
                                 (rating, ticket_id)).rowcount
            if changed:
                self._event(db, ticket_id, "rated", None, {"rating": rating})
        return bool(changed)

    # --- replies and notes -----------------------------------------------------------
    def reply(self, ticket_id: int, staff: str, text: str) -> Entry:
        """A staff reply, kept for the caller's client; refused (TicketConflict) once the ticket is finished."""
        ticket = self.get(ticket_id)
        if ticket.status in FINISHED:
            raise TicketConflict(f"the ticket is {ticket.status.value}")
        at = self.now()
        with self._write() as db:
            cursor = db.execute("insert into replies (ticket_id, conversation_id, author, text, at) values (?, ?, ?, ?, ?)",
                                (ticket_id, ticket.conversation_id, staff, text, at))
            db.execute("update tickets set first_response_at = coalesce(first_response_at, ?) where id = ?", (at, ticket_id))
            self._event(db, ticket_id, "replied", staff)
        return Entry(int(cursor.lastrowid or 0), ticket_id, staff, text, at)

    def replies(self, ticket_id: int) -> list[Entry]:
        with self._read() as db:
            rows = db.execute("select * from replies where ticket_id = ? order by id", (ticket_id,)).fetchall()
        return [_entry(r) for r in rows]

    def take_undelivered(self, conversation_id: str) -> list[Entry]:
        """Staff replies not yet picked up by the user's client (REST), marked delivered now."""
        with self._write() as db:
            rows = db.execute("select * from replies where conversation_id = ? and delivered_at is null order by id",
                              (conversation_id,)).fetchall()
            db.execute("update replies set delivered_at = ? where conversation_id = ? and delivered_at is null",
                       (self.now(), conversation_id))
        return [_entry(r) for r in rows]

    def queue_bot_message(self, ticket_id: int, text: str, buttons: list[dict[str, str]]) -> None:
        """A bot message for the user's client to pick up (the rating question after resolving)."""
        ticket = self.get(ticket_id)
        with self._write() as db:
            db.execute("insert into replies (ticket_id, conversation_id, author, text, at, buttons) values (?, ?, ?, ?, ?, ?)",
                       (ticket_id, ticket.conversation_id, "bot", text, self.now(), json.dumps(buttons, ensure_ascii=False)))

    def add_note(self, ticket_id: int, staff: str, text: str) -> None:
        self.get(ticket_id)
        with self._write() as db:
            db.execute("insert into notes (ticket_id, author, text, at) values (?, ?, ?, ?)", (ticket_id, staff, text, self.now()))
            self._event(db, ticket_id, "noted", staff)

    def notes(self, ticket_id: int) -> list[Entry]:
        with self._read() as db:
            rows = db.execute("select * from notes where ticket_id = ? order by id", (ticket_id,)).fetchall()
        return [Entry(r["id"], r["ticket_id"], r["author"], r["text"], r["at"]) for r in rows]

    def events(self, ticket_id: int) -> list[dict[str, Any]]:
        with self._read() as db:
            rows = db.execute("select kind, actor, detail, at from ticket_events where ticket_id = ? order by id",
                              (ticket_id,)).fetchall()
        return [{"kind": r["kind"], "actor": r["actor"], "detail": json.loads(r["detail"]) if r["detail"] else None,
                 "at": r["at"]} for r in rows]

    # --- contact details given before the ticket exists -------------------------------
    def keep_contact(self, conversation_id: str, slot: str, value: str) -> None:
        """Keep a form answer the tracker store will mask (a phone), for the ticket opened later.

        The tracker reloaded for the next message holds ``[手機]``; the callback needs
        the number, and only staff read this database.
        """
        with self._write() as db:
            db.execute("insert into contact_drafts (conversation_id, slot, value, at) values (?, ?, ?, ?)"
                       " on conflict (conversation_id, slot) do update set value = excluded.value, at = excluded.at",
                       (conversation_id, slot, value, self.now()))

    def take_contacts(self, conversation_id: str) -> dict[str, str]:
        """The conversation's kept form answers by slot, removed from the drafts."""
        with self._write() as db:
            rows = db.execute("select slot, value from contact_drafts where conversation_id = ?",
                              (conversation_id,)).fetchall()
            db.execute("delete from contact_drafts where conversation_id = ?", (conversation_id,))
        return {r["slot"]: r["value"] for r in rows}

    # --- a message the caller took back (LINE unsend) -------------------------------------
    def forget_lines(self, conversation_id: str, forget: Callable[[dict[str, Any]], bool], note: str) -> int:
        """Replace the caller's lines that ``forget`` picks, in every ticket of the conversation, by ``note``.

        The ticket keeps its transcript as it was when it opened (``actions/handoff.py``), so a
        message the caller unsent later is still there: its text goes, with its entities and any
        quote of it in the summary or a report's details; the ticket log says a message was taken
        back. Returns how many lines changed.
        """
        from bot.handoff.transcript import entities

        changed = 0
        with self._write() as db:
            rows = db.execute("select id, transcript, summary, details from tickets where conversation_id = ?",
                              (conversation_id,)).fetchall()
            for row in rows:
                lines = json.loads(row["transcript"])
                hits = [line for line in lines if line.get("who") == "user" and forget(line)]
                if not hits:
                    continue
                summary, details = row["summary"], json.loads(row["details"])
                for line in hits:
                    said = str(line.get("text") or "")
                    summary = _unquoted(summary, said, note)
                    details = {k: note if v == said else v for k, v in details.items()}
                    line.update(text=note, entities=[])
                    line.pop("tapped", None)
                db.execute("update tickets set transcript = ?, summary = ?, details = ?, entities = ? where id = ?",
                           (json.dumps(lines, ensure_ascii=False), summary, json.dumps(details, ensure_ascii=False),
                            json.dumps(entities(lines), ensure_ascii=False), row["id"]))
                self._event(db, row["id"], "unsent", None, {"lines": len(hits)})
                changed += len(hits)
        return changed

    # --- retention (python -m bot ops purge) ----------------------------------------------
    def redact_resolved_before(self, before: str, dry_run: bool = False) -> int:
        """Remove what identifies the caller from tickets resolved before ``before`` (ISO time).

        Contact name, phone and preferred time, transcript and entities go; a disaster
        report keeps its non-personal fields; summary, replies and notes are masked.
        Category, priority, times and rating stay for metrics. Returns how many tickets.
        """
        from bot.privacy.masking import mask_text

        with self._write() as db:
            rows = db.execute("select id, summary, details from tickets where status = ? and resolved_at < ?"
                              " and id not in (select ticket_id from ticket_events where kind = 'redacted')",
                              (TicketStatus.RESOLVED.value, before)).fetchall()
            if dry_run:
                return len(rows)
            for row in rows:
                details = {k: mask_text(str(v)) for k, v in json.loads(row["details"]).items() if k not in PERSONAL_DETAILS}
                db.execute("update tickets set contact_name = '', contact_phone = '', preferred_time = '', transcript = '[]',"
                           " entities = '[]', summary = ?, details = ? where id = ?",
                           (mask_text(row["summary"]), json.dumps(details, ensure_ascii=False), row["id"]))
                for table in ("replies", "notes"):
                    for entry in db.execute(f"select id, text from {table} where ticket_id = ?", (row["id"],)).fetchall():
                        db.execute(f"update {table} set text = ? where id = ?", (mask_text(entry["text"]), entry["id"]))
                self._event(db, row["id"], "redacted", None)
        return len(rows)

    def drop_contact_drafts_before(self, before: str, dry_run: bool = False) -> int:
        """Forget form answers kept for a ticket that was never opened (the caller left the form)."""
        with self._write() as db:
            if dry_run:
                return int(db.execute("select count(*) as n from contact_drafts where at < ?", (before,)).fetchone()["n"])
            return db.execute("delete from contact_drafts where at < ?", (before,)).rowcount

    # --- canned replies ----------------------------------------------------------------
    def canned(self) -> list[dict[str, Any]]:
        with self._read() as db:
            return [dict(r) for r in db.execute("select id, title, text from canned_replies order by id")]

    def add_canned(self, title: str, text: str) -> None:
        with self._write() as db:
            db.execute("insert into canned_replies (title, text) values (?, ?)", (title, text))

    def delete_canned(self, canned_id: int) -> None:
        with self._write() as db:
            db.execute("delete from canned_replies where id = ?", (canned_id,))


class PostgresTicketStore(SqliteTicketStore):
    """The same store on PostgreSQL (scaled profile: several Rasa, action and web processes share it).

    The SQL is the SQLite store's, run through a thin adapter: ``?`` placeholders become
    ``%s``, an INSERT returns its id, and the schema's ``integer primary key`` becomes an
    identity column. A claim stays one conditional UPDATE: under READ COMMITTED the
    second of two concurrent claims re-checks ``status = 'open'`` after the first
    commits, updates no row and loses.
    """

    def __init__(self, url: str, now: Callable[[], str] = utc_now) -> None:
        self.url = url.replace("postgresql+psycopg2://", "postgresql://")
        self.now = now
        with self._write() as db:
            db.execute("select pg_advisory_xact_lock(4242)")  # one schema creation when processes start at once
            for statement in filter(str.strip, SCHEMA.split(";")):
                db.execute(statement.replace("id integer primary key", "id integer generated by default as identity primary key"))
            if not db.execute("select 1 from canned_replies limit 1").fetchone():
                db.executemany("insert into canned_replies (title, text) values (?, ?)", DEFAULT_CANNED)

    @contextmanager
    def _write(self) -> Iterator[_PgConnection]:  # type: ignore[override]
        import psycopg2

        raw = psycopg2.connect(self.url)
        try:
            with raw:  # commits on success, rolls back on an exception
                yield _PgConnection(raw)
        finally:
            raw.close()

    _read = _write  # type: ignore[assignment]


class _PgCursor:
    def __init__(self, cursor: Any, lastrowid: int | None) -> None:
        self._cursor, self.lastrowid, self.rowcount = cursor, lastrowid, cursor.rowcount

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor.fetchall())


class _PgConnection:
    """The part of ``sqlite3.Connection`` the store uses, over a psycopg2 connection."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, args: Any = ()) -> _PgCursor:
        from psycopg2.extras import RealDictCursor

        cursor = self.raw.cursor(cursor_factory=RealDictCursor)
        sql = sql.replace("?", "%s")
        inserting = sql.lstrip().lower().startswith("insert")
        cursor.execute(sql + (" returning id" if inserting else ""), tuple(args))
        return _PgCursor(cursor, cursor.fetchone()["id"] if inserting else None)

    def executemany(self, sql: str, rows: Any) -> None:
        for row in rows:
            self.execute(sql, row)


def open_ticket_store(settings: Settings) -> SqliteTicketStore:
    """The store the settings name (``Settings.tickets_db``): PostgreSQL for a postgresql:// URL, else SQLite."""
    url = settings.tickets_db
    if url.startswith("postgresql"):
        return PostgresTicketStore(url)
    return SqliteTicketStore(Path(url.removeprefix("sqlite:///")))


def _unquoted(summary: str, said: str, note: str) -> str:
    """``summary`` without ``said`` (whole, or cut to 59 characters and 「…」 as the summary quotes it)."""
    if not said:
        return summary
    for quoted in (said, said[:59] + "…"):
        summary = summary.replace(quoted, note)
    return summary


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(row["id"], row["ticket_id"], row["author"], row["text"], row["at"],
                 tuple(json.loads(row["buttons"])) if row["buttons"] else ())


def _ticket(row: sqlite3.Row) -> Ticket:
    return Ticket(
        id=row["id"], conversation_id=row["conversation_id"], channel=row["channel"], category=row["category"],
        summary=row["summary"], transcript=json.loads(row["transcript"]), contact_name=row["contact_name"],
        contact_phone=row["contact_phone"], preferred_time=row["preferred_time"], priority=row["priority"],
        urgent_reason=row["urgent_reason"], entities=json.loads(row["entities"]), schemes=json.loads(row["schemes"]),
        kind=row["kind"], details=json.loads(row["details"]), status=TicketStatus(row["status"]),
        assignee=row["assignee"], rating=row["rating"], created_at=row["created_at"], claimed_at=row["claimed_at"],
        first_response_at=row["first_response_at"], resolved_at=row["resolved_at"],
    )
