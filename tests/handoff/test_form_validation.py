"""Every form validator: a refusal is never stored as a value, it ends the form; contact details as people write them."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.disaster import ValidateDisasterReportForm
from actions.eligibility import ValidateEligibilityForm
from actions.handoff import ActionCreateTicket, ValidateHandoffForm
from bot.clock import TAIPEI
from bot.handoff.tickets_sql import SqlTicketStore
from bot.settings import Settings
from tests.conftest import make_tracker

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
VALIDATORS = {
    "handoff_form": ValidateHandoffForm,
    "disaster_report_form": ValidateDisasterReportForm,
    "eligibility_form": ValidateEligibilityForm,
}
STEPS = [(form, slot) for form, spec in DOMAIN["forms"].items() for slot in spec["required_slots"]]
REFUSALS = ["算了不用了，我自己打電話", "取消", "不要了", "我不想留電話", "先不要 我只是想問有什麼補助", "不用了"]


def tracker(slots, text, intent="nlu_fallback", requested=None, events=()):
    return make_tracker(
        intent, (), slots, text=text, confidence=0.5, events=events, sender="conv-9", requested=requested
    )


def make(form, tmp_path):
    cls = VALIDATORS[form]
    return cls(Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})) if form != "eligibility_form" else cls()


def validate(validator, slot, value, t):
    dispatcher = CollectingDispatcher()
    result = asyncio.run(getattr(validator, f"validate_{slot}")(value, dispatcher, t, DOMAIN))
    return result, dispatcher.messages


def test_every_step_of_every_form_is_covered():
    assert len(STEPS) == 15 and {f for f, _ in STEPS} == set(VALIDATORS)


@pytest.mark.parametrize("refusal", REFUSALS)
@pytest.mark.parametrize(("form", "slot"), STEPS)
def test_no_validator_stores_a_refusal_and_the_form_ends(form, slot, refusal, tmp_path):
    validator = make(form, tmp_path)
    result, _ = validate(validator, slot, refusal, tracker({slot: refusal}, refusal, requested=slot))
    stored = [v for v in result.values() if isinstance(v, str) and v.strip() and v in refusal]
    assert stored == [], f"{form}.{slot} stored {stored}"
    assert result.get("form_cancelled") is True and result.get("requested_slot", "unset") is None
    if form != "eligibility_form":
        assert SqlTicketStore(tmp_path / "tickets.db").take_contacts("conv-9") == {}


def test_name_and_phone_in_one_message_fill_both(tmp_path):
    form = ValidateHandoffForm(Settings.from_env({"BOT_VAR_DIR": str(tmp_path)}))
    said = "我姓陳，電話0933-123-456"  # the tracker holds the candidate value while it is validated
    result, messages = validate(
        form, "handoff_name", said, tracker({"handoff_name": said}, said, requested="handoff_name")
    )
    assert result == {"handoff_name": "陳", "handoff_phone": "0933-123-456"} and messages == []
    kept = SqlTicketStore(tmp_path / "tickets.db").take_contacts("conv-9")
    assert kept["handoff_phone"] == "0933-123-456"


def test_a_phone_in_words_is_read_and_a_name_with_it_is_kept(tmp_path):
    form = ValidateHandoffForm(Settings.from_env({"BOT_VAR_DIR": str(tmp_path)}))
    result, _ = validate(
        form,
        "handoff_phone",
        "我的手機是 0933 123 456",
        tracker({"handoff_name": "王小明", "handoff_phone": "我的手機是 0933 123 456"}, "", requested="handoff_phone"),
    )
    assert result == {"handoff_phone": "0933-123-456"}
    result, _ = validate(
        form, "handoff_phone", "我是林小姐 (02)2345-6789分機12", tracker({}, "", requested="handoff_phone")
    )
    assert result == {"handoff_phone": "02-2345-6789#12", "handoff_name": "林小姐"}


def test_a_person_and_a_company_are_told_apart(tmp_path):
    handoff = ValidateHandoffForm(Settings.from_env({"BOT_VAR_DIR": str(tmp_path)}))
    result, _ = validate(
        handoff,
        "handoff_name",
        "陳美玲 美玲小吃店",
        tracker({"handoff_name": "陳美玲 美玲小吃店"}, "", requested="handoff_name"),
    )
    assert result == {"handoff_name": "陳美玲（美玲小吃店）"}
    report = ValidateDisasterReportForm(Settings.from_env({"BOT_VAR_DIR": str(tmp_path)}))
    person, messages = validate(report, "report_company", "我是陳小姐", tracker({}, "", requested="report_company"))
    assert person == {"report_company": None} and messages[0]["response"] == "utter_report_invalid_company"
    company, _ = validate(
        report, "report_company", "大發五金行 電話03-870-1234", tracker({}, "", requested="report_company")
    )
    assert company == {"report_phone": "03-870-1234", "report_company": "大發五金行"}


def test_an_answer_the_nlu_took_for_a_question_is_still_taken(tmp_path):
    form = ValidateHandoffForm(Settings.from_env({"BOT_VAR_DIR": str(tmp_path)}))
    dispatcher = CollectingDispatcher()
    named = tracker({}, "王小明 小明商行", intent="us_tariff_ask", requested="handoff_name")
    assert asyncio.run(form.extract_handoff_name(dispatcher, named, DOMAIN)) == {"handoff_name": "王小明 小明商行"}
    question = tracker({}, "你們是什麼單位", intent="out_of_scope", requested="handoff_name")
    assert asyncio.run(form.extract_handoff_name(dispatcher, question, DOMAIN)) == {}
    phone = tracker({}, "0912345678", intent="loan_ask", requested="handoff_phone")
    assert asyncio.run(form.extract_handoff_phone(dispatcher, phone, DOMAIN)) == {"handoff_phone": "0912345678"}


SLOTS = {"handoff_consent": True, "handoff_name": "王小明", "handoff_phone": "0912-345-678"}
EVENTS = [
    {
        "event": "user",
        "text": "我要找真人",
        "timestamp": 1_764_000_000,
        "parse_data": {"intent": {"name": "handoff_request", "confidence": 0.9}, "entities": []},
        "input_channel": "rest",
    }
]


@pytest.mark.parametrize(
    ("now", "said", "told", "staff_see"),
    [
        # Outside office hours (Tuesday night): the promise follows the preferred time.
        (
            dt.datetime(2026, 12, 1, 23, 0, tzinfo=TAIPEI),
            "明天下午兩點以後",
            "會在12月2日（週三）下午2點後回電",
            "12月2日（週三） 14:00–18:00（來電者：明天下午兩點以後）",
        ),
        (
            dt.datetime(2026, 12, 1, 23, 0, tzinfo=TAIPEI),
            "下午",
            "會在12月2日（週三）下午1點後回電",
            "13:00–18:00（來電者：下午）",
        ),
        # Inside office hours, a later time: not 「這裡回覆」 now but a dated callback.
        (
            dt.datetime(2026, 12, 2, 9, 0, tzinfo=TAIPEI),
            "明天上午",
            "會在12月3日（週四）上午8:30起回電",
            "12月3日（週四） 08:00–12:00（來電者：明天上午）",
        ),
    ],
)
def test_the_promise_and_the_ticket_follow_the_preferred_time(now, said, told, staff_see, tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    dispatcher = CollectingDispatcher()
    t = Tracker(
        "conv-7",
        {**SLOTS, "handoff_time": said},
        {"text": said, "intent": {"name": "nlu_fallback"}},
        EVENTS,
        False,
        None,
        {},
        "action_listen",
    )
    events = asyncio.run(ActionCreateTicket(settings, now=now).run(dispatcher, t, DOMAIN))
    message = dispatcher.messages[0]
    assert message["response"] == "utter_handoff_created_later" and told in message["callback"]
    assert message["handoff"] == {"state": "waiting", "ticket": message["ticket"]}
    assert [b["title"] for b in message["buttons"]] == ["取消轉接"]
    assert [e["event"] for e in events[-2:]] == ["pause", "action"]  # paused, listening (for 「取消轉接」)
    assert SqlTicketStore(settings.tickets_path).get(message["ticket"]).preferred_time == staff_see


def test_inside_office_hours_for_any_time_a_person_joins_here(tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    dispatcher = CollectingDispatcher()
    t = Tracker(
        "conv-8",
        {**SLOTS, "handoff_time": "不限"},
        {"text": "不限", "intent": {"name": "nlu_fallback"}},
        EVENTS,
        False,
        None,
        {},
        "action_listen",
    )
    asyncio.run(
        ActionCreateTicket(settings, now=dt.datetime(2026, 12, 2, 9, 0, tzinfo=TAIPEI)).run(dispatcher, t, DOMAIN)
    )
    assert dispatcher.messages[0]["response"] == "utter_handoff_created_open"


def test_a_cancelled_form_opens_no_ticket(tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    dispatcher = CollectingDispatcher()
    t = Tracker(
        "conv-6",
        {**SLOTS, "form_cancelled": True},
        {"text": "取消", "intent": {"name": "form_cancel"}},
        EVENTS,
        False,
        None,
        {},
        "action_listen",
    )
    events = asyncio.run(ActionCreateTicket(settings).run(dispatcher, t, DOMAIN))
    assert dispatcher.messages[0]["response"] == "utter_form_cancelled"
    assert all(e["event"] != "pause" for e in events)
    assert SqlTicketStore(settings.tickets_path).queue() == []


def test_a_question_the_classifier_missed_is_not_stored_as_a_name(tmp_path):
    settings = Settings.from_env({"BOT_VAR_DIR": str(tmp_path)})
    said = "你們是什麼單位"
    name, messages = validate(
        ValidateHandoffForm(settings),
        "handoff_name",
        said,
        tracker({"handoff_name": said}, said, requested="handoff_name"),
    )
    assert name == {"handoff_name": None} and messages[0]["response"] == "utter_handoff_invalid_name"
    company, _ = validate(
        ValidateDisasterReportForm(settings),
        "report_company",
        said,
        tracker({"report_company": said}, said, requested="report_company"),
    )
    assert company == {"report_company": None}
