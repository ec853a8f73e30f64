"""Handoff to a person: consent and contact form, the ticket, the pause, the rating afterwards."""

from __future__ import annotations

import datetime as dt
import os
import re
from functools import cached_property
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.guard import guarded
from bot import messages
from bot.handoff import transcript as conv
from bot.handoff.office_hours import OfficeHours
from bot.handoff.phones import normalise_phone
from bot.handoff.tickets import NewTicket, SqliteTicketStore, open_ticket_store
from bot.handoff.urgency import priority_for
from bot.ops.masking import mask_text
from bot.settings import Settings

HANDOFF_SLOTS = ("handoff_consent", "handoff_name", "handoff_phone", "handoff_time")
SKIPPED = "-"


def open_settings() -> Settings:
    return Settings.from_env(os.environ)


class UsesTickets:
    """An action that reads or writes tickets: its settings and store are opened on first use, then kept.

    rasa_sdk keeps one instance per action for the server's life, so the store (schema
    script, canned replies; on PostgreSQL a schema lock) is set up once, not per call;
    the store itself opens a connection per operation and holds no conversation data.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self._settings = settings

    @cached_property
    def settings(self) -> Settings:
        return self._settings or open_settings()

    @cached_property
    def tickets(self) -> SqliteTicketStore:
        return open_ticket_store(self.settings)


class KeepsContacts(UsesTickets):
    """Form validation that keeps, for the ticket, the answers the tracker store will mask.

    The stores mask personal data (bot/ops/stores.py), so a phone number given in
    one turn comes back as 「[手機]」 in the next. The real answer goes to the
    staff-only ticket database, keyed by conversation, and the action that opens
    the ticket takes it from there (:func:`answers_for_ticket`).
    """

    def keep(self, tracker: Tracker, slot: str, value: str) -> str:
        if mask_text(value) != value:
            self.tickets.keep_contact(tracker.sender_id, slot, value)
        return value

    def keep_phone(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, value: Any) -> dict[str, Any]:
        """A phone answer in standard form, kept; or the re-ask when it is not a number."""
        phone = normalise_phone(str(value or ""))
        if phone is None:
            dispatcher.utter_message(response="utter_handoff_invalid_phone")
            return {slot: None}
        return {slot: self.keep(tracker, slot, phone)}


def answers_for_ticket(store: SqliteTicketStore, tracker: Tracker, slots: tuple[str, ...]) -> dict[str, Any]:
    """The form's answers with their real values: kept ones first, else the (maybe masked) slots."""
    kept = store.take_contacts(tracker.sender_id)
    return {slot: kept.get(slot, tracker.get_slot(slot)) for slot in slots}


class ValidateHandoffForm(KeepsContacts, FormValidationAction):
    def name(self) -> str:
        return "validate_handoff_form"

    async def validate_handoff_consent(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                       domain: DomainDict) -> dict[str, Any]:
        if declines(str(value or "")):
            # No consent: nothing else to ask; the submit action says how to reach us.
            return {"handoff_consent": False, "handoff_name": SKIPPED, "handoff_phone": SKIPPED, "handoff_time": SKIPPED}
        return {"handoff_consent": True}

    async def validate_handoff_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        text = str(value or "").strip()
        if not 1 <= len(text) <= 60 or text.startswith("/"):
            dispatcher.utter_message(response="utter_handoff_invalid_name")
            return {"handoff_name": None}
        return {"handoff_name": self.keep(tracker, "handoff_name", text)}

    async def validate_handoff_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        return self.keep_phone(dispatcher, tracker, "handoff_phone", value)

    async def validate_handoff_time(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> dict[str, Any]:
        text = str(value or "").strip()[:60]
        return {"handoff_time": self.keep(tracker, "handoff_time", text) or "不限"}


class ActionCreateTicket(UsesTickets, Action):
    """Open a ticket with what staff need, tell the user what happens next, pause the bot."""

    def __init__(self, settings: Settings | None = None, now: dt.datetime | None = None) -> None:
        super().__init__(settings)
        self._now = now

    def name(self) -> str:
        return "action_create_ticket"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        clear = [SlotSet(slot, None) for slot in HANDOFF_SLOTS]
        store = self.tickets
        answers = answers_for_ticket(store, tracker, HANDOFF_SLOTS)
        if not answers["handoff_consent"]:
            dispatcher.utter_message(response="utter_handoff_declined")
            return clear
        existing = store.open_for(tracker.sender_id)
        if existing:
            dispatcher.utter_message(response="utter_handoff_already_open", ticket=existing.id)
            return [*clear, ConversationPaused()]
        lines = conv.transcript(tracker.events)
        reason = conv.urgency(lines)
        complaint = any(l.get("intent") == "handoff_complaint" for l in lines)
        ticket = store.create(NewTicket(
            conversation_id=tracker.sender_id, channel=tracker.get_latest_input_channel() or "rest",
            category=conv.category(lines), summary=conv.summary(lines), transcript=lines,
            contact_name=str(answers["handoff_name"]), contact_phone=str(answers["handoff_phone"]),
            preferred_time=str(answers["handoff_time"]), priority=int(priority_for(reason, complaint)),
            urgent_reason=reason, entities=conv.entities(lines),
            schemes=conv.schemes(lines, tracker.get_slot("scheme")),
        ))
        hours = OfficeHours.parse(self.settings.office_hours)
        now = self._now or dt.datetime.now(dt.timezone.utc)
        if hours.is_open(now):
            dispatcher.utter_message(response="utter_handoff_created_open", ticket=ticket.id)
        else:
            dispatcher.utter_message(response="utter_handoff_created_closed", ticket=ticket.id,
                                     callback=messages.callback_time(hours.next_open(now)))
        return [*clear, ConversationPaused()]


class ActionAskRating(Action):
    """After staff resolve a ticket (the console runs this action): ask a one-tap rating."""

    def name(self) -> str:
        return "action_ask_rating"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        buttons = [{"title": messages.rating_label(n), "payload": f'/handoff_rate{{"rating":"{n}"}}'} for n in range(5, 0, -1)]
        dispatcher.utter_message(response="utter_ask_rating", buttons=buttons)
        return []


class ActionStoreRating(UsesTickets, Action):
    def name(self) -> str:
        return "action_store_rating"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        rating = rating_from(tracker)
        store = self.tickets
        ticket = store.latest_for(tracker.sender_id)
        if rating is None or ticket is None:
            dispatcher.utter_message(response="utter_rating_unclear")
            return []
        store.rate(ticket.id, rating)
        dispatcher.utter_message(response="utter_rating_thanks")
        return []


_DECLINE = re.compile(r"^\s*(不用|不要|不必|不需要|算了|免了|no\b|先不用|沒關係)", re.IGNORECASE)


def declines(text: str) -> bool:
    """「不用了」「算了」: the caller does not want a person after all."""
    return bool(_DECLINE.search(text))


def rating_from(tracker: Tracker) -> int | None:
    values = [e.get("value") for e in tracker.latest_message.get("entities", []) if e.get("entity") == "rating"]
    candidates = [str(v) for v in values] + list(tracker.latest_message.get("text") or "")
    for candidate in candidates:
        if candidate.isdigit() and 1 <= int(candidate) <= 5:
            return int(candidate)
    return None
