"""The disaster report form and its ticket with Tracker fixtures: what is re-asked, what staff get, what the caller is offered."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.disaster import REPORT_SLOTS, ActionCreateDisasterReport, ValidateDisasterReportForm
from bot.clock import FixedClock
from bot.handoff.tickets_sql import SqlTicketStore
from bot.handoff.urgency import Priority
from bot.kb.build import build_kb
from bot.kb.query import KnowledgeBase
from bot.kb.records import load_knowledge
from bot.settings import Settings
from tests.conftest import make_tracker, run_action

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
REPORT = {
    "report_company": "大發五金行",
    "report_location": "花蓮縣",
    "report_disaster_type": "地震",
    "report_damage": "倉庫倒塌",
    "report_loss": "500000",
    "report_phone": "03-870-1234",
}
FIRST = {
    "event": "user",
    "text": "地震把倉庫震垮了",
    "timestamp": 1_764_000_000,
    "input_channel": "line",
    "parse_data": {"intent": {"name": "disaster_report", "confidence": 0.9}, "entities": []},
}


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    path = build_kb(load_knowledge(ROOT / "knowledge"), tmp_path_factory.mktemp("dkb") / "kb.db")
    return KnowledgeBase(path, FixedClock(dt.date(2026, 11, 23)))


def validate(slot, said, tmp_path):
    form = ValidateDisasterReportForm(Settings.from_env({"BOT_VAR_DIR": str(tmp_path)}))
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("nlu_fallback", slots={slot: said}, text=said, sender="conv-d", requested=slot)
    result = asyncio.run(getattr(form, f"validate_{slot}")(said, dispatcher, tracker, DOMAIN))
    return result, [m["response"] for m in dispatcher.messages]


@pytest.mark.parametrize(
    ("slot", "said", "value", "reask"),
    [
        ("report_location", "花蓮縣吉安鄉", "花蓮縣吉安鄉", None),
        ("report_location", "我家附近", None, "utter_report_invalid_location"),
        ("report_disaster_type", "颱風", "颱風", None),
        ("report_disaster_type", "", "其他", None),
        ("report_damage", "", "未說明", None),
        ("report_loss", "大概50萬", "500000", None),
        ("report_loss", "不知道", "不確定", None),
        ("report_loss", "很多", None, "utter_report_invalid_loss"),
        ("report_phone", "電話 0912 345 678", "0912-345-678", None),
        ("report_phone", "1234", None, "utter_handoff_invalid_phone"),
    ],
)
def test_each_answer_is_read_or_asked_again(slot, said, value, reask, tmp_path):
    result, said_back = validate(slot, said, tmp_path)
    assert result == {slot: value}
    assert said_back == ([reask] if reask else [])


def test_a_phone_number_is_kept_for_the_ticket_before_the_tracker_store_masks_it(tmp_path):
    validate("report_phone", "0912345678", tmp_path)
    assert SqlTicketStore(tmp_path / "tickets.db").take_contacts("conv-d") == {"report_phone": "0912-345-678"}


def test_a_report_opens_an_urgent_ticket_with_its_details_and_offers_relief_schemes(kb, tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))  # the action opens its store from the environment
    said, events = run_action(
        ActionCreateDisasterReport(kb), make_tracker("dialogue_affirm", slots=REPORT, sender="conv-d", events=[FIRST])
    )
    assert said[0]["response"] == "utter_report_received"
    assert said[1]["buttons"][0]["payload"] == '/disaster_ask{"scheme":"disaster_sme_financing_rules"}'
    ticket = SqlTicketStore(tmp_path / "tickets.db").get(said[0]["ticket"])
    assert (ticket.kind, ticket.category, ticket.channel, ticket.priority) == (
        "disaster_report",
        "disaster",
        "line",
        int(Priority.URGENT),
    )
    assert ticket.summary == "災情通報：大發五金行，花蓮縣，地震，倉庫倒塌" and ticket.contact_phone == "03-870-1234"
    assert ticket.details["loss"] == "500000" and ticket.transcript[0]["text"] == "地震把倉庫震垮了"
    assert events == [{"event": "slot", "timestamp": None, "name": slot, "value": None} for slot in REPORT_SLOTS]


def test_a_cancelled_report_opens_no_ticket(kb, tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    said, _ = run_action(
        ActionCreateDisasterReport(kb),
        make_tracker("form_cancel", slots={"form_cancelled": True}, sender="conv-d", events=[FIRST]),
    )
    assert said[0]["response"] == "utter_form_cancelled"
    assert SqlTicketStore(tmp_path / "tickets.db").queue() == []
