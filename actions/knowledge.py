"""Answers from the knowledge base: a scheme's attribute, its card, or a category's list."""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from dataclasses import replace
from functools import cached_property
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import latest_entities, latest_entity
from actions.fallback import clarify_topic, out_of_scope_reply, sure_out_of_scope
from actions.guard import guarded
from bot import messages
from bot.categories import (
    CATEGORY_INFO,
    FALLBACK_INTENT,
    HOTLINE_CATEGORIES,
    INTENT_CATEGORY,
    TOPIC_INTENT,
    Category,
    Channel,
)
from bot.clock import clock_from_setting
from bot.eligibility import Profile
from bot.handoff.urgency import urgent_reason
from bot.kb.answers import (
    ATTRIBUTE_LABELS,
    Facts,
    answer,
    button_title,
    contacts_answer,
    matching_statements,
    scheme_card,
    shared_answer,
)
from bot.kb.query import DEFAULT_CONTACT, KnowledgeBase, Status
from bot.kb.resolve import (
    SHORT_FOLLOW_UP,
    STORY_CHARS,
    Candidate,
    Decision,
    Question,
    Resolution,
    Resolver,
    asks_about_the_past,
    attributes_in,
    fit_reasons,
    is_hotline_question,
)
from bot.nlu.scope import reason as scope_reason
from bot.payloads import intent_payload
from bot.settings import Settings

MAX_BUTTONS = 5


def open_kb() -> KnowledgeBase:
    """The action server's knowledge base, from its environment (read on first use, not at import)."""
    settings = Settings.from_env(os.environ)
    return KnowledgeBase(settings.kb_path, clock_from_setting(settings.today))


def gather(kb: KnowledgeBase, scheme_id: str) -> Facts:
    scheme = kb.scheme(scheme_id)
    status = kb.status(scheme)
    alternative = kb.alternative(scheme) if status is Status.ENDED else None
    return Facts(scheme, status, tuple(kb.contacts(scheme)), alternative, kb.clock.today())


def profile_from_slots(tracker: Tracker) -> Profile:
    employees = tracker.get_slot("employees")
    return Profile(
        employees=int(employees) if isinstance(employees, (int, float)) else None,
        industry=tracker.get_slot("industry"),
        disaster_hit=True if tracker.get_slot("disaster_type") else None,
    )


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

    @cached_property
    def resolver(self) -> Resolver:
        return Resolver(self.kb)

    @abstractmethod
    def name(self) -> str: ...


class ActionAnswerAttribute(KnowledgeAction):
    """Topic questions, follow-ups, and low-confidence or out-of-scope messages that name a hotline matter.

    The resolver (bot/kb/resolve.py) ranks schemes and contacts against the text, the
    attributes asked, the caller's facts and the conversation's scheme; the bot answers
    when one is clearly ahead, otherwise asks which of the best two or three is meant,
    and only with no evidence at all lists the category's schemes. An out-of-scope or
    unclear message with no hotline evidence gets the usual reply for it.
    """

    def name(self) -> str:
        return "action_answer_attribute"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name", "")
        category = INTENT_CATEGORY.get(intent)
        text = tracker.latest_message.get("text") or ""
        resolution = self.resolver.resolve(question_from(self.resolver, tracker, intent, category))
        decision = resolution.decision()
        out = sure_out_of_scope(tracker)
        if (out and not continues_topic(self.resolver, resolution, decision)) or (
            intent in UNSURE_INTENTS and not evidence_enough(self.resolver, resolution, decision)
        ):
            if not out and asks_about_some_scheme(resolution):
                # 「要去哪裡申請」 with no scheme in the conversation: a hotline question whose scheme
                # is missing, not an off-topic one; ask which scheme is meant.
                dispatcher.utter_message(response="utter_followup_which_scheme")
                return []
            return unsure_reply(dispatcher, tracker, intent)
        if decision.answer:
            events = answer_candidates(self.kb, self.resolver, dispatcher, tracker, resolution, decision.answer)
        elif decision.ask and (same := self._same_for_all(resolution, decision)):
            dispatcher.utter_message(text=same)
            events = [SlotSet("scheme", None), SlotSet("offered_schemes", [c.id for c in decision.ask])]
        elif decision.ask:
            ask_which(self.resolver, dispatcher, resolution, decision.ask, intent)
            events = [
                SlotSet("scheme", None),
                SlotSet("asked_attributes", list(resolution.question.attributes) or None),
                SlotSet("offered_schemes", [c.id for c in decision.ask if c.kind == "scheme"]),
            ]
        elif category in HOTLINE_CATEGORIES:
            offer_category(self.kb, dispatcher, tracker, category, intent, latest_entity(tracker, "attribute"))
            events = [SlotSet("scheme", None)]
        else:
            dispatcher.utter_message(response="utter_followup_which_scheme")
            return []
        if urgent_reason(text, intent):
            dispatcher.utter_message(response="utter_offer_person_urgent")
        return events

    def _same_for_all(self, resolution: Resolution, decision: Decision) -> str | None:
        """The one answer when every scheme the bot would ask about states the same thing."""
        if any(c.kind != "scheme" for c in decision.ask):
            return None
        return shared_answer([gather(self.kb, c.id) for c in decision.ask], resolution.question.attributes)


class ActionServiceHours(ActionAnswerAttribute):
    """「你們幾點下班」 gets the service hours (utter_service_hours); 「最多幾點」 after a scheme
    that grants points (雲市集's 數位點數) asks that scheme's figure: 點 is o'clock or points,
    and only a scheme in the conversation that deals in points makes the second reading possible."""

    def name(self) -> str:
        return "action_service_hours"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        current = tracker.get_slot("scheme")
        if current and _POINTS.search(text) and self._grants_points(current):
            return await super().run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_service_hours")
        return []

    def _grants_points(self, scheme_id: str) -> bool:
        try:
            scheme = self.resolver.scheme(scheme_id)  # the resolver's records, read once
        except KeyError:
            return False
        return "點數" in " ".join((scheme.name, scheme.summary, *(b.text for b in scheme.benefits)))


# 「最多幾點」「可以拿幾點」「點數幾點」: a number of points, not a time of day (「幾點下班」).
_POINTS = re.compile(r"(?:最多|最高|上限|拿|領|給|核給|補助|點數|總共|一共)[^，。？?]{0,3}幾點|幾點(?:點數|數位點數)")


class ActionDeny(ActionAnswerAttribute):
    """「不用了」 gets 「好的。還有什麼想了解的嗎？」 (utter_anything_else); a denial that goes on to
    correct the question (「不是 我是問那個補助的專線」) is that question, answered on the
    conversation's scheme: the caller changed what they asked, not their mind about asking."""

    def name(self) -> str:
        return "action_deny"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        rest = _DENIAL.sub("", text, count=1).strip()
        asks = attributes_in(rest) or (is_hotline_question(rest) and _ASKS.search(rest))
        if rest != text.strip() and len(rest) >= 4 and asks:
            return await super().run(dispatcher, tracker, domain)
        dispatcher.utter_message(response="utter_anything_else")
        return []


# The denial a correction starts with: 「不是」「不對啦，」「沒有 」.
_DENIAL = re.compile(r"^\s*(?:不是|不對|沒有|不用|不要)(?:了|啦|喔|哦|耶|的)?[\s，,。.！!、]*")
# A question, not a statement (「沒有了 貸款的部分都清楚了」 names a loan and asks nothing).
_ASKS = re.compile(r"[嗎呢？?]|多少|幾|哪|什麼|甚麼|怎麼|如何|誰|是問|想問|要問")


class ActionAnswerContact(KnowledgeAction):
    """「外貿協會電話幾號」「電話幾號」 (the hotline_ask intent): whose number the caller wants.

    An organisation named gets its lines; after an answer about a scheme, that scheme's
    line; a caller asking for our own number (你們、客服、馬上辦) or with nothing to go on
    gets the hotline.
    """

    def name(self) -> str:
        return "action_answer_contact"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name", "")
        question = question_from(self.resolver, tracker, intent, None)
        if "contact" not in question.attributes:
            question = replace(question, attributes=(*question.attributes, "contact"))
        resolution = self.resolver.resolve(question)
        chosen = [
            c
            for c in resolution.decision().answer
            if (c.kind == "contact" and c.named) or (c.kind == "scheme" and (c.named or c.id == question.current))
        ]
        if not chosen or _OUR_LINE.search(question.plain) or any(c.id == DEFAULT_CONTACT for c in chosen):
            dispatcher.utter_message(response="utter_hotline")
            return []
        return answer_candidates(self.kb, self.resolver, dispatcher, tracker, resolution, tuple(chosen))


# 「你們電話幾號」「客服專線」: the caller wants the hotline itself.
_OUR_LINE = re.compile(r"你們|您們|客服|0800|免付費|服務專線$")


# A message this short with no attribute of its own continues the previous question.
FOLLOW_UP_CHARS = 10
# Intents whose message is answered only when the resolver has real evidence for it.
UNSURE_INTENTS = (FALLBACK_INTENT, "out_of_scope")


def question_from(resolver: Resolver, tracker: Tracker, intent: str, category: Category | None) -> Question:
    """The resolver's question: the text (not a button's payload), entities, slots and category.

    A short follow-up that asks nothing new (「那加薪呢」「那是怎麼算的」) asks again what the
    previous question asked, about whatever it names now.
    """
    text = tracker.latest_message.get("text") or ""
    text = "" if text.startswith("/") else text
    # In a long story the question comes last: the resolver reads the attributes there, not
    # the entity ruler's hits anywhere in the story (「之前打電話去銀行問…」 asks no phone number).
    attributes = tuple(latest_entities(tracker, "attribute")) if len(text) <= STORY_CHARS else ()
    if not attributes and not attributes_in(text) and len(text) <= FOLLOW_UP_CHARS:
        attributes = tuple(tracker.get_slot("asked_attributes") or ())
    return resolver.question(
        text,
        attributes=attributes,
        scheme=latest_entity(tracker, "scheme"),
        current=tracker.get_slot("scheme"),
        profile=profile_from_slots(tracker),
        category=category.value if category in HOTLINE_CATEGORIES else None,
        followup=category is Category.DIALOGUE or intent == FALLBACK_INTENT,
        offered=tuple(tracker.get_slot("offered_schemes") or ()) if not tracker.get_slot("scheme") else (),
    )


def evidence_enough(resolver: Resolver, resolution: Resolution, decision: Decision) -> bool:
    """Whether an unclear or out-of-scope message is still a hotline question the resolver can serve.

    A scheme or organisation named, a follow-up on the conversation's scheme, or hotline
    words with an attribute asked (「…政府的貸款最長可以分幾年還？」) are enough; a story
    about butter prices is not.
    """
    chosen = decision.answer or decision.ask
    if not chosen:
        return False
    if any(c.named for c in chosen):
        return True
    question = resolution.question
    if question.current and any(c.id == question.current for c in decision.answer):
        # A follow-up on the scheme under discussion: an attribute, or words its record holds.
        scheme = resolver.scheme(question.current)
        return bool(question.attributes or matching_statements(scheme, question.text))
    return bool(question.attributes) and is_hotline_question(question.text)


def continues_topic(resolver: Resolver, resolution: Resolution, decision: Decision) -> bool:
    """A scheme named, or a short follow-up on the conversation's, however sure the model is that it is out of scope.

    Out of context 「到哪一年」「自己要出多少」 are not hotline questions; after an answer about
    a scheme they are about it. A kind of message we can name as out of scope (a personal
    loan, tax filing) stays out of scope.
    """
    question = resolution.question
    if scope_reason(question.text) is not None:
        return False
    if any(c.exact and c.kind == "scheme" for c in decision.answer):
        return True  # a scheme named by its name or an alias (「台灣精品選拔…還來得及嗎」)
    return bool(
        question.current
        and len(question.text) <= SHORT_FOLLOW_UP
        and any(c.id == question.current for c in decision.answer)
        and evidence_enough(resolver, resolution, decision)
    )


def asks_about_some_scheme(resolution: Resolution) -> bool:
    """A short question of a scheme's attribute (how to apply, rate, amount) that names no scheme, in a
    conversation with none, and of no kind we can name as out of scope (a personal loan, tax filing)."""
    question = resolution.question
    return bool(
        question.attributes
        and not question.current
        and not question.scheme
        and len(question.text.strip()) <= SHORT_FOLLOW_UP
        and scope_reason(question.text) is None
    )


def unsure_reply(dispatcher: CollectingDispatcher, tracker: Tracker, intent: str) -> list[dict[str, Any]]:
    if intent == "out_of_scope":
        out_of_scope_reply(dispatcher, tracker)
    else:
        clarify_topic(dispatcher, tracker)
    return []


def answer_candidates(
    kb: KnowledgeBase,
    resolver: Resolver,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    resolution: Resolution,
    chosen: tuple[Candidate, ...],
) -> list[dict[str, Any]]:
    """Answer each chosen scheme (the source card once per scheme per conversation) or the contacts named."""
    contacts = [resolver.contact(c.id) for c in chosen if c.kind == "contact"]
    # Lines marked current only (knowledge/README.md), unless the organisation has no other.
    contacts = [c for c in contacts if c.current] or contacts
    if contacts:
        dispatcher.utter_message(text=contacts_answer(contacts))
        return []
    question = resolution.question
    cited = list(tracker.get_slot("cited_schemes") or [])
    for candidate in chosen:
        facts = gather(kb, candidate.id)
        why = () if candidate.named or candidate.id == question.current else fit_reasons(facts.scheme, question.profile)
        answer_scheme(
            dispatcher,
            tracker,
            facts,
            question.attributes,
            question.profile.purpose,
            cite=candidate.id not in cited,
            why=why,
            text=question.plain,
            history=candidate.exact
            or candidate.id == question.current
            or asks_about_the_past(question.text)
            or (len(chosen) == 1 and (candidate.named or bool(question.attributes))),
        )
        cited.append(candidate.id)
    return [
        SlotSet("scheme", chosen[-1].id),
        SlotSet("cited_schemes", list(dict.fromkeys(cited))[-20:]),
        SlotSet("offered_schemes", None),
        SlotSet("asked_attributes", list(question.attributes) or None),
    ]


def ask_which(
    resolver: Resolver,
    dispatcher: CollectingDispatcher,
    resolution: Resolution,
    candidates: tuple[Candidate, ...],
    intent: str,
) -> None:
    """「您是指A，還是B？」 with the best two or three as buttons carrying the attributes asked."""
    attributes = ",".join(resolution.question.attributes)
    buttons, names = [], []
    for candidate in candidates:
        if candidate.kind == "contact":
            contact = resolver.contact(candidate.id)
            names.append(contact.name)
            buttons.append({"title": contact.name[:20], "payload": contact.phone})
            continue
        scheme = resolver.scheme(candidate.id)
        names.append(button_title(scheme))
        topic = TOPIC_INTENT.get(Category(scheme.category), intent)
        entities = {"scheme": scheme.id, **({"attribute": attributes} if attributes else {})}
        buttons.append({"title": button_title(scheme), "payload": intent_payload(topic, **entities)})
    dispatcher.utter_message(text=messages.which_one(names), buttons=buttons)


def answer_scheme(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    facts: Facts,
    attributes: tuple[str, ...] = (),
    purpose: str | None = None,
    cite: bool = True,
    why: tuple[str, ...] = (),
    text: str = "",
    history: bool = False,
) -> None:
    """The answer bubbles; when cited, the last one (source, contact) carries a scheme card on the web chat."""
    bubbles = answer(facts, attributes, purpose, cite=cite, why=why, text=text, history=history)
    if not cite:
        for bubble in bubbles:
            dispatcher.utter_message(text=bubble)
        return
    *body, last = bubbles
    for bubble in body:
        dispatcher.utter_message(text=bubble)
    card = scheme_card(facts) if tracker.get_latest_input_channel() == Channel.SOCKETIO.value else None
    dispatcher.utter_message(text=last, json_message=card)


def offer_category(
    kb: KnowledgeBase,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    category: Category,
    intent: str,
    attribute: str | None,
) -> None:
    """The category's current schemes as buttons (at most five), those fitting the caller first."""
    label = CATEGORY_INFO[category].label
    fitting = {m.scheme.id for m in kb.matching(profile_from_slots(tracker))}
    schemes = sorted(kb.by_category(category.value), key=lambda s: s.id not in fitting)[:MAX_BUTTONS]
    if not schemes:
        dispatcher.utter_message(text=messages.category_empty(label, kb.contact(DEFAULT_CONTACT).phone))
        return
    entities = {"attribute": attribute} if attribute else {}
    buttons = [{"title": button_title(s), "payload": intent_payload(intent, scheme=s.id, **entities)} for s in schemes]
    text = (
        messages.category_list_for_attribute(label, ATTRIBUTE_LABELS[attribute])
        if attribute in ATTRIBUTE_LABELS
        else messages.category_list(label)
    )
    dispatcher.utter_message(text=text, buttons=buttons)
