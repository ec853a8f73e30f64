"""Handoff tickets: their types, and the ``TicketStore`` Protocol every caller types against.

The one implementation is ``bot/handoff/tickets_sql.py`` (SQLAlchemy Core, on SQLite
or PostgreSQL); tests and callers need only this module's names. Every state change
is a row in ``ticket_events`` with its time, so waiting and handling times can be
reported. Writes run under ``BEGIN IMMEDIATE`` on SQLite; a claim is one conditional
UPDATE, so of two staff claiming at once exactly one wins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol


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
OUTCOMES = {
    "replied": "已回覆",
    "called_back": "已回電",
    "no_answer": "未接通",
    "referred": "轉其他單位",
    "no_action": "無需處理",
}


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


# Disaster report fields that identify the reporter; dropped when a resolved ticket is redacted.
PERSONAL_DETAILS = frozenset({"phone", "company"})


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class TicketStore(Protocol):
    """Tickets, their replies, notes and events, canned replies and contact drafts, as callers use them.

    One implementation (``SqlTicketStore``) serves both profiles; tests can pass any
    object with these methods.
    """

    # --- tickets
    def create(self, new: NewTicket) -> Ticket: ...

    def get(self, ticket_id: int) -> Ticket:
        """The ticket; raises UnknownTicket for a wrong id."""

    def open_for(self, conversation_id: str) -> Ticket | None:
        """The conversation's ticket that is neither resolved nor withdrawn yet, if any."""

    def latest_for(self, conversation_id: str) -> Ticket | None: ...

    def queue(
        self,
        status: TicketStatus | tuple[TicketStatus, ...] | None = None,
        category: str | None = None,
        channel: str | None = None,
    ) -> list[Ticket]:
        """Tickets by priority, then longest waiting first (``status``: one, several, or any)."""

    def claim(self, ticket_id: int, staff: str) -> bool:
        """Take an open ticket; ``False`` when someone else got it first."""

    def transfer(self, ticket_id: int, staff: str, to: str) -> None: ...

    def resolve(self, ticket_id: int, staff: str, outcome: str | None = None) -> Ticket: ...

    def change_mark(self, ticket_id: int | None = None) -> tuple[int, int]:
        """(latest ticket event id, open tickets): changes whenever a ticket is opened, claimed, answered..."""

    def caller_wrote(self, ticket_id: int) -> None: ...

    def unanswered(self, ticket_ids: list[int]) -> dict[int, int]:
        """Ticket id → the caller's messages since the last staff reply."""

    def withdraw(self, ticket_id: int) -> bool: ...

    def rate(self, ticket_id: int, rating: int) -> bool: ...

    # --- replies, notes and the ticket log
    def reply(self, ticket_id: int, staff: str, text: str) -> Entry: ...

    def replies(self, ticket_id: int) -> list[Entry]: ...

    def take_undelivered(self, conversation_id: str) -> list[Entry]: ...

    def queue_bot_message(self, ticket_id: int, text: str, buttons: list[dict[str, str]]) -> None: ...

    def add_note(self, ticket_id: int, staff: str, text: str) -> None: ...

    def notes(self, ticket_id: int) -> list[Entry]: ...

    def events(self, ticket_id: int) -> list[dict[str, Any]]: ...

    # --- contact details given before the ticket exists, and a message the caller took back
    def keep_contact(self, conversation_id: str, slot: str, value: str) -> None: ...

    def take_contacts(self, conversation_id: str) -> dict[str, str]: ...

    def forget_lines(self, conversation_id: str, forget: Callable[[dict[str, Any]], bool], note: str) -> int: ...

    # --- retention (python -m bot ops purge)
    def redact_resolved_before(self, before: str, mask: Callable[[str], str], dry_run: bool = False) -> int: ...

    def drop_contact_drafts_before(self, before: str, dry_run: bool = False) -> int: ...

    # --- canned replies
    def canned(self) -> list[dict[str, Any]]: ...

    def add_canned(self, title: str, text: str) -> None: ...

    def delete_canned(self, canned_id: int) -> None: ...

    def close(self) -> None:
        """Close the store's connections (it opens new ones if used again)."""
