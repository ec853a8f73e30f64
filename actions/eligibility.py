"""Eligibility check: a five-question form, then the current schemes that fit and why."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import RetryingFormValidation
from actions.guard import guarded
from actions.handoff import CANCELLED_SLOT, cancel, end_form_early, open_settings, rescued
from actions.knowledge import KnowledgeAction
from bot import messages
from bot.categories import TOPIC_INTENT, Category
from bot.eligibility import (
    FORM_SLOTS,
    UNKNOWN,
    profile,
    read_disaster,
    read_employees,
    read_industry,
    read_org_type,
    read_purpose,
)
from bot.formats import clip
from bot.handoff.contact import is_refusal
from bot.handoff.tickets_sql import open_ticket_store
from bot.kb.answers import button_title
from bot.payloads import intent_payload

MAX_RESULTS = 5
RETRIES_SLOT = "elig_retries"


# The re-ask of each question, by slot (domain.yml ``utter_eligibility_invalid_*``).
INVALID = {
    "elig_employees": "utter_eligibility_invalid_employees",
    "elig_org_type": "utter_eligibility_invalid_org_type",
    "elig_industry": "utter_eligibility_invalid_industry",
    "elig_purpose": "utter_eligibility_invalid_purpose",
    "elig_disaster": "utter_eligibility_invalid_disaster",
}
Reader = Callable[[str], str | None]


class ValidateEligibilityForm(RetryingFormValidation):
    """Reads each answer; an unreadable one is asked once more, then skipped as unknown.

    A number of people in any answer also corrects the employee count
    (「不對，我們是20人」), so callers need not start over.
    """

    retries_slot = RETRIES_SLOT
    skip_response = "utter_eligibility_skip"
    skipped_value = UNKNOWN

    def name(self) -> str:
        return "validate_eligibility_form"

    async def extract_elig_employees(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        known = tracker.get_slot("employees")
        if tracker.get_slot("elig_employees") is None and isinstance(known, (int, float)):
            return {"elig_employees": str(int(known))}  # told us already: do not ask again
        return rescued(tracker, "elig_employees", lambda text: read_employees(text) not in (None, UNKNOWN))

    async def extract_elig_org_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _rescued(tracker, "elig_org_type", read_org_type)

    async def extract_elig_industry(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _rescued(tracker, "elig_industry", read_industry)

    async def extract_elig_purpose(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _rescued(tracker, "elig_purpose", read_purpose)

    async def extract_elig_disaster(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _rescued(tracker, "elig_disaster", read_disaster)

    async def validate_elig_employees(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.read_answer(dispatcher, tracker, "elig_employees", value, read_employees)

    async def validate_elig_org_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.read_answer(dispatcher, tracker, "elig_org_type", value, read_org_type)

    async def validate_elig_industry(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.read_answer(dispatcher, tracker, "elig_industry", value, read_industry)

    async def validate_elig_purpose(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.read_answer(dispatcher, tracker, "elig_purpose", value, read_purpose)

    async def validate_elig_disaster(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.read_answer(dispatcher, tracker, "elig_disaster", value, read_disaster)

    def read_answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, value: Any, reader: Reader
    ) -> dict[str, Any]:
        """The answer to ``slot`` as ``reader`` reads it; a refusal leaves the form, an unreadable one is re-asked."""
        if tracker.get_slot("requested_slot") != slot and value is not None and tracker.get_slot(slot) is not None:
            return {slot: value}  # already answered (or prefilled) earlier
        if is_refusal(str(value or "")):
            return end_form_early()  # 「算了」「先不要」: leave the form, store nothing
        read = reader(str(value or ""))
        if read is not None:
            return self.accept(slot, read)
        return self.reask(dispatcher, tracker, slot, INVALID[slot])

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        requested = tracker.get_slot("requested_slot")
        text = tracker.latest_message.get("text") or ""
        if requested and requested != "elig_employees" and tracker.get_slot("elig_employees") is not None:
            corrected = read_employees(text) if "人" in text or "員工" in text else None
            if corrected and corrected != UNKNOWN:
                events.append(SlotSet("elig_employees", corrected))
        return events


def _rescued(tracker: Tracker, slot: str, reader: Reader) -> dict[str, Any]:
    """An answer the NLU took for a question (「十二個」 as a loan question) that ``reader`` can read."""
    return rescued(tracker, slot, lambda text: reader(text) not in (None, UNKNOWN, "其他"))


class ActionEligibilityResult(KnowledgeAction):
    """Lists the current schemes that fit, each with its reasons, as buttons; clears the form."""

    def name(self) -> str:
        return "action_eligibility_result"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
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
        buttons = [
            {
                "title": button_title(m.scheme),
                "payload": intent_payload(TOPIC_INTENT[Category(m.scheme.category)], scheme=m.scheme.id),
            }
            for m in matches
        ]
        dispatcher.utter_message(text=clip("\n".join(lines)), buttons=buttons)
        return clear
