"""Actions with Tracker fixtures: events and dispatcher messages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from actions.fallback import ActionClarifyTopic
from actions.knowledge import ActionAnswerAttribute, ActionAnswerContact, ActionDeny, ActionServiceHours
from bot.clock import FixedClock
from bot.kb.build import build_kb
from bot.kb.query import KnowledgeBase
from bot.kb.records import load_knowledge
from tests.conftest import make_tracker
from tests.conftest import run_action as run

FIXTURE_KNOWLEDGE = Path(__file__).resolve().parent / "fixtures" / "knowledge"
KNOWLEDGE = Path(__file__).resolve().parents[1] / "knowledge"


def fallback_tracker(ranking=None, events=None):
    return make_tracker("nlu_fallback", ranking=ranking, events=events or [], text="嗯嗯那個")


def fallback_event():
    return {"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}}


def test_first_miss_asks_about_the_two_likeliest_topics():
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.45},
        {"name": "policy_ask", "confidence": 0.3},
        {"name": "digital_rd_ask", "confidence": 0.2},
    ]
    messages, events = run(ActionClarifyTopic(), fallback_tracker(ranking, [fallback_event()]))
    assert events == []
    assert messages[0]["response"] == "utter_clarify_topic"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/policy_ask", "/digital_rd_ask"]


def test_second_miss_in_a_row_offers_a_person():
    messages, _ = run(ActionClarifyTopic(), fallback_tracker(events=[fallback_event(), fallback_event()]))
    assert messages[0]["response"] == "utter_clarify_offer_person"
    assert messages[0]["buttons"] == [{"title": "請真人協助", "payload": "/handoff_request"}]


# --- knowledge answers --------------------------------------------------------------
@pytest.fixture(scope="module")
def kb_2026(tmp_path_factory):
    path = build_kb(load_knowledge(FIXTURE_KNOWLEDGE), tmp_path_factory.mktemp("akb") / "kb.db")
    return KnowledgeBase(path, FixedClock(dt.date(2026, 11, 23)))


def make_kb_tracker(intent, entities=(), slots=None):
    return make_tracker(intent, entities, slots, sender="u2")


def texts_of(messages):
    return "\n".join(m.get("text") or "" for m in messages)


def test_named_scheme_and_attribute_are_answered_and_remembered(kb_2026):
    tracker = make_kb_tracker("loan_ask", [("scheme", "micro_loan"), ("attribute", "interest_rate")])
    messages, events = run(ActionAnswerAttribute(kb_2026), tracker)
    assert "最高2.22%" in texts_of(messages)
    assert {"event": "slot", "timestamp": None, "name": "scheme", "value": "micro_loan"} in events


def test_follow_up_uses_the_scheme_slot(kb_2026):
    tracker = make_kb_tracker("dialogue_followup", [("attribute", "max_amount")], {"scheme": "micro_loan"})
    messages, _ = run(ActionAnswerAttribute(kb_2026), tracker)
    assert "3,500萬元" in texts_of(messages)


def test_a_new_scheme_switches_the_topic(kb_2026):
    tracker = make_kb_tracker("digital_rd_ask", [("scheme", "old_subsidy")], {"scheme": "micro_loan"})
    messages, events = run(ActionAnswerAttribute(kb_2026), tracker)
    assert "受理到112年12月20日" in texts_of(messages)
    assert events[0]["value"] == "old_subsidy"


def test_category_question_offers_open_schemes_as_buttons(kb_2026):
    messages, events = run(
        ActionAnswerAttribute(kb_2026), make_kb_tracker("loan_ask", [("attribute", "interest_rate")])
    )
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        '/loan_ask{"scheme":"micro_loan","attribute":"interest_rate"}'
    ]
    assert events[0]["value"] is None


def test_follow_up_with_nothing_to_refer_to_asks_which_scheme(kb_2026):
    messages, _ = run(ActionAnswerAttribute(kb_2026), make_kb_tracker("dialogue_followup", [("attribute", "deadline")]))
    assert messages[0]["response"] == "utter_followup_which_scheme"


def test_a_broken_knowledge_base_gives_the_technical_problem_reply(tmp_path):
    broken = KnowledgeBase(tmp_path / "missing.db", FixedClock(dt.date(2026, 11, 23)))
    messages, events = run(ActionAnswerAttribute(broken), make_kb_tracker("loan_ask", [("scheme", "micro_loan")]))
    assert messages[0]["response"] == "utter_technical_problem" and events == []


# --- contact questions and short follow-ups, on the real records -------------------
@pytest.fixture(scope="module")
def real_kb(tmp_path_factory):
    path = build_kb(load_knowledge(KNOWLEDGE), tmp_path_factory.mktemp("rkb") / "kb.db")
    return KnowledgeBase(path, FixedClock(dt.date(2026, 12, 1)))


def said(intent, text, slots=None, confidence=1.0, entities=()):
    return make_tracker(intent, entities, slots, text=text, confidence=confidence, sender="u3")


def test_a_phone_question_naming_an_organisation_gets_its_lines(real_kb):
    messages, _ = run(
        ActionAnswerContact(real_kb), said("hotline_ask", "請問貿協的電話是幾號", entities=[("attribute", "contact")])
    )
    assert "02-2725-5200" in texts_of(messages) and "0800-280-280" not in texts_of(messages)


def test_a_phone_question_after_a_scheme_answer_gets_that_schemes_line(real_kb):
    messages, events = run(ActionAnswerContact(real_kb), said("hotline_ask", "那要打幾號", {"scheme": "sbir"}))
    assert "0800-888-968" in texts_of(messages)
    assert any(e.get("name") == "scheme" and e.get("value") == "sbir" for e in events)


def test_asking_for_our_own_number_gets_the_hotline(real_kb):
    messages, _ = run(ActionAnswerContact(real_kb), said("hotline_ask", "你們客服電話多少", {"scheme": "sbir"}))
    assert messages[0]["response"] == "utter_hotline"


def test_the_line_of_an_ended_scheme_is_given_after_the_hotline(real_kb):
    # 商業服務業節能設備補助 ended 114/05/31; its own line (02-8978-5999) is still in service for
    # applications already sent, and the hotline knows what is open instead.
    messages, _ = run(
        ActionAnswerAttribute(real_kb),
        said(
            "policy_ask",
            "那要打哪支電話",
            {"scheme": "commercial_energy_saving_subsidy"},
            entities=[("attribute", "contact")],
        ),
    )
    text = texts_of(messages)
    assert "已經截止" in text and "0800-280-280" in text and "02-8978-5999" in text
    assert text.index("0800-280-280") < text.index("02-8978-5999")


def test_a_scheme_and_its_own_line_named_together_are_one_answer_not_a_choice(real_kb):
    messages, _ = run(
        ActionAnswerAttribute(real_kb),
        said("policy_ask", "商業服務業節能補助的專線是多少", entities=[("attribute", "contact")]),
    )
    assert not messages[0].get("buttons") and "02-8978-5999" in texts_of(messages)


def test_two_organisations_named_get_their_lines_even_if_a_programme_lists_one(real_kb):
    messages, _ = run(
        ActionAnswerContact(real_kb),
        said("hotline_ask", "聯輔基金會還有信保基金的電話", entities=[("attribute", "contact")]),
    )
    assert not messages[0].get("buttons")
    assert "0800-219-666" in texts_of(messages) and "0800-089-921" in texts_of(messages)


def test_how_many_points_after_a_points_grant_is_its_figure_not_our_hours(real_kb):
    tracker = said("chitchat_hours", "最高給幾點", {"scheme": "cloud_market_digital_points"}, confidence=0.7)
    messages, _ = run(ActionServiceHours(real_kb), tracker)
    assert "10萬" in texts_of(messages) and not any(m.get("response") == "utter_service_hours" for m in messages)


@pytest.mark.parametrize(
    ("text", "slots"),
    [
        ("你們幾點下班", {"scheme": "cloud_market_digital_points"}),
        ("最多幾點可以打", {"scheme": "sbir"}),
        ("幾點開始", {}),
    ],
)
def test_a_time_of_day_question_gets_the_service_hours(real_kb, text, slots):
    messages, _ = run(ActionServiceHours(real_kb), said("chitchat_hours", text, slots))
    assert [m.get("response") for m in messages] == ["utter_service_hours"]


def test_a_denial_that_corrects_the_question_is_answered_on_the_conversations_scheme(real_kb):
    tracker = said("dialogue_deny", "不是 我是問那個補助的專線", {"scheme": "commercial_energy_saving_subsidy"})
    messages, _ = run(ActionDeny(real_kb), tracker)
    assert "02-8978-5999" in texts_of(messages)
    assert not any(m.get("response") == "utter_anything_else" for m in messages)


@pytest.mark.parametrize("text", ["不用了 謝謝", "沒有了 貸款的部分都清楚了", "不是", "不對啦"])
def test_a_plain_denial_asks_what_else(real_kb, text):
    tracker = said("dialogue_deny", text, {"scheme": "commercial_energy_saving_subsidy"})
    messages, _ = run(ActionDeny(real_kb), tracker)
    assert [m.get("response") for m in messages] == ["utter_anything_else"]


def test_a_short_follow_up_the_model_calls_out_of_scope_is_answered_on_the_conversations_scheme(real_kb):
    tracker = said("out_of_scope", "那適用到何時", {"scheme": "tax_salary_raise_deduction"}, confidence=0.97)
    messages, _ = run(ActionAnswerAttribute(real_kb), tracker)
    assert "122年12月31日" in texts_of(messages)


def test_the_same_words_with_no_scheme_in_the_conversation_stay_out_of_scope(real_kb):
    messages, _ = run(ActionAnswerAttribute(real_kb), said("out_of_scope", "那適用到何時", confidence=0.97))
    assert messages[0]["response"].startswith("utter_out_of_scope")
