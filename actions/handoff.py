"""Handoff to a person: consent and contact form, the ticket, the pause, the rating afterwards."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import latest_entities
from actions.guard import guarded
from bot import messages
from bot.categories import Channel
from bot.clock import Clock, clock_from_setting
from bot.handoff import transcript as conv
from bot.handoff.contact import is_refusal, looks_like_question, read_contact
from bot.handoff.office_hours import OfficeHours
from bot.handoff.tickets import NewTicket, TicketStore
from bot.handoff.tickets_sql import open_ticket_store
from bot.handoff.time_window import parse_window, promise
from bot.handoff.urgency import priority_for
from bot.payloads import intent_payload
from bot.phones import find_phone
from bot.privacy.masking import mask_text
from bot.privacy.window import mark_of, whole_session
from bot.settings import Settings
from bot.web.rasa_client import RasaClient, RasaUnavailable

# Paused, and listening: while paused no policy predicts ``action_listen``, and Rasa's own
# rule for the ``restart`` intent (「取消轉接」, actions/form_control.py) needs it as the last action.
PAUSE = (ConversationPaused(), ActionExecuted("action_listen"))
HANDOFF_SLOTS = ("handoff_consent", "handoff_name", "handoff_phone", "handoff_time")
# How long a ticket waits for the stored conversation before it is opened with the loaded turns only.
STORED_EVENTS_TIMEOUT = 10.0

logger = logging.getLogger(__name__)


def open_settings() -> Settings:
    return Settings.from_env(os.environ)


async def session_events(tracker: Tracker, settings: Settings) -> Sequence[Mapping[str, Any]]:
    """The events of the caller's whole session, for a ticket's transcript and summary.

    After some turns the tracker store hands Rasa (and so this action) a window of the
    last turns only (bot/privacy/stores.py). The stored session is then read through Rasa's
    HTTP API, which reads the tracker store every Rasa server shares (SQLite, or the
    scaled profile's PostgreSQL behind nginx, ``BOT_RASA_URL``), and this turn's events,
    not stored until the turn ends, are added (:func:`bot.privacy.window.whole_session`).
    Reading the database here instead would need the tracker store's URL, which only
    Rasa's endpoints file knows in the scaled profile. If Rasa cannot be read, the
    ticket is still opened, from the loaded turns.
    """
    events = list(tracker.events)
    if mark_of(events) is None:
        return events
    client = RasaClient(settings.rasa_url, settings.rasa_token, timeout=STORED_EVENTS_TIMEOUT)
    try:
        stored = await client.events(tracker.sender_id)
    except RasaUnavailable as exc:
        logger.warning(
            "conversation %s: stored events unreadable (%s); ticket from the loaded turns", tracker.sender_id, exc
        )
        return events
    return whole_session(events, stored)


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
    def clock(self) -> Clock:
        """The bot's clock (``BOT_TODAY`` fixes the date for tests), read once."""
        return clock_from_setting(self.settings.today)

    @cached_property
    def tickets(self) -> TicketStore:
        return open_ticket_store(self.settings)


class KeepsContacts(UsesTickets):
    """Form validation that keeps, for the ticket, the answers the tracker store will mask.

    The stores mask personal data (bot/privacy/stores.py), so a phone number given in
    one turn comes back as 「[手機]」 in the next. The real answer goes to the
    staff-only ticket database, keyed by conversation, and the action that opens
    the ticket takes it from there (:func:`answers_for_ticket`).
    """

    def keep(self, tracker: Tracker, slot: str, value: str) -> str:
        if mask_text(value) != value:
            self.tickets.keep_contact(tracker.sender_id, slot, value)
        return value

    def keep_phone(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, value: Any) -> dict[str, Any]:
        """The phone inside the answer (「我的手機是 0933 123 456」) in standard form, kept; else the re-ask."""
        if is_refusal(str(value or "")):
            return end_form_early()
        phone, _ = find_phone(str(value or ""))
        if phone is None:
            dispatcher.utter_message(response="utter_handoff_invalid_phone")
            return {slot: None}
        return {slot: self.keep(tracker, slot, phone)}


# Intents the form does not take as an answer (domain.yml ``not_intent``) and that may still
# carry one when the classifier was wrong: 「王小明 小明商行」 read as a debt question,
# 「下午」 as asking for a person, 「明天下午兩點以後」 as out of scope.
QUESTION_INTENTS = frozenset(
    {
        "loan_ask",
        "us_tariff_ask",
        "policy_ask",
        "debt_negotiation_ask",
        "digital_rd_ask",
        "disaster_ask",
        "out_of_scope",
        "hotline_ask",
        "chitchat_greet",
        "handoff_request",
    }
)
# Never rescued: the caller wants out of the form or to go on with it.
STEERING_INTENTS = frozenset({"form_cancel", "form_resume", "restart", "chitchat_goodbye", "dialogue_deny"})
CANCELLED_SLOT = "form_cancelled"


def end_form_early() -> dict[str, Any]:
    """What a validator returns for a refusal: the form stops now, flagged as cancelled (no value stored)."""
    return {CANCELLED_SLOT: True, "requested_slot": None}


CANCEL_BUTTON = {"title": "取消", "payload": "/form_cancel"}
WITHDRAW_BUTTON = {"title": "取消轉接", "payload": "/restart"}


def clear_forms(domain: DomainDict, tracker: Tracker | None = None) -> list[dict[str, Any]]:
    """Every form's answers (from the domain's forms) and the form flags back to empty.

    With ``tracker``, only the slots that hold a value: a form started in the same turn takes
    every form slot set since the caller's message as an answer to validate, an empty one too
    (「要找真人」 in a report would otherwise answer the handoff form's questions with nothing).
    """
    slots = {s for form in (domain.get("forms") or {}).values() for s in form.get("required_slots") or []}
    names = sorted(slots | {CANCELLED_SLOT, "elig_retries"})
    return [SlotSet(slot, None) for slot in names if tracker is None or tracker.get_slot(slot) is not None]


def cancel(
    dispatcher: CollectingDispatcher, tickets: TicketStore, tracker: Tracker, domain: DomainDict
) -> list[dict[str, Any]]:
    """The caller left a form: acknowledge, forget the answers (slots, kept drafts), say how to reach us; no ticket."""
    tickets.take_contacts(tracker.sender_id)
    dispatcher.utter_message(response="utter_form_cancelled")
    return clear_forms(domain)


def rescued(tracker: Tracker, slot: str, looks_like_answer: Any, unambiguous: bool = False) -> dict[str, Any]:
    """The requested slot's answer that the NLU took for a question, when it plainly is an answer.

    A phone number or a time we can read (``unambiguous``: whatever the intent, unless the
    caller steers the form), a short name without a question word or a scheme (only
    under a question intent): the form keeps going instead of answering a question
    nobody asked.
    """
    if tracker.get_slot("requested_slot") != slot or slot in tracker.slots_to_validate():
        return {}
    message = tracker.latest_message
    intent = (message.get("intent") or {}).get("name")
    text = str(message.get("text") or "").strip()
    if not text or text.startswith("/") or intent in STEERING_INTENTS:
        return {}
    if (
        not unambiguous
        and intent not in QUESTION_INTENTS
        and not (intent == "dialogue_affirm" and not _AFFIRM.match(text))
    ):
        return {}
    if intent == "handoff_request" and _ASKS_FOR_PERSON.search(text):
        return {}  # 「要找真人」 asks for a person (a rule leaves the form for the handoff): no company name
    if any(e.get("entity") == "scheme" for e in message.get("entities") or []):
        return {}  # 「青創貸款呢」 is a question about a scheme, not a name
    return {slot: text} if looks_like_answer(text) else {}


# Words that ask for a person, which no name or company holds.
_ASKS_FOR_PERSON = re.compile(r"真人|專人|客服|人工|轉接|找人|接線生|服務人員")
# A plain yes (「好」「對啊」「可以」) is no name, whatever else the classifier hears as one (「王小明」).
_AFFIRM = re.compile(
    r"^(?:好|對|是|嗯|恩|ok|okay|可以|沒問題|行|要|需要|麻煩)+(?:的|啊|喔|呀|吧|啦|了|你)*[!！。.]*$", re.IGNORECASE
)


def looks_like_name(text: str) -> bool:
    return len(text) <= 30 and not looks_like_question(text)


def has_phone(text: str) -> bool:
    """A phone number, or an attempt at one (「0912-345」, to be told it is incomplete)."""
    return find_phone(text)[0] is not None or len(re.findall(r"\d", unicodedata.normalize("NFKC", text))) >= 4


def answers_for_ticket(store: TicketStore, tracker: Tracker, slots: tuple[str, ...]) -> dict[str, Any]:
    """The form's answers with their real values: kept ones first, else the (maybe masked) slots."""
    kept = store.take_contacts(tracker.sender_id)
    return {slot: kept.get(slot, tracker.get_slot(slot)) for slot in slots}


class ValidateHandoffForm(KeepsContacts, FormValidationAction):
    def name(self) -> str:
        return "validate_handoff_form"

    async def extract_handoff_consent(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # 「我姓陳，電話0933-123-456」 in answer to 「要幫您轉給真人客服嗎？」 is a yes with the details,
        # whatever the classifier made of it (validate_handoff_consent keeps name and phone).
        return rescued(tracker, "handoff_consent", has_phone, unambiguous=True)

    async def extract_handoff_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return rescued(tracker, "handoff_name", lambda t: has_phone(t) or looks_like_name(t))

    async def extract_handoff_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return rescued(tracker, "handoff_phone", has_phone, unambiguous=True)

    async def extract_handoff_time(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return rescued(tracker, "handoff_time", lambda t: parse_window(t, self.now()).understood, unambiguous=True)

    def now(self) -> dt.datetime:
        return self.clock.now()

    def contact_slots(self, tracker: Tracker, text: str, validating: str | None = None) -> dict[str, Any]:
        """Name and phone said in one message (「我姓陳，電話0933-123-456」), kept.

        The slot being validated takes what was said; the other only when it is not known yet.
        """
        contact = read_contact(text)
        found: dict[str, Any] = {}
        if contact.display and (validating == "handoff_name" or not tracker.get_slot("handoff_name")):
            found["handoff_name"] = self.keep(tracker, "handoff_name", contact.display)
        if contact.phone and (validating == "handoff_phone" or not tracker.get_slot("handoff_phone")):
            found["handoff_phone"] = self.keep(tracker, "handoff_phone", contact.phone)
        return found

    async def validate_handoff_consent(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # emptied, not answered
            return {"handoff_consent": None}
        text = str(value or "")
        if declines(text) or is_refusal(text):
            return end_form_early()
        # 「好，我是王小明 0912345678」: consent and contact details at once.
        contact = read_contact(text)
        extra = self.contact_slots(tracker, text) if contact.phone else {}
        return {"handoff_consent": True, **extra}

    async def validate_handoff_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # emptied, not answered
            return {"handoff_name": None}
        text = str(value or "").strip()
        if is_refusal(text):
            return end_form_early()
        readable = 1 <= len(text) <= 120 and not text.startswith("/")
        if readable and looks_like_question(text) and not has_phone(text):
            readable = False  # 「你們是什麼單位」 the classifier did not catch: a question is no name
        found = self.contact_slots(tracker, text, "handoff_name") if readable else {}
        if "handoff_name" not in found:
            if "handoff_phone" not in found:
                dispatcher.utter_message(response="utter_handoff_invalid_name")
            found["handoff_name"] = None
        return found

    async def validate_handoff_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # emptied, not answered
            return {"handoff_phone": None}
        result = self.keep_phone(dispatcher, tracker, "handoff_phone", value)
        if result.get("handoff_phone") and not tracker.get_slot("handoff_name"):
            name = read_contact(str(value or "")).display
            if name:
                result["handoff_name"] = self.keep(tracker, "handoff_name", name)
        return result

    async def validate_handoff_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value is None:  # emptied, not answered
            return {"handoff_time": None}
        text = str(value or "").strip()[:60]
        if is_refusal(text):
            return end_form_early()
        return {"handoff_time": self.keep(tracker, "handoff_time", text) or "不限"}


class ActionCreateTicket(UsesTickets, Action):
    """Open a ticket with what staff need, tell the user what happens next, pause the bot."""

    def __init__(self, settings: Settings | None = None, now: dt.datetime | None = None) -> None:
        super().__init__(settings)
        self._now = now

    def name(self) -> str:
        return "action_create_ticket"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        clear = [SlotSet(slot, None) for slot in (*HANDOFF_SLOTS, CANCELLED_SLOT)]
        store = self.tickets
        if tracker.get_slot(CANCELLED_SLOT) or not tracker.get_slot("handoff_consent"):
            return cancel(dispatcher, store, tracker, domain)
        answers = answers_for_ticket(store, tracker, HANDOFF_SLOTS)
        existing = store.open_for(tracker.sender_id)
        if existing:
            dispatcher.utter_message(
                response="utter_handoff_already_open",
                ticket=existing.id,
                buttons=[WITHDRAW_BUTTON],
                handoff={"state": "waiting", "ticket": existing.id},
            )
            return [*clear, *PAUSE]
        now = self._now or self.clock.now()
        window = parse_window(str(answers["handoff_time"] or ""), now)
        lines = conv.transcript(await session_events(tracker, self.settings), limit=conv.TICKET_LINES)
        reason = conv.urgency(lines)
        complaint = any(line.get("intent") == "handoff_complaint" for line in lines)
        ticket = store.create(
            NewTicket(
                conversation_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel() or Channel.REST.value,
                category=conv.category(lines),
                summary=conv.summary(lines),
                transcript=lines,
                contact_name=str(answers["handoff_name"]),
                contact_phone=str(answers["handoff_phone"]),
                preferred_time=window.label(),
                priority=int(priority_for(reason, complaint)),
                urgent_reason=reason,
                entities=conv.entities(lines),
                schemes=conv.schemes(lines, tracker.get_slot("scheme")),
            )
        )
        hours = OfficeHours.parse(self.settings.office_hours)
        told = promise(window, hours, now)
        state = {"state": "waiting", "ticket": ticket.id}
        if told.now:
            dispatcher.utter_message(
                response="utter_handoff_created_open", ticket=ticket.id, buttons=[WITHDRAW_BUTTON], handoff=state
            )
        else:
            dispatcher.utter_message(
                response="utter_handoff_created_later",
                ticket=ticket.id,
                callback=told.text,
                buttons=[WITHDRAW_BUTTON],
                handoff=state,
            )
        return [*clear, *PAUSE]


class ActionAskRating(Action):
    """After staff resolve a ticket (the console runs this action): ask a one-tap rating."""

    def name(self) -> str:
        return "action_ask_rating"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        buttons = [
            {"title": messages.rating_label(n), "payload": intent_payload("handoff_rate", rating=str(n))}
            for n in range(5, 0, -1)
        ]
        dispatcher.utter_message(response="utter_ask_rating", buttons=buttons, handoff={"state": "closed"})
        return []


class ActionStoreRating(UsesTickets, Action):
    def name(self) -> str:
        return "action_store_rating"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
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
    """The caller's 1-5: a button's ``rating`` entity, else the first such digit typed."""
    candidates = [str(v) for v in latest_entities(tracker, "rating")] + list(tracker.latest_message.get("text") or "")
    for candidate in candidates:
        if candidate.isdigit() and 1 <= int(candidate) <= 5:
            return int(candidate)
    return None
