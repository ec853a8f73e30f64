"""Nothing personal reaches the tracker store, the event database or the logs; tickets keep the callback."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import sqlalchemy as sa

from bench.ids import sender_id
from bot.settings import ROOT
from tests.ops.support import EMAIL, NATIONAL_ID, PHONE, PHONE_DIGITS, SECRETS, conversation, load_stores


def raw_bytes(folder: Path, name: str) -> bytes:
    """The database file with its journal or WAL, as a disk image would hold them."""
    return b"".join(p.read_bytes() for p in folder.glob(name + "*"))


def leaks(data: bytes | str) -> list[str]:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return [s for s in SECRETS if s in text]


# --- the stores as Rasa loads them from endpoints.yml ------------------------------------
def test_rasa_loads_the_masking_stores_from_endpoints_yml_and_stores_no_personal_data(monkeypatch, tmp_path):
    from bot.privacy.stores import MaskingSQLEventBroker, MaskingSQLTrackerStore

    store, broker = load_stores(monkeypatch, tmp_path)
    assert type(store) is MaskingSQLTrackerStore and type(broker) is MaskingSQLEventBroker
    asyncio.run(store.save(conversation(store, "privacy-unit")))
    back = asyncio.run(store.retrieve("privacy-unit"))
    assert back.get_slot("handoff_phone") == "[手機]"
    assert back.latest_message.text == "我的身分證[身分證]，手機[手機]，信箱[Email]"
    for name in ("rasa_tracker.db", "ops.db"):
        data = raw_bytes(tmp_path, name)
        assert b"privacy-unit" in data and leaks(data) == [], name
    with sa.create_engine(f"sqlite:///{tmp_path / 'ops.db'}").connect() as db:
        assert db.execute(sa.text("select count(*) from events where sender_id = 'privacy-unit'")).scalar() == 5


def test_the_same_stores_work_on_postgresql(monkeypatch, tmp_path, postgres_url):
    tracker_url, ops_url = postgres_url(), postgres_url()
    store, broker = load_stores(monkeypatch, tmp_path, tracker_url, ops_url)
    asyncio.run(store.save(conversation(store, "privacy-pg")))
    assert asyncio.run(store.retrieve("privacy-pg")).get_slot("handoff_phone") == "[手機]"
    for url in (tracker_url, ops_url):
        with sa.create_engine(url).connect() as db:
            rows = [r[0] for r in db.execute(sa.text("select data from events where sender_id = 'privacy-pg'"))]
        assert len(rows) == 5 and leaks("\n".join(rows)) == [], url
    store.engine.dispose()
    broker.engine.dispose()
    assert not list(tmp_path.glob("*.db"))  # the URLs replaced the SQLite files


def test_any_broker_behind_the_masking_tracker_store_gets_masked_events(tmp_path):
    """The scale-out profile streams to RabbitMQ through a plain Pika broker; the tracker store masks first."""
    from rasa.core.brokers.file import FileEventBroker
    from rasa.shared.core.domain import Domain

    from bot.privacy.stores import MaskingSQLTrackerStore

    broker = FileEventBroker(str(tmp_path / "events.jsonl"))  # Rasa's own broker, no masking of its own
    store = MaskingSQLTrackerStore(
        Domain.load(str(ROOT / "domain.yml")), db=str(tmp_path / "tracker.db"), event_broker=broker
    )
    asyncio.run(store.save(conversation(store, "plain-broker")))
    published = (tmp_path / "events.jsonl").read_text(encoding="utf-8")
    assert published.count("plain-broker") == 5 and "[手機]" in published
    assert leaks(published) == []


# --- the form keeps the callback the stores mask --------------------------------------------
def test_a_phone_masked_on_reload_still_reaches_the_ticket(tmp_path):
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.handoff import ActionCreateTicket, ValidateHandoffForm
    from bot.handoff.tickets_sql import SqlTicketStore
    from bot.settings import Settings

    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    turn = Tracker("conv-9", {}, {"text": "0933 222 111"}, [], False, None, {}, "action_listen")
    kept = asyncio.run(
        ValidateHandoffForm(settings).validate_handoff_phone("0933 222 111", CollectingDispatcher(), turn, {})
    )
    assert kept == {"handoff_phone": PHONE}
    reloaded = {"handoff_consent": True, "handoff_name": "王小明", "handoff_phone": "[手機]", "handoff_time": "下午"}
    dispatcher = CollectingDispatcher()
    asyncio.run(
        ActionCreateTicket(settings).run(
            dispatcher, Tracker("conv-9", reloaded, {}, [], False, None, {}, "action_listen"), {}
        )
    )
    store = SqlTicketStore(settings.tickets_path)
    assert store.get(dispatcher.messages[0]["ticket"]).contact_phone == PHONE
    assert store.take_contacts("conv-9") == {}  # taken once, not kept beside the ticket


# --- end to end: a real stack -----------------------------------------------------------------
def test_after_a_handoff_neither_database_nor_log_holds_the_callers_identifiers_but_the_ticket_does(stack):
    from bot.handoff.tickets_sql import SqlTicketStore
    from tests.e2e.client import say, texts
    from tests.e2e.test_handoff import console_login

    user = sender_id("privacy")
    say(stack.rasa_url, user, f"我是負責人 身分證{NATIONAL_ID} 信箱{EMAIL} 下個月薪水發不出來")
    assert "轉給真人客服" in texts(say(stack.rasa_url, user, "我要找真人客服"))
    assert "怎麼稱呼" in texts(say(stack.rasa_url, user, "好，請專人聯絡我"))
    assert "聯絡電話" in texts(say(stack.rasa_url, user, "陳美玲 美玲小吃店"))
    assert "時段" in texts(say(stack.rasa_url, user, PHONE_DIGITS))
    created = texts(say(stack.rasa_url, user, "下午"))
    number = int(re.search(r"編號(\d+)", created).group(1))

    ticket = SqlTicketStore(stack.var_dir / "tickets.db").get(number)
    assert ticket.contact_phone == PHONE and ticket.contact_name == "陳美玲（美玲小吃店）"
    for name in ("tracker.db", "ops.db"):
        data = raw_bytes(stack.var_dir, name)
        assert user.encode() in data and "[手機]".encode("unicode_escape") in data, name  # stored, masked
        assert leaks(data) == [], name
    for log in stack.var_dir.glob("*.log"):
        assert leaks(log.read_bytes()) == [], log.name
    page = console_login(stack, "privacy").get(f"/console/tickets/{number}").text
    assert PHONE in page  # staff see the real number
    assert NATIONAL_ID not in page and EMAIL not in page  # the transcript shows what the stores kept


def test_even_at_debug_level_the_rasa_server_logs_no_personal_data(model_path, tmp_path):
    """Rasa logs each message's text at debug level; the masking tracker store masks the whole process's logs."""
    import dataclasses
    import json
    import os
    import sys
    import urllib.request

    from bot import supervisor

    port = supervisor.free_port()
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        f"tracker_store:\n  type: bot.privacy.stores.MaskingSQLTrackerStore\n  dialect: sqlite\n  db: {tmp_path / 'tracker.db'}\n"
        f"event_broker:\n  type: bot.privacy.stores.MaskingSQLEventBroker\n  dialect: sqlite\n  db: {tmp_path / 'ops.db'}\n",
        encoding="utf-8",
    )
    rasa = supervisor.services(
        sys.executable, model_path, os.urandom(24).hex(), endpoints, port, supervisor.free_port()
    )[1]
    debug = dataclasses.replace(rasa, command=(*rasa.command, "--debug"))  # keeps the token in its environment
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "BOT_VAR_DIR": str(tmp_path)}
    with (tmp_path / "rasa.log").open("wb") as log:
        process = supervisor.start(debug, log, env)
    try:
        body = json.dumps(
            {"sender": "debug-log", "message": f"手機{PHONE_DIGITS} 身分證{NATIONAL_ID} 信箱{EMAIL}"},
            ensure_ascii=False,
        ).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as reply:
            assert reply.status == 200
    finally:
        supervisor.stop(process)
    output = (tmp_path / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert "手機[手機] 身分證[身分證] 信箱[Email]" in output  # the message was logged, masked
    assert leaks(output) == []
