"""Eligibility check: a five-question form, then the current schemes that fit and why."""

from __future__ import annotations

import json
from contextlib import closing
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.guard import guarded
from actions.handoff import CANCELLED_SLOT, cancel, end_form_early, open_settings, rescued
from actions.knowledge import KnowledgeAction
from bot import messages
from bot.categories import TOPIC_INTENT, Category
from bot.eligibility import FORM_SLOTS, READERS, UNKNOWN, profile, read_employees
from bot.handoff.contact import is_refusal
from bot.handoff.tickets_sql import open_ticket_store
from bot.kb.answers import button_title

MAX_RESULTS = 5
RETRIES_SLOT = "elig_retries"


class ValidateEligibilityForm(FormValidationAction):
    """Reads each answer; an unreadable one is asked once more, then skipped as unknown.

    A number of people in any answer also corrects the employee count
    (「不對，我們是20人」), so callers need not start over.
    """

    def name(self) -> str:
        return "validate_eligibility_form"

    async def extract_elig_employees(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        known = tracker.get_slot("employees")
        if tracker.get_slot("elig_employees") is None and isinstance(known, (int, float)):
            return {"elig_employees": str(int(known))}  # told us already: do not ask again
        return rescued(tracker, "elig_employees", lambda text: read_employees(text) not in (None, UNKNOWN))

    async def get_validation_events(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                    domain: DomainDict) -> list[dict[str, Any]]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        requested = tracker.get_slot("requested_slot")
        text = tracker.latest_message.get("text") or ""
        if requested and requested != "elig_employees" and tracker.get_slot("elig_employees") is not None:
            corrected = read_employees(text) if "人" in text or "員工" in text else None
            if corrected and corrected != UNKNOWN:
                events.append(SlotSet("elig_employees", corrected))
        return events


def _validator(slot: str):  # type: ignore[no-untyped-def]
    reader = READERS[slot]

    async def validate_slot(self: ValidateEligibilityForm, value: Any, dispatcher: CollectingDispatcher,
                            tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != slot and value is not None and tracker.get_slot(slot) is not None:
            return {slot: value}  # already answered (or prefilled) earlier
        if is_refusal(str(value or "")):
            return end_form_early()  # 「算了」「先不要」: leave the form, store nothing
        read = reader(str(value or ""))
        if read is not None:
            return {slot: read, RETRIES_SLOT: 0.0}
        retries = float(tracker.get_slot(RETRIES_SLOT) or 0)
        if retries >= 1:
            dispatcher.utter_message(response="utter_eligibility_skip")
            return {slot: UNKNOWN, RETRIES_SLOT: 0.0}
        dispatcher.utter_message(response=f"utter_eligibility_invalid_{slot.removeprefix('elig_')}")
        return {slot: None, RETRIES_SLOT: retries + 1}

    validate_slot.__name__ = f"validate_{slot}"
    return validate_slot


def _extractor(slot: str):  # type: ignore[no-untyped-def]
    """An answer the NLU took for a question (「十二個」 as a loan question) that the reader can read."""
    reader = READERS[slot]

    async def extract_slot(self: ValidateEligibilityForm, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: DomainDict) -> dict[str, Any]:
        return rescued(tracker, slot, lambda text: reader(text) not in (None, UNKNOWN, "其他"))

    extract_slot.__name__ = f"extract_{slot}"
    return extract_slot


for _slot in FORM_SLOTS:
    setattr(ValidateEligibilityForm, f"validate_{_slot}", _validator(_slot))
    if _slot != "elig_employees":  # that one has its own extractor (the count told earlier)
        setattr(ValidateEligibilityForm, f"extract_{_slot}", _extractor(_slot))


class ActionEligibilityResult(KnowledgeAction):
    """Lists the current schemes that fit, each with its reasons, as buttons; clears the form."""

    def name(self) -> str:
        return "action_eligibility_result"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        if tracker.get_slot(CANCELLED_SLOT):
            with closing(open_ticket_store(open_settings())) as tickets:
                return cancel(dispatcher, tickets, tracker, domain)
        answers = {slot: tracker.get_slot(slot) for slot in FORM_SLOTS}
        matches = self.kb.matching(profile(answers))[:MAX_RESULTS]
        clear = [SlotSet(slot, None) for slot in (*FORM_SLOTS, RETRIES_SLOT, CANCELLED_SLOT)]
        if not matches:
            dispatcher.utter_message(text=messages.ELIGIBILITY_NONE)
            return clear
        lines = [messages.ELIGIBILITY_INTRO]
        for number, match in enumerate(matches, start=1):
            reasons = "、".join(match.reasons) or messages.ELIGIBILITY_CHECK_TERMS
            lines.append(f"{number}. {match.scheme.name}（{reasons}）")
        buttons = [{"title": button_title(m.scheme),
                    "payload": f"/{TOPIC_INTENT[Category(m.scheme.category)]}"
                               + json.dumps({"scheme": m.scheme.id}, separators=(",", ":"))} for m in matches]
        dispatcher.utter_message(text=_fit("\n".join(lines)), buttons=buttons)
        return clear


def _fit(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
