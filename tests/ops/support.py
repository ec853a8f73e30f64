"""Helpers for the ops tests: the stores as Rasa loads them, a conversation full of personal data."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.settings import ROOT

PHONE, PHONE_DIGITS, EMAIL, NATIONAL_ID = "0933-222-111", "0933222111", "ming.test@example.com", "F131104093"
SECRETS = (PHONE, PHONE_DIGITS, EMAIL, NATIONAL_ID)


def load_stores(monkeypatch, var_dir: Path, tracker_url: str = "", ops_url: str = ""):  # type: ignore[no-untyped-def]
    from rasa.core.brokers.broker import EventBroker
    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import AvailableEndpoints
    from rasa.shared.core.domain import Domain

    for name, value in {
        "BOT_ACTION_URL": "http://127.0.0.1:1/webhook",
        "BOT_VAR_DIR": str(var_dir),
        "BOT_TRACKER_DB_URL": tracker_url,
        "BOT_OPS_DB_URL": ops_url,
    }.items():
        monkeypatch.setenv(name, value)
    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
    broker = asyncio.run(EventBroker.create(endpoints.event_broker))
    return TrackerStore.create(endpoints.tracker_store, Domain.load(str(ROOT / "domain.yml")), broker), broker


def conversation(store, sender: str):  # type: ignore[no-untyped-def]
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    text = f"我的身分證{NATIONAL_ID}，手機{PHONE_DIGITS}，信箱{EMAIL}"
    events = [
        ActionExecuted("action_listen"),
        UserUttered(
            text,
            {"name": "handoff_request", "confidence": 0.9},
            [{"entity": "phone", "value": PHONE_DIGITS, "start": 0, "end": 1}],
            parse_data={"text": text, "intent": {"name": "handoff_request", "confidence": 0.9}, "entities": []},
            metadata={"note": EMAIL},
        ),
        SlotSet("handoff_phone", PHONE),
        BotUttered(f"好的，我們會打 {PHONE} 給您。"),
        ActionExecuted("action_listen"),
    ]
    return DialogueStateTracker.from_events(sender, events, store.domain.slots)
