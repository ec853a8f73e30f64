"""Handoff actions with Tracker fixtures: the ticket, what the user is told, the pause."""

from __future__ import annotations

import asyncio
import datetime as dt

from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionCreateTicket, ActionStoreRating, ValidateHandoffForm
from bot.clock import TAIPEI
from bot.handoff.tickets_sql import SqlTicketStore
from bot.settings import Settings
from tests.conftest import make_tracker
from tests.conftest import run_action as run


def user_event(text, intent, confidence=0.9, ts=1_764_000_000):
    return {
        "event": "user",
        "text": text,
        "timestamp": ts,
        "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": []},
        "input_channel": "rest",
    }


def tracker(slots, events, text="下午", intent="dialogue_affirm", entities=()):
    return make_tracker(intent, entities, slots, text=text, events=events, sender="conv-7")


SLOTS = {"handoff_consent": True, "handoff_name": "王小明", "handoff_phone": "0912-345-678", "handoff_time": "下午"}
EVENTS = [
    user_event("支票快跳票了 要怎麼跟銀行談", "debt_negotiation_ask"),
    {"event": "bot", "text": "……", "timestamp": 1_764_000_001},
    user_event("我要找真人", "handoff_request"),
]


def test_outside_office_hours_the_user_gets_a_callback_time_and_the_bot_pauses(tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    friday_night = dt.datetime(2026, 11, 27, 21, 0, tzinfo=TAIPEI)
    messages, events = run(ActionCreateTicket(settings, now=friday_night), tracker(SLOTS, EVENTS))
    assert messages[0]["response"] == "utter_handoff_created_later"
    assert messages[0]["callback"] == "客服人員會在11月30日（週一）下午1點後回電給您"  # 「下午」 was asked
    assert [e["event"] for e in events[-2:]] == ["pause", "action"]
    ticket = SqlTicketStore(settings.tickets_path).get(messages[0]["ticket"])
    assert ticket.category == "debt_negotiation" and ticket.priority == 1 and ticket.urgent_reason == "debt_default"
    assert ticket.transcript[0] == {
        "who": "user",
        "text": "支票快跳票了 要怎麼跟銀行談",
        "intent": "debt_negotiation_ask",
        "confidence": 0.9,
        "at": "2025-11-25T00:00:00+08:00",
        "entities": [],
    }


def test_within_office_hours_a_person_joins_here(tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    monday = dt.datetime(2026, 11, 23, 10, 0, tzinfo=TAIPEI)
    messages, _ = run(ActionCreateTicket(settings, now=monday), tracker({**SLOTS, "handoff_time": "不限"}, EVENTS))
    assert messages[0]["response"] == "utter_handoff_created_open"


def test_no_consent_opens_no_ticket(tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    messages, events = run(ActionCreateTicket(settings), tracker({**SLOTS, "handoff_consent": False}, EVENTS))
    assert messages[0]["response"] == "utter_form_cancelled"
    assert all(e["event"] != "pause" for e in events)
    assert SqlTicketStore(settings.tickets_path).queue() == []


def test_phone_is_validated_and_written_one_way(tmp_path):
    form = ValidateHandoffForm(Settings.from_env({"BOT_VAR_DIR": str(tmp_path)}))
    dispatcher = CollectingDispatcher()
    good = asyncio.run(form.validate_handoff_phone("09 1234 5678", dispatcher, tracker({}, []), {}))
    bad = asyncio.run(form.validate_handoff_phone("1234", dispatcher, tracker({}, []), {}))
    assert good == {"handoff_phone": "0912-345-678"} and bad == {"handoff_phone": None}
    assert dispatcher.messages[0]["response"] == "utter_handoff_invalid_phone"


def test_rating_is_stored_on_the_latest_ticket(tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    messages, _ = run(ActionCreateTicket(settings), tracker(SLOTS, EVENTS))
    rated = tracker(
        {}, [], text='/handoff_rate{"rating":"4"}', intent="handoff_rate", entities=[{"entity": "rating", "value": "4"}]
    )
    run(ActionStoreRating(settings), rated)
    assert SqlTicketStore(settings.tickets_path).get(messages[0]["ticket"]).rating == 4
