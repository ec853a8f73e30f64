"""Answers from the knowledge base: a scheme's attribute, its card, or a category's list."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from functools import cached_property
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.guard import guarded
from bot import messages
from bot.categories import CATEGORY_INFO, HOTLINE_CATEGORIES, INTENT_CATEGORY, Category
from bot.clock import clock_from_setting
from bot.handoff.urgency import urgent_reason
from bot.kb.answers import ATTRIBUTE_LABELS, Facts, attribute_answer, button_title, scheme_card
from bot.kb.query import DEFAULT_CONTACT, KnowledgeBase, Profile, Status
from bot.settings import Settings

MAX_BUTTONS = 5


def open_kb() -> KnowledgeBase:
    """The action server's knowledge base, from its environment (read on first use, not at import)."""
    settings = Settings.from_env(os.environ)
    return KnowledgeBase(settings.kb_path, clock_from_setting(settings.today))


def latest_entity(tracker: Tracker, name: str) -> Any:
    values = [e.get("value") for e in tracker.latest_message.get("entities", []) if e.get("entity") == name]
    return values[0] if values else None


def gather(kb: KnowledgeBase, scheme_id: str) -> Facts:
    scheme = kb.scheme(scheme_id)
    status = kb.status(scheme)
    alternative = kb.alternative(scheme) if status is Status.ENDED else None
    return Facts(scheme, status, tuple(kb.contacts(scheme)), alternative, kb.clock.today())


def profile_from_slots(tracker: Tracker) -> Profile:
    employees = tracker.get_slot("employees")
    return Profile(employees=int(employees) if isinstance(employees, (int, float)) else None,
                   industry=tracker.get_slot("industry"),
                   disaster_hit=True if tracker.get_slot("disaster_type") else None)


class KnowledgeAction(Action, ABC):
    """Base of actions that read the knowledge base (abstract: rasa_sdk registers only its subclasses).

    The knowledge base is a defaulted argument for tests and opened on first use
    otherwise; it holds no conversation data, so one instance serves every sender.
    """

    def __init__(self, kb: KnowledgeBase | None = None) -> None:
        self._given_kb = kb

    @cached_property
    def kb(self) -> KnowledgeBase:
        return self._given_kb or open_kb()

    @abstractmethod
    def name(self) -> str: ...


class ActionAnswerAttribute(KnowledgeAction):
    """Topic questions and follow-ups.

    A scheme named now wins; otherwise a follow-up (or an attribute question in the
    same category) refers to the scheme slot; otherwise the category's current
    schemes are offered as buttons, those fitting what the caller told us first.
    """

    def name(self) -> str:
        return "action_answer_attribute"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name", "")
        category = INTENT_CATEGORY.get(intent)
        attribute = latest_entity(tracker, "attribute")
        scheme_id = self._scheme_in_question(tracker, category, attribute)
        urgent = urgent_reason(tracker.latest_message.get("text") or "", intent)
        if scheme_id:
            answer_scheme(dispatcher, tracker, gather(self.kb, scheme_id), attribute)
            events = [SlotSet("scheme", scheme_id)]
        elif category in HOTLINE_CATEGORIES:
            offer_category(self.kb, dispatcher, tracker, category, intent, attribute)
            events = [SlotSet("scheme", None)]
        else:
            dispatcher.utter_message(response="utter_followup_which_scheme")
            return []
        if urgent:
            dispatcher.utter_message(response="utter_offer_person_urgent")
        return events

    def _scheme_in_question(self, tracker: Tracker, category: Category | None, attribute: str | None) -> str | None:
        named = latest_entity(tracker, "scheme")
        if named:
            return str(named)
        # The entity ruler works on jieba tokens; a name split across tokens is still
        # found by plain matching on the text.
        mentioned = self.kb.mentioned(tracker.latest_message.get("text") or "")
        if mentioned:
            return mentioned[0]
        remembered = tracker.get_slot("scheme")
        if not remembered:
            return None
        if category is Category.DIALOGUE:
            return str(remembered)
        if attribute and category is not None and self.kb.scheme(str(remembered)).category == category.value:
            return str(remembered)
        return None


def answer_scheme(dispatcher: CollectingDispatcher, tracker: Tracker, facts: Facts, attribute: str | None) -> None:
    """The answer bubbles; on the web chat the last one (source, contact) also carries a scheme card."""
    *bubbles, last = attribute_answer(facts, attribute)
    for bubble in bubbles:
        dispatcher.utter_message(text=bubble)
    card = scheme_card(facts) if tracker.get_latest_input_channel() == "socketio" else None
    dispatcher.utter_message(text=last, json_message=card)


def offer_category(kb: KnowledgeBase, dispatcher: CollectingDispatcher, tracker: Tracker, category: Category,
                   intent: str, attribute: str | None) -> None:
    """The category's current schemes as buttons (at most five), those fitting the caller first."""
    label = CATEGORY_INFO[category].label
    fitting = {m.scheme.id for m in kb.matching(profile_from_slots(tracker))}
    schemes = sorted(kb.by_category(category.value), key=lambda s: s.id not in fitting)[:MAX_BUTTONS]
    if not schemes:
        dispatcher.utter_message(text=messages.category_empty(label, kb.contact(DEFAULT_CONTACT).phone))
        return
    entities = {"attribute": attribute} if attribute else {}
    buttons = [{"title": button_title(s), "payload": "/" + intent + _json({"scheme": s.id, **entities})} for s in schemes]
    text = (messages.category_list_for_attribute(label, ATTRIBUTE_LABELS[attribute]) if attribute in ATTRIBUTE_LABELS
            else messages.category_list(label))
    dispatcher.utter_message(text=text, buttons=buttons)


def _json(value: dict[str, str]) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
