"""Disaster damage report (LINE 災情通報 in seed 000): a short form, an urgent ticket, relief schemes."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.guard import guarded
from actions.handoff import (
    CANCELLED_SLOT,
    KeepsContacts,
    answers_for_ticket,
    cancel,
    end_form_early,
    has_phone,
    looks_like_name,
    open_settings,
    rescued,
    session_events,
)
from actions.knowledge import KnowledgeAction, offer_category
from bot.categories import Category, Channel
from bot.eligibility import dont_know
from bot.handoff import transcript as conv
from bot.handoff.contact import is_refusal, looks_like_question, read_contact
from bot.handoff.tickets import NewTicket, TicketStore
from bot.handoff.tickets_sql import open_ticket_store
from bot.handoff.urgency import Priority
from bot.nlu.gazetteer import COUNTIES, DISASTER_TYPES
from bot.nlu.normaliser import normalise
from bot.nlu.numerals import find_numbers

# 「我是陳小姐」「王先生」: a person, not the company or shop the report is about.
_PERSON = re.compile(r"^(?:我(?:是|姓|叫)|敝姓)|(?:先生|小姐|太太|女士|老闆|老闆娘)$")

REPORT_SLOTS = (
    "report_company",
    "report_location",
    "report_disaster_type",
    "report_damage",
    "report_loss",
    "report_phone",
)


def _canonical(text: str, table: dict[str, tuple[str, ...]]) -> str | None:
    plain = normalise(text)
    for value, surfaces in table.items():
        if any(s in plain for s in surfaces):
            return value
    return None


def read_loss(text: str) -> str | None:
    """「50萬」 → "500000", 「大概兩三百萬吧」 → "3000000", 「不知道」 → "不確定"; no amount → None."""
    plain = normalise(text)
    if dont_know(plain):
        return "不確定"
    amounts = [m.value for m in find_numbers(plain) if m.entity == "amount"]
    return str(int(amounts[0])) if amounts else None


def looks_like_damage(text: str) -> bool:
    return len(text) <= 200 and not looks_like_question(text)


def looks_like_loss(text: str) -> bool:
    """A short answer, not a question, that the loss step can take."""
    return len(text) <= 30 and not looks_like_question(text) and read_loss(text) is not None


class ValidateDisasterReportForm(KeepsContacts, FormValidationAction):
    def name(self) -> str:
        return "validate_disaster_report_form"

    async def extract_report_disaster_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        known = tracker.get_slot("disaster_type")
        if tracker.get_slot("report_disaster_type") is None and known:
            return {"report_disaster_type": known}  # 「颱風把工廠吹壞」 said it already
        return {}

    async def extract_report_company(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return rescued(tracker, "report_company", looks_like_name)

    async def extract_report_location(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return rescued(tracker, "report_location", lambda t: _canonical(t, COUNTIES) is not None, unambiguous=True)

    async def extract_report_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return rescued(tracker, "report_phone", has_phone, unambiguous=True)

    async def extract_report_damage(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # 「冰箱跟煎台都泡水 暫停營業」 read as out of scope is still the damage, unless it asks something.
        return rescued(tracker, "report_damage", looks_like_damage)

    async def extract_report_loss(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # 「50萬」 alone is an answer whatever the classifier makes of it (out_of_scope, a follow-up).
        return rescued(tracker, "report_loss", looks_like_loss, unambiguous=True)

    async def validate_report_company(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if is_refusal(text):
            return end_form_early()
        contact = read_contact(text)
        found: dict[str, Any] = {}
        if contact.phone and not tracker.get_slot("report_phone"):
            found["report_phone"] = self.keep(tracker, "report_phone", contact.phone)
        company = contact.company or (contact.name if contact.name and not _PERSON.search(text) else "")
        if looks_like_question(text) and not contact.company:
            company = ""  # a question the classifier did not catch is no company name
        if not 1 <= len(company) <= 60:
            # A person's name (「我是陳小姐」) or nothing readable: ask for the business again.
            dispatcher.utter_message(response="utter_report_invalid_company")
            return {**found, "report_company": None}
        return {**found, "report_company": self.keep(tracker, "report_company", company)}

    async def validate_report_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()[:60]
        if is_refusal(text):
            return end_form_early()
        if _canonical(text, COUNTIES) is None:
            dispatcher.utter_message(response="utter_report_invalid_location")
            return {"report_location": None}
        return {"report_location": self.keep(tracker, "report_location", text)}

    async def validate_report_disaster_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        if is_refusal(text):
            return end_form_early()
        return {"report_disaster_type": _canonical(text, DISASTER_TYPES) or text.strip()[:20] or "其他"}

    async def validate_report_damage(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()[:200]
        if is_refusal(text):
            return end_form_early()
        return {"report_damage": self.keep(tracker, "report_damage", text) or "未說明"}

    async def validate_report_loss(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        loss = read_loss(text)
        if loss == "不確定":
            return {"report_loss": loss}
        if is_refusal(text):
            return end_form_early()
        if loss is None:
            dispatcher.utter_message(response="utter_report_invalid_loss")
        return {"report_loss": loss}

    async def validate_report_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.keep_phone(dispatcher, tracker, "report_phone", value)


class ActionCreateDisasterReport(KnowledgeAction):
    """Urgent ticket with the report, then the current relief schemes."""

    def name(self) -> str:
        return "action_create_disaster_report"

    @cached_property
    def tickets(self) -> TicketStore:
        return open_ticket_store(open_settings())

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        store = self.tickets
        if tracker.get_slot(CANCELLED_SLOT):
            return cancel(dispatcher, store, tracker, domain)
        details = {
            slot.removeprefix("report_"): value
            for slot, value in answers_for_ticket(store, tracker, REPORT_SLOTS).items()
        }
        lines = conv.transcript(await session_events(tracker, open_settings()), limit=conv.TICKET_LINES)
        ticket = store.create(
            NewTicket(
                conversation_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel() or Channel.REST.value,
                category=Category.DISASTER.value,
                kind="disaster_report",
                summary=f"災情通報：{details['company']}，{details['location']}，{details['disaster_type']}，{details['damage']}"[
                    :200
                ],
                transcript=lines,
                contact_name=str(details["company"]),
                contact_phone=str(details["phone"]),
                preferred_time="儘快",
                priority=int(Priority.URGENT),
                urgent_reason="disaster_damage",
                entities=conv.entities(lines),
                details=details,
            )
        )
        dispatcher.utter_message(response="utter_report_received", ticket=ticket.id)
        offer_category(self.kb, dispatcher, tracker, Category.DISASTER, "disaster_ask", None)
        return [SlotSet(slot, None) for slot in REPORT_SLOTS]
