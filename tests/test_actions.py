"""Actions with Tracker fixtures: events and dispatcher messages."""

from __future__ import annotations

import asyncio

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionClarifyTopic


def make_tracker(intent: str = "nlu_fallback", ranking=None, events=None, slots=None) -> Tracker:
    latest = {"intent": {"name": intent}, "intent_ranking": ranking or [], "entities": [], "text": "嗯嗯那個"}
    return Tracker("u1", slots or {}, latest, events or [], False, None, {}, "action_listen")


def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def fallback_event():
    return {"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}}


def test_first_miss_asks_about_the_two_likeliest_topics():
    ranking = [{"name": "nlu_fallback", "confidence": 0.45}, {"name": "policy_ask", "confidence": 0.3},
               {"name": "digital_rd_ask", "confidence": 0.2}]
    messages, events = run(ActionClarifyTopic(), make_tracker(ranking=ranking, events=[fallback_event()]))
    assert events == []
    assert messages[0]["response"] == "utter_clarify_topic"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/policy_ask", "/digital_rd_ask"]


def test_second_miss_in_a_row_offers_a_person():
    messages, _ = run(ActionClarifyTopic(), make_tracker(events=[fallback_event(), fallback_event()]))
    assert messages[0]["response"] == "utter_clarify_offer_person"
    assert messages[0]["buttons"] == [{"title": "請真人協助", "payload": "/handoff_request"}]
