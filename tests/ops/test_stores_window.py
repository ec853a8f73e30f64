"""A long conversation loads a bounded window of its events, with the same state; nothing stored changes.

The stores are the ones Rasa loads from endpoints.yml (real SQLite files); turns are
saved the way Rasa's processor saves them: retrieve, append the turn's events, save.
"""

from __future__ import annotations

import asyncio
import json

import sqlalchemy as sa

from bot.handoff.transcript import transcript
from bot.privacy import stores
from tests.ops.support import PHONE, load_stores


def turn(store, sender: str, n: int, extra=()):  # type: ignore[no-untyped-def]
    """One turn as Rasa's processor saves it: retrieve (or create), the turn's events, save."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

    tracker = asyncio.run(store.retrieve(sender)) or asyncio.run(store.create_tracker(sender))
    text = f"第{n}個問題 青創貸款利率"
    for event in (
        UserUttered(
            text,
            {"name": "loan_ask", "confidence": 0.9},
            parse_data={"text": text, "intent": {"name": "loan_ask", "confidence": 0.9}, "entities": []},
        ),
        SlotSet("attribute", f"rate-{n}"),
        ActionExecuted("action_answer_knowledge"),
        BotUttered(f"答覆{n}：" + "青年創業及啟動金貸款的利率依中華郵政二年期定儲機動利率加碼計算。" * 8),
        *extra,
        ActionExecuted("action_listen"),
    ):
        tracker.update(event)
    asyncio.run(store.save(tracker))
    return tracker


def rows(url: str, sender: str) -> list[dict]:
    with sa.create_engine(url).connect() as db:
        return [
            json.loads(r[0])
            for r in db.execute(sa.text("select data from events where sender_id = :s order by id"), {"s": sender})
        ]


def test_a_long_conversation_loads_a_bounded_window_with_the_same_slots_and_stores_every_event_once(
    monkeypatch, tmp_path
):
    from rasa.shared.core.events import SlotSet
    from rasa.shared.core.trackers import EventVerbosity

    store, _ = load_stores(monkeypatch, tmp_path)
    sender = "window-long"
    turn(store, sender, 0, extra=[SlotSet("scheme", "youth_startup_loan")])  # set once, long before the window
    for n in range(1, 200):
        turn(store, sender, n)
    loaded = asyncio.run(store.retrieve(sender))
    full = asyncio.run(store.retrieve_full_tracker(sender))
    assert len(loaded.events) <= stores.WINDOW_LIMIT + 15 < len(full.events)
    assert loaded.current_slot_values() == full.current_slot_values()
    assert loaded.get_slot("scheme") == "youth_startup_loan" and loaded.get_slot("attribute") == "rate-199"
    assert loaded.latest_message.text == "第199個問題 青創貸款利率"
    # the last turns are whole: the handoff transcript and the fallback streak read them
    assert transcript([e.as_dict() for e in loaded.events])[-4:] == transcript([e.as_dict() for e in full.events])[-4:]
    # what Rasa sends the action server stays small whatever the conversation's length
    payload = {"tracker": loaded.current_state(EventVerbosity.ALL), "domain": store.domain.as_dict()}
    assert len(json.dumps(payload)) < 64 * 1024
    tracker_rows = rows(f"sqlite:///{tmp_path / 'rasa_tracker.db'}", sender)
    ops_rows = rows(f"sqlite:///{tmp_path / 'ops.db'}", sender)
    users = [r["text"] for r in tracker_rows if r["event"] == "user"]
    assert users == [f"第{n}個問題 青創貸款利率" for n in range(200)]  # every turn once, in order
    assert [r["event"] for r in ops_rows] == [r["event"] for r in tracker_rows]  # the broker got each event once
    assert [r["event"] for r in tracker_rows] == [e.as_dict()["event"] for e in full.events]


def test_an_active_form_and_a_paused_conversation_survive_the_window(monkeypatch, tmp_path):
    from rasa.shared.core.events import ActiveLoop, ConversationPaused, SlotSet

    store, _ = load_stores(monkeypatch, tmp_path)
    turn(
        store,
        "window-form",
        0,
        extra=[ActiveLoop("handoff_form"), SlotSet("requested_slot", "handoff_phone"), SlotSet("handoff_phone", PHONE)],
    )
    turn(store, "window-paused", 0, extra=[ConversationPaused()])
    for n in range(1, 60):
        turn(store, "window-form", n)
        turn(store, "window-paused", n)
    form = asyncio.run(store.retrieve("window-form"))
    paused = asyncio.run(store.retrieve("window-paused"))
    assert stores.window_mark(form) and stores.window_mark(paused)  # both loaded from a window
    assert form.active_loop_name == "handoff_form" and form.get_slot("requested_slot") == "handoff_phone"
    assert form.get_slot("handoff_phone") == "[手機]"  # the window's prefix is masked like every stored event
    assert paused.is_paused() and not form.is_paused()


def test_a_new_session_after_the_window_loads_only_that_session(monkeypatch, tmp_path):
    from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet

    store, _ = load_stores(monkeypatch, tmp_path)
    for n in range(40):
        turn(store, "window-session", n, extra=[SlotSet("scheme", "sbir")] if n == 0 else [])
    tracker = asyncio.run(store.retrieve("window-session"))
    assert stores.window_mark(tracker)
    for event in (
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("scheme", "sbir"),
        ActionExecuted("action_listen"),
    ):
        tracker.update(event)
    asyncio.run(store.save(tracker))
    turn(store, "window-session", 40)
    again = asyncio.run(store.retrieve("window-session"))
    assert stores.window_mark(again) is None
    assert [e.text for e in again.events if e.type_name == "user"] == ["第40個問題 青創貸款利率"]
    assert again.get_slot("scheme") == "sbir"


def test_the_whole_session_behind_a_window_is_the_stored_one_plus_the_running_turn(monkeypatch, tmp_path):
    """What a ticket reads (actions/handoff.py): the stored session through the API, then the unsaved turn."""
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import EventVerbosity

    from bot.privacy.window import mark_of, whole_session

    store, _ = load_stores(monkeypatch, tmp_path)
    for n in range(30):
        turn(store, "window-ticket", n)
    running = asyncio.run(store.retrieve("window-ticket"))
    for event in (UserUttered("下午", {"name": "handoff_request", "confidence": 0.5}), ActionExecuted("handoff_form")):
        running.update(event)  # this turn's events: not stored until the turn ends
    loaded = running.current_state(EventVerbosity.ALL)["events"]  # what the action server receives
    stored = asyncio.run(store.retrieve_full_tracker("window-ticket")).current_state(EventVerbosity.AFTER_RESTART)[
        "events"
    ]
    assert mark_of(loaded) and not mark_of(stored)
    said = [line["text"] for line in transcript(whole_session(loaded, stored), limit=500) if line["who"] == "user"]
    assert said == [f"第{n}個問題 青創貸款利率" for n in range(30)] + ["下午"]
    assert whole_session(stored, []) == stored  # an unwindowed tracker is the whole session already
