"""Two-stage fallback (「您是想問…？」 with two topics, then offer a person), and out of scope with its reason."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.guard import guarded
from bot import messages
from bot.fallback import fallback_streak, likely_topics, topic_buttons
from bot.nlu.scope import reason, response_name


class ActionClarifyTopic(Action):
    def name(self) -> str:
        return "action_clarify_topic"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        clarify_topic(dispatcher, tracker)
        return []


def clarify_topic(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """「您是想問…？」 with two topics; on a second miss in a row, a person (also used by the answer action)."""
    if fallback_streak(tracker.events) >= 2:
        dispatcher.utter_message(
            response="utter_clarify_offer_person",
            buttons=[{"title": messages.PERSON_BUTTON, "payload": "/handoff_request"}],
        )
        return
    ranking = tracker.latest_message.get("intent_ranking", [])
    dispatcher.utter_message(response="utter_clarify_topic", buttons=topic_buttons(likely_topics(ranking)))


def out_of_scope_reply(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Out of scope with its reason said plainly (bot.nlu.scope: 「這是個人信貸的問題…」) and the hotline."""
    dispatcher.utter_message(response=response_name(tracker.latest_message.get("text") or ""))


# The intent confidence is calibrated (config.yml: in cross-validation 95% of the messages at
# 0.9 or more were right), so at this level "out of scope" is taken as said.
SURE_OUT_OF_SCOPE = 0.9


def sure_out_of_scope(tracker: Tracker) -> bool:
    """An out-of-scope message the knowledge search must not answer: a kind we can name
    (a person's own loan, tax filing, 勞保...) or the classifier is sure."""
    intent = tracker.latest_message.get("intent") or {}
    if intent.get("name") != "out_of_scope":
        return False
    text = tracker.latest_message.get("text") or ""
    return reason(text) is not None or float(intent.get("confidence") or 0.0) >= SURE_OUT_OF_SCOPE
