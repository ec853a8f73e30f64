"""The ticket store on SQLAlchemy Core: one implementation of ``TicketStore`` for SQLite and PostgreSQL.

The default profile keeps tickets in ``var/tickets.db``; the scaled profile in
PostgreSQL, which several Rasa, action and web processes share (BOT_TICKETS_DB_URL).
The statements are portable Core, so nothing is rewritten per database; what differs
(``BEGIN IMMEDIATE``, WAL, pools) is in ``bot/db.py``. A claim stays one conditional
UPDATE: on SQLite under ``BEGIN IMMEDIATE`` one writer runs at a time; on PostgreSQL,
under READ COMMITTED, the second of two concurrent claims re-checks ``status = 'open'``
after the first commits, updates no row and loses.

The tables are the ones SQLite ticket files and PostgreSQL databases already hold
(the same names, columns and indexes; ``id`` an identity column on PostgreSQL), created
when missing; no migrations tool.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Row

from bot import db as database
from bot.handoff.tickets import (
    FINISHED,
    OUTCOMES,
    PERSONAL_DETAILS,
    Entry,
    NewTicket,
    Ticket,
    TicketConflict,
    TicketStatus,
    TicketStore,
    UnknownTicket,
    utc_now,
)
from bot.handoff.transcript import entities as transcript_entities
from bot.settings import Settings

metadata = MetaData()


def _id() -> Column:
    """``id integer primary key``: SQLite's rowid; on PostgreSQL an identity column, as the tables were made."""
    return Column("id", Integer, Identity(), primary_key=True)


def _ticket_id() -> Column:
    return Column("ticket_id", Integer, ForeignKey("tickets.id"), nullable=False)


tickets = Table(
    "tickets",
    metadata,
    _id(),
    Column("conversation_id", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("transcript", Text, nullable=False),  # JSON, as are entities, schemes and details
    Column("contact_name", Text, nullable=False),
    Column("contact_phone", Text, nullable=False),
    Column("preferred_time", Text, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("urgent_reason", Text),
    Column("entities", Text, nullable=False),
    Column("schemes", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("assignee", Text),
    Column("rating", Integer),
    Column("created_at", Text, nullable=False),
    Column("claimed_at", Text),
    Column("first_response_at", Text),
    Column("resolved_at", Text),
)
Index("tickets_queue", tickets.c.status, tickets.c.priority, tickets.c.created_at)
Index("tickets_conversation", tickets.c.conversation_id, tickets.c.status)

ticket_events = Table(
    "ticket_events",
    metadata,
    _id(),
    _ticket_id(),
    Column("kind", Text, nullable=False),
    Column("actor", Text),
    Column("detail", Text),
    Column("at", Text, nullable=False),
)
Index("ticket_events_ticket", ticket_events.c.ticket_id, ticket_events.c.kind)

replies = Table(
    "replies",
    metadata,
    _id(),
    _ticket_id(),
    Column("conversation_id", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("at", Text, nullable=False),
    Column("delivered_at", Text),
    Column("buttons", Text),
)

notes = Table(
    "notes",
    metadata,
    _id(),
    _ticket_id(),
    Column("author", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("at", Text, nullable=False),
)

canned_replies = Table(
    "canned_replies",
    metadata,
    _id(),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
)

contact_drafts = Table(
    "contact_drafts",
    metadata,
    _id(),
    Column("conversation_id", Text, nullable=False),
    Column("slot", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("at", Text, nullable=False),
    UniqueConstraint("conversation_id", "slot"),
)

DEFAULT_CANNED = (
    ("問候", "您好，我是馬上辦服務中心的客服人員，接下來由我為您服務。"),
    ("請稍候", "感謝您的耐心，我正在為您查詢，請稍候。"),
    ("請來電", "這個問題需要進一步了解您的狀況，方便的話請撥 0800-280-280，我們會盡快協助。"),
    ("結束", "感謝您的詢問，祝您生意興隆！如有其他問題，歡迎再跟我們聯絡。"),
)


def open_ticket_store(settings: Settings) -> TicketStore:
    """The store the settings name (``Settings.tickets_db``): PostgreSQL for a postgresql:// URL, else SQLite."""
    url = settings.tickets_db
    if url.startswith("postgresql"):
        return SqlTicketStore(database.postgres_url(url, settings.pg_password))
    return SqlTicketStore(Path(url.removeprefix("sqlite:///")))


class SqlTicketStore:
    """Tickets, replies, notes and canned replies in one database (a SQLite ``Path`` or a SQLAlchemy URL)."""

    def __init__(self, target: Path | str, now: Callable[[], str] = utc_now) -> None:
        self.engine = database.open_engine(target)
        self.now = now
        with database.creating(self.engine, metadata) as db:
            if db.execute(select(canned_replies.c.id).limit(1)).first() is None:
                db.execute(insert(canned_replies), [{"title": t, "text": x} for t, x in DEFAULT_CANNED])

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with database.reading(self.engine) as db:
            yield db

    def _event(self, db: Connection, ticket_id: int, kind: str, actor: str | None, detail: Any = None) -> None:
        db.execute(
            insert(ticket_events).values(
                ticket_id=ticket_id,
                kind=kind,
                actor=actor,
                at=self.now(),
                detail=json.dumps(detail, ensure_ascii=False) if detail is not None else None,
            )
        )

    # --- tickets -------------------------------------------------------------------
    def create(self, new: NewTicket) -> Ticket:
        with self.engine.begin() as db:
            result = db.execute(
                insert(tickets).values(
                    conversation_id=new.conversation_id,
                    channel=new.channel,
                    category=new.category,
                    summary=new.summary,
                    transcript=_json(new.transcript),
                    contact_name=new.contact_name,
                    contact_phone=new.contact_phone,
                    preferred_time=new.preferred_time,
                    priority=new.priority,
                    urgent_reason=new.urgent_reason,
                    entities=_json(new.entities),
                    schemes=json.dumps(new.schemes),
                    kind=new.kind,
                    details=_json(new.details),
                    status=TicketStatus.OPEN.value,
                    created_at=self.now(),
                )
            )
            ticket_id = int(result.inserted_primary_key[0])
            self._event(db, ticket_id, "created", None, {"priority": new.priority, "kind": new.kind})
        return self.get(ticket_id)

    def get(self, ticket_id: int) -> Ticket:
        with self._read() as db:
            row = db.execute(select(tickets).where(tickets.c.id == ticket_id)).first()
        if row is None:
            raise UnknownTicket(ticket_id)
        return _ticket(row)

    def open_for(self, conversation_id: str) -> Ticket | None:
        """The conversation's ticket that is neither resolved nor withdrawn yet, if any."""
        return self._latest(
            tickets.c.conversation_id == conversation_id, tickets.c.status.not_in([s.value for s in FINISHED])
        )

    def latest_for(self, conversation_id: str) -> Ticket | None:
        return self._latest(tickets.c.conversation_id == conversation_id)

    def _latest(self, *where: Any) -> Ticket | None:
        with self._read() as db:
            row = db.execute(select(tickets).where(*where).order_by(tickets.c.id.desc()).limit(1)).first()
        return _ticket(row) if row else None

    def queue(
        self,
        status: TicketStatus | tuple[TicketStatus, ...] | None = None,
        category: str | None = None,
        channel: str | None = None,
    ) -> list[Ticket]:
        """Tickets by priority, then longest waiting first (``status``: one, several, or any)."""
        query = select(tickets)
        statuses = (status,) if isinstance(status, TicketStatus) else tuple(status or ())
        if statuses:
            query = query.where(tickets.c.status.in_([s.value for s in statuses]))
        if category:
            query = query.where(tickets.c.category == category)
        if channel:
            query = query.where(tickets.c.channel == channel)
        finished_last = tickets.c.status.in_([s.value for s in FINISHED])
        with self._read() as db:
            rows = db.execute(query.order_by(finished_last, tickets.c.priority, tickets.c.created_at, tickets.c.id))
            return [_ticket(r) for r in rows]

    def claim(self, ticket_id: int, staff: str) -> bool:
        """Take an open ticket; ``False`` when someone else got it first."""
        with self.engine.begin() as db:
            won = (
                db.execute(
                    update(tickets)
                    .where(tickets.c.id == ticket_id, tickets.c.status == TicketStatus.OPEN.value)
                    .values(status=TicketStatus.CLAIMED.value, assignee=staff, claimed_at=self.now())
                ).rowcount
                == 1
            )
            if won:
                self._event(db, ticket_id, "claimed", staff)
        if not won:
            self.get(ticket_id)  # raises UnknownTicket for a wrong id
        return won

    def transfer(self, ticket_id: int, staff: str, to: str) -> None:
        with self.engine.begin() as db:
            changed = db.execute(
                update(tickets)
                .values(assignee=to)
                .where(tickets.c.id == ticket_id, tickets.c.status == TicketStatus.CLAIMED.value)
            ).rowcount
            if changed != 1:
                raise TicketConflict("only a ticket being handled can be transferred")
            self._event(db, ticket_id, "transferred", staff, {"to": to})

    def resolve(self, ticket_id: int, staff: str, outcome: str | None = None) -> Ticket:
        """Close the ticket; ``outcome`` (a key of ``OUTCOMES``) is kept on the 'resolved' event."""
        if outcome is not None and outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        with self.engine.begin() as db:
            changed = db.execute(
                update(tickets)
                .values(status=TicketStatus.RESOLVED.value, resolved_at=self.now())
                .where(tickets.c.id == ticket_id, _unfinished())
            ).rowcount
            if changed != 1:
                self.get(ticket_id)
                raise TicketConflict("the ticket is resolved or withdrawn already")
            self._event(db, ticket_id, "resolved", staff, {"outcome": outcome} if outcome else None)
        return self.get(ticket_id)

    def change_mark(self, ticket_id: int | None = None) -> tuple[int, int]:
        """(latest ticket event id, open tickets): changes whenever a ticket is opened, claimed, answered...

        The live console polls this (several web processes share the store, so no
        in-process notification would reach them all).
        """
        last = select(func.max(ticket_events.c.id))
        if ticket_id is not None:
            last = last.where(ticket_events.c.ticket_id == ticket_id)
        waiting = select(func.count()).select_from(tickets).where(tickets.c.status == TicketStatus.OPEN.value)
        with self._read() as db:
            return int(db.execute(last).scalar() or 0), int(db.execute(waiting).scalar() or 0)

    def caller_wrote(self, ticket_id: int) -> None:
        """The caller sent a message while the ticket waits (the console flags it until staff reply)."""
        with self.engine.begin() as db:
            self._event(db, ticket_id, "caller_message", None)

    def unanswered(self, ticket_ids: list[int]) -> dict[int, int]:
        """Ticket id → the caller's messages since the last staff reply (since the ticket opened if none)."""
        if not ticket_ids:
            return {}
        e, r = ticket_events.alias("e"), ticket_events.alias("r")
        last_reply = (
            select(func.max(r.c.id)).where(r.c.ticket_id == e.c.ticket_id, r.c.kind == "replied").scalar_subquery()
        )
        query = (
            select(e.c.ticket_id, func.count())
            .group_by(e.c.ticket_id)
            .where(e.c.kind == "caller_message", e.c.ticket_id.in_(ticket_ids), e.c.id > func.coalesce(last_reply, 0))
        )
        with self._read() as db:
            return {int(ticket): int(n) for ticket, n in db.execute(query)}

    def withdraw(self, ticket_id: int) -> bool:
        """The caller no longer wants a person: an open or claimed ticket becomes withdrawn.

        ``False`` when it was already resolved or withdrawn (nothing changes then).
        """
        with self.engine.begin() as db:
            done = (
                db.execute(
                    update(tickets)
                    .values(status=TicketStatus.WITHDRAWN.value)
                    .where(tickets.c.id == ticket_id, _unfinished())
                ).rowcount
                == 1
            )
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
        with self.engine.begin() as db:
            changed = db.execute(
                update(tickets).values(rating=rating).where(tickets.c.id == ticket_id, tickets.c.rating.is_(None))
            ).rowcount
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
        with self.engine.begin() as db:
            result = db.execute(
                insert(replies).values(
                    ticket_id=ticket_id, conversation_id=ticket.conversation_id, author=staff, text=text, at=at
                )
            )
            db.execute(
                update(tickets)
                .values(first_response_at=func.coalesce(tickets.c.first_response_at, at))
                .where(tickets.c.id == ticket_id)
            )
            self._event(db, ticket_id, "replied", staff)
        return Entry(int(result.inserted_primary_key[0]), ticket_id, staff, text, at)

    def replies(self, ticket_id: int) -> list[Entry]:
        with self._read() as db:
            return [
                _entry(r)
                for r in db.execute(select(replies).where(replies.c.ticket_id == ticket_id).order_by(replies.c.id))
            ]

    def take_undelivered(self, conversation_id: str) -> list[Entry]:
        """Staff replies not yet picked up by the user's client (REST), marked delivered now."""
        waiting = (replies.c.conversation_id == conversation_id, replies.c.delivered_at.is_(None))
        with self.engine.begin() as db:
            rows = db.execute(select(replies).where(*waiting).order_by(replies.c.id)).all()
            db.execute(update(replies).values(delivered_at=self.now()).where(*waiting))
        return [_entry(r) for r in rows]

    def queue_bot_message(self, ticket_id: int, text: str, buttons: list[dict[str, str]]) -> None:
        """A bot message for the user's client to pick up (the rating question after resolving)."""
        ticket = self.get(ticket_id)
        with self.engine.begin() as db:
            db.execute(
                insert(replies).values(
                    ticket_id=ticket_id,
                    conversation_id=ticket.conversation_id,
                    author="bot",
                    text=text,
                    at=self.now(),
                    buttons=_json(buttons),
                )
            )

    def add_note(self, ticket_id: int, staff: str, text: str) -> None:
        self.get(ticket_id)
        with self.engine.begin() as db:
            db.execute(insert(notes).values(ticket_id=ticket_id, author=staff, text=text, at=self.now()))
            self._event(db, ticket_id, "noted", staff)

    def notes(self, ticket_id: int) -> list[Entry]:
        with self._read() as db:
            rows = db.execute(select(notes).where(notes.c.ticket_id == ticket_id).order_by(notes.c.id))
            return [Entry(r.id, r.ticket_id, r.author, r.text, r.at) for r in rows]

    def events(self, ticket_id: int) -> list[dict[str, Any]]:
        query = (
            select(ticket_events.c.kind, ticket_events.c.actor, ticket_events.c.detail, ticket_events.c.at)
            .where(ticket_events.c.ticket_id == ticket_id)
            .order_by(ticket_events.c.id)
        )
        with self._read() as db:
            return [
                {"kind": r.kind, "actor": r.actor, "detail": json.loads(r.detail) if r.detail else None, "at": r.at}
                for r in db.execute(query)
            ]

    # --- contact details given before the ticket exists -------------------------------
    def keep_contact(self, conversation_id: str, slot: str, value: str) -> None:
        """Keep a form answer the tracker store will mask (a phone), for the ticket opened later.

        The tracker reloaded for the next message holds ``[手機]``; the callback needs
        the number, and only staff read this database.
        """
        with self.engine.begin() as db:
            statement = database.upsert(db, contact_drafts).values(
                conversation_id=conversation_id, slot=slot, value=value, at=self.now()
            )
            db.execute(
                statement.on_conflict_do_update(
                    index_elements=[contact_drafts.c.conversation_id, contact_drafts.c.slot],
                    set_={"value": statement.excluded.value, "at": statement.excluded.at},
                )
            )

    def take_contacts(self, conversation_id: str) -> dict[str, str]:
        """The conversation's kept form answers by slot, removed from the drafts."""
        with self.engine.begin() as db:
            rows = db.execute(
                select(contact_drafts.c.slot, contact_drafts.c.value).where(
                    contact_drafts.c.conversation_id == conversation_id
                )
            ).all()
            db.execute(delete(contact_drafts).where(contact_drafts.c.conversation_id == conversation_id))
        return {slot: value for slot, value in rows}

    # --- a message the caller took back (LINE unsend) -------------------------------------
    def forget_lines(self, conversation_id: str, forget: Callable[[dict[str, Any]], bool], note: str) -> int:
        """Replace the caller's lines that ``forget`` picks, in every ticket of the conversation, by ``note``.

        The ticket keeps its transcript as it was when it opened (``actions/handoff.py``), so a
        message the caller unsent later is still there: its text goes, with its entities and any
        quote of it in the summary or a report's details; the ticket log says a message was taken
        back. Returns how many lines changed.
        """
        changed = 0
        with self.engine.begin() as db:
            rows = db.execute(
                select(tickets.c.id, tickets.c.transcript, tickets.c.summary, tickets.c.details).where(
                    tickets.c.conversation_id == conversation_id
                )
            ).all()
            for row in rows:
                lines = json.loads(row.transcript)
                hits = [line for line in lines if line.get("who") == "user" and forget(line)]
                if not hits:
                    continue
                summary, details = row.summary, json.loads(row.details)
                for line in hits:
                    said = str(line.get("text") or "")
                    summary = _unquoted(summary, said, note)
                    details = {k: note if v == said else v for k, v in details.items()}
                    line.update(text=note, entities=[])
                    line.pop("tapped", None)
                db.execute(
                    update(tickets)
                    .where(tickets.c.id == row.id)
                    .values(
                        transcript=_json(lines),
                        summary=summary,
                        details=_json(details),
                        entities=_json(transcript_entities(lines)),
                    )
                )
                self._event(db, row.id, "unsent", None, {"lines": len(hits)})
                changed += len(hits)
        return changed

    # --- retention (python -m bot ops purge) ----------------------------------------------
    def redact_resolved_before(self, before: str, mask: Callable[[str], str], dry_run: bool = False) -> int:
        """Remove what identifies the caller from tickets resolved before ``before`` (ISO time).

        Contact name, phone and preferred time, transcript and entities go; a disaster
        report keeps its non-personal fields; summary, replies and notes are masked
        (``mask``: ``bot.privacy.masking.mask_text``, passed in so tickets need not import
        the privacy code). Category, priority, times and rating stay for metrics. Returns
        how many tickets.
        """
        redacted = select(ticket_events.c.ticket_id).where(ticket_events.c.kind == "redacted")
        with self.engine.begin() as db:
            rows = db.execute(
                select(tickets.c.id, tickets.c.summary, tickets.c.details).where(
                    tickets.c.status == TicketStatus.RESOLVED.value,
                    tickets.c.resolved_at < before,
                    tickets.c.id.not_in(redacted),
                )
            ).all()
            if dry_run:
                return len(rows)
            for row in rows:
                details = {k: mask(str(v)) for k, v in json.loads(row.details).items() if k not in PERSONAL_DETAILS}
                db.execute(
                    update(tickets)
                    .where(tickets.c.id == row.id)
                    .values(
                        contact_name="",
                        contact_phone="",
                        preferred_time="",
                        transcript="[]",
                        entities="[]",
                        summary=mask(row.summary),
                        details=_json(details),
                    )
                )
                for table in (replies, notes):
                    for entry in db.execute(select(table.c.id, table.c.text).where(table.c.ticket_id == row.id)).all():
                        db.execute(update(table).where(table.c.id == entry.id).values(text=mask(entry.text)))
                self._event(db, row.id, "redacted", None)
        return len(rows)

    def drop_contact_drafts_before(self, before: str, dry_run: bool = False) -> int:
        """Forget form answers kept for a ticket that was never opened (the caller left the form)."""
        old = contact_drafts.c.at < before
        with self.engine.begin() as db:
            if dry_run:
                return int(db.execute(select(func.count()).select_from(contact_drafts).where(old)).scalar() or 0)
            return int(db.execute(delete(contact_drafts).where(old)).rowcount)

    # --- canned replies ----------------------------------------------------------------
    def canned(self) -> list[dict[str, Any]]:
        with self._read() as db:
            return [dict(r._mapping) for r in db.execute(select(canned_replies).order_by(canned_replies.c.id))]

    def add_canned(self, title: str, text: str) -> None:
        with self.engine.begin() as db:
            db.execute(insert(canned_replies).values(title=title, text=text))

    def delete_canned(self, canned_id: int) -> None:
        with self.engine.begin() as db:
            db.execute(delete(canned_replies).where(canned_replies.c.id == canned_id))


def _unfinished() -> Any:
    """The condition of a ticket still open or claimed (resolving and withdrawing need one)."""
    return tickets.c.status.in_([TicketStatus.OPEN.value, TicketStatus.CLAIMED.value])


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _unquoted(summary: str, said: str, note: str) -> str:
    """``summary`` without ``said`` (whole, or cut to 59 characters and 「…」 as the summary quotes it)."""
    if not said:
        return summary
    for quoted in (said, said[:59] + "…"):
        summary = summary.replace(quoted, note)
    return summary


def _entry(row: Row) -> Entry:
    return Entry(
        row.id, row.ticket_id, row.author, row.text, row.at, tuple(json.loads(row.buttons)) if row.buttons else ()
    )


def _ticket(row: Row) -> Ticket:
    values = dict(row._mapping)
    for name in ("transcript", "entities", "schemes", "details"):
        values[name] = json.loads(values[name])
    return Ticket(**{**values, "status": TicketStatus(values["status"])})
