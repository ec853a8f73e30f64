"""The eligibility form and its result with Tracker fixtures: re-asks, the retry cap, corrections, the matches."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.eligibility import INVALID, RETRIES_SLOT, ActionEligibilityResult, ValidateEligibilityForm
from bot import messages
from bot.clock import FixedClock
from bot.eligibility import FORM_SLOTS, UNKNOWN
from bot.kb.build import build_kb
from bot.kb.query import KnowledgeBase
from bot.kb.records import load_knowledge
from tests.conftest import make_tracker, run_action

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
# Answers no reader can make sense of (any answer is an industry: 「其他」 at worst).
UNREADABLE = {"elig_employees": "很多", "elig_org_type": "嗯嗯", "elig_purpose": "嗯嗯", "elig_disaster": "看情況"}


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    path = build_kb(load_knowledge(ROOT / "knowledge"), tmp_path_factory.mktemp("ekb") / "kb.db")
    return KnowledgeBase(path, FixedClock(dt.date(2026, 11, 23)))


def validate(slot, said, slots=None):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker("nlu_fallback", slots={slot: said, **(slots or {})}, text=said, requested=slot)
    result = asyncio.run(getattr(ValidateEligibilityForm(), f"validate_{slot}")(said, dispatcher, tracker, DOMAIN))
    return result, [m["response"] for m in dispatcher.messages]


@pytest.mark.parametrize("slot", sorted(UNREADABLE))
def test_an_unreadable_answer_is_asked_once_more_then_skipped_as_unknown(slot):
    first, said_first = validate(slot, UNREADABLE[slot])
    assert first == {slot: None, RETRIES_SLOT: 1.0} and said_first == [INVALID[slot]]
    second, said_second = validate(slot, UNREADABLE[slot], {RETRIES_SLOT: 1.0})
    assert second == {slot: UNKNOWN, RETRIES_SLOT: 0.0} and said_second == ["utter_eligibility_skip"]


@pytest.mark.parametrize(
    ("slot", "said", "value"),
    [
        ("elig_employees", "十二個人", "12"),
        ("elig_org_type", "我們是行號", "商業"),
        ("elig_industry", "不知道", UNKNOWN),
        ("elig_purpose", "想買新機器", "設備"),
        ("elig_disaster", "沒有受災", "no"),
    ],
)
def test_a_readable_answer_is_stored_and_the_next_question_starts_afresh(slot, said, value):
    result, said_back = validate(slot, said, {RETRIES_SLOT: 1.0})
    assert result == {slot: value, RETRIES_SLOT: 0.0} and said_back == []


def test_every_question_is_validated_by_its_own_method():
    assert all(callable(getattr(ValidateEligibilityForm, f"validate_{slot}", None)) for slot in FORM_SLOTS)
    assert all(callable(getattr(ValidateEligibilityForm, f"extract_{slot}", None)) for slot in FORM_SLOTS)


def test_an_employee_count_told_before_the_form_is_not_asked_again():
    tracker = make_tracker("eligibility_check", slots={"employees": 8.0})
    result = asyncio.run(ValidateEligibilityForm().extract_elig_employees(CollectingDispatcher(), tracker, DOMAIN))
    assert result == {"elig_employees": "8"}


def test_an_answer_the_nlu_took_for_a_question_is_still_read():
    tracker = make_tracker("loan_ask", text="想買新機器", requested="elig_purpose")
    result = asyncio.run(ValidateEligibilityForm().extract_elig_purpose(CollectingDispatcher(), tracker, DOMAIN))
    assert result == {"elig_purpose": "想買新機器"}


def test_the_result_lists_fitting_schemes_with_reasons_as_buttons_and_clears_the_form(kb):
    slots = {
        "elig_employees": "8",
        "elig_org_type": "公司",
        "elig_industry": "其他",
        "elig_purpose": "週轉",
        "elig_disaster": "no",
        RETRIES_SLOT: 0.0,
    }
    said, events = run_action(ActionEligibilityResult(kb), make_tracker("dialogue_affirm", slots=slots))
    assert said[0]["text"].startswith(messages.ELIGIBILITY_INTRO) and len(said[0]["text"]) <= 300
    assert "1. 30人以下中小微企業優惠貸款（員工30人以下（您8人）、公司登記可申請、用途含週轉）" in said[0]["text"]
    assert said[0]["buttons"][0] == {
        "title": "30人以下中小微企業優惠貸款",
        "payload": '/loan_ask{"scheme":"sme_micro_loan_30_under"}',
    }
    assert len(said[0]["buttons"]) <= 5
    assert {e["name"]: e["value"] for e in events} == dict.fromkeys((*FORM_SLOTS, RETRIES_SLOT, "form_cancelled"))
