"""The one definition of a failed turn (bot/ops/failures.py): each kind counted, each success not.

Conversations are written as the Rasa events the broker stores, then folded by the
real code (derive_turns, the ops database, the list filter and the metrics).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import insert

from bot.ops.events import derive_turns
from bot.ops.failures import Failure
from bot.ops.metrics import report
from bot.ops.review import Filters, Review
from bot.ops.schema import events as events_table
from bot.ops.schema import open_engine
from bot.ops.synthetic import synthetic_metadata, synthetic_sender

T0 = 1_764_000_000.0


def user(text, intent, confidence=0.95, entities=(), metadata=None):
    event = {
        "event": "user",
        "text": text,
        "input_channel": "rest",
        "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": list(entities)},
    }
    if metadata:
        event["metadata"] = metadata
    return event


def bot(text, response=None, buttons=()):
    event = {
        "event": "bot",
        "text": text,
        "metadata": {"utter_action": response} if response else {},
        "data": {"buttons": [{"title": t, "payload": p} for t, p in buttons]},
    }
    return event


def action(name):
    return {"event": "action", "name": name}


MENU = [
    ("30人以下優惠貸款", '/loan_ask{"scheme":"sme_micro_loan_30_under"}'),
    ("青創貸款", '/loan_ask{"scheme":"youth_loan"}'),
]
LOAN_ANSWER = bot("「30人以下中小微企業優惠貸款」的額度：每一申貸事業最高上限3,500萬元。")
CONVERSATIONS = {
    "fallback": [
        user("嗯那個東西", "nlu_fallback", 0.3),
        action("action_clarify_topic"),
        bot(
            "不好意思，我不太確定您的意思。您是想問：",
            "utter_clarify_topic",
            [("貸款", "/loan_ask"), ("美國關稅", "/us_tariff_ask")],
        ),
        user("/loan_ask", "loan_ask", 1.0),
        LOAN_ANSWER,
    ],
    "out_of_scope_after_topic": [
        user("想借週轉金", "loan_ask"),
        LOAN_ANSWER,
        user("我跟我太太開麵包店十年了最近原料漲價", "out_of_scope", 1.0),
        bot("抱歉，這個問題不在我能回答的範圍。", "utter_out_of_scope"),
    ],
    "out_of_scope_low_confidence": [
        user("今天天氣如何呢老闆", "out_of_scope", 0.45),
        bot("抱歉，這個問題不在我能回答的範圍。", "utter_out_of_scope"),
    ],
    "no_data": [
        user("青創貸款要準備什麼文件", "loan_ask", entities=[{"entity": "scheme", "value": "youth_loan"}]),
        bot("目前資料中沒有「青創貸款」的應備文件資訊，建議直接來電確認。"),
    ],
    "menu_not_tapped": [
        user("我想貸款", "loan_ask"),
        bot("請問您想了解哪一項貸款措施？請點選：", None, MENU),
        user("謝謝", "chitchat_thanks"),
        bot("不客氣！", "utter_thanks"),
    ],
    "menu_left": [user("我想貸款", "loan_ask"), bot("請問您想了解哪一項貸款措施？請點選：", None, MENU)],
    "clarify_not_followed": [
        user("請問一下那個", "nlu_fallback", 0.2),
        action("action_clarify_topic"),
        bot(
            "不好意思，我不太確定您的意思。您是想問：",
            "utter_clarify_topic",
            [("貸款", "/loan_ask"), ("美國關稅", "/us_tariff_ask")],
        ),
        user("算了", "dialogue_deny"),
        bot("好的。", "utter_anything_else"),
    ],
    "handoff_after_answer": [
        user("30人以下的貸款額度多少", "loan_ask"),
        LOAN_ANSWER,
        user("我要找真人", "handoff_request"),
        action("handoff_form"),
        {"event": "pause"},
    ],
    "low_rating_after_answer": [
        user("30人以下的貸款額度多少", "loan_ask"),
        LOAN_ANSWER,
        user('/handoff_rate{"rating":"1"}', "handoff_rate", 1.0, [{"entity": "rating", "value": "1"}]),
        bot("謝謝您的評分！", "utter_rating_thanks"),
    ],
}
SUCCESSES = {
    "answered": [
        user("30人以下的貸款額度多少", "loan_ask"),
        LOAN_ANSWER,
        user("謝謝", "chitchat_thanks"),
        bot("不客氣！", "utter_thanks"),
    ],
    "menu_tapped": [
        user("我想貸款", "loan_ask"),
        bot("請問您想了解哪一項貸款措施？請點選：", None, MENU),
        user(MENU[0][1], "loan_ask", 1.0, [{"entity": "scheme", "value": "sme_micro_loan_30_under"}]),
        LOAN_ANSWER,
    ],
    "menu_named": [
        user("我想貸款", "loan_ask"),
        bot("請問您想了解哪一項貸款措施？請點選：", None, MENU),
        user("青創的", "loan_ask", 0.9, [{"entity": "scheme", "value": "youth_loan"}]),
        LOAN_ANSWER,
    ],
    "real_out_of_scope": [
        user("推薦一部電影", "out_of_scope", 0.97),
        bot("抱歉，這個問題不在我能回答的範圍。", "utter_out_of_scope"),
    ],
    "greeting_buttons_then_typed": [
        user("你好", "chitchat_greet"),
        bot("您好！請問想了解哪一項？", "utter_greet", MENU),
        user("30人以下的貸款額度多少", "loan_ask"),
        LOAN_ANSWER,
    ],
    "asked_for_person_first": [user("我要找真人", "handoff_request"), action("handoff_form"), {"event": "pause"}],
    "good_rating": [
        user("30人以下的貸款額度多少", "loan_ask"),
        LOAN_ANSWER,
        user('/handoff_rate{"rating":"5"}', "handoff_rate", 1.0, [{"entity": "rating", "value": "5"}]),
    ],
}
EXPECTED = {
    "fallback": {Failure.FALLBACK},
    "out_of_scope_after_topic": {Failure.OUT_OF_SCOPE},
    "out_of_scope_low_confidence": {Failure.OUT_OF_SCOPE},
    "no_data": {Failure.NO_DATA},
    "menu_not_tapped": {Failure.MENU_NOT_TAPPED},
    "menu_left": {Failure.MENU_NOT_TAPPED},
    "clarify_not_followed": {Failure.FALLBACK, Failure.CLARIFY_NOT_FOLLOWED},
    "handoff_after_answer": {Failure.HANDOFF_AFTER_ANSWER},
    "low_rating_after_answer": {Failure.LOW_RATING_AFTER_ANSWER},
}


def kinds(events):
    found = set()
    for turn in derive_turns("x", list(enumerate(events, start=1))):
        found |= turn.failed_as
    return found


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_each_kind_of_failure_is_counted(name):
    assert kinds(CONVERSATIONS[name]) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(SUCCESSES))
def test_each_kind_of_success_is_not_a_failure(name):
    assert kinds(SUCCESSES[name]) == set()


def test_a_tap_is_shown_as_the_button_title_the_caller_saw():
    turns = derive_turns("x", list(enumerate(SUCCESSES["menu_tapped"], start=1)))
    assert turns[1].text.startswith("/loan_ask") and turns[1].tapped == "30人以下優惠貸款"


def store(tmp_path, conversations):
    engine = open_engine(f"sqlite:///{tmp_path / 'ops.db'}")
    rows, ts = [], T0
    for sender, conversation in conversations.items():
        for event in conversation:
            ts += 1
            rows.append({"sender_id": sender, "data": json.dumps({**event, "timestamp": ts}, ensure_ascii=False)})
    with engine.begin() as db:
        db.execute(insert(events_table), rows)
    return engine


@pytest.fixture
def engine(tmp_path):
    conversations = {
        **{f"caller-{k}": v for k, v in CONVERSATIONS.items()},
        **{f"caller-ok-{k}": v for k, v in SUCCESSES.items()},
    }
    conversations[synthetic_sender("eval", "run1")] = CONVERSATIONS["fallback"]
    conversations["web-abc"] = [
        {**e, "metadata": synthetic_metadata("load")} if e["event"] == "user" else e for e in CONVERSATIONS["no_data"]
    ]
    return store(tmp_path, conversations)


def test_list_filter_and_metrics_use_the_same_failure_definition(engine):
    review = Review(engine)
    failing = {r.sender_id for r in review.search(Filters.parse({"failed": "yes", "per_page": "200"})).rows}
    assert failing == {f"caller-{k}" for k in CONVERSATIONS}
    result = report(engine, synthetic=False)
    total = len(CONVERSATIONS) + len(SUCCESSES)
    assert result.conversations == total and result.failed_conversations == len(CONVERSATIONS)
    contained = [k for k, v in SUCCESSES.items() if k != "asked_for_person_first"]  # that one has a handoff
    assert result.contained == pytest.approx(len(contained) / total)
    assert result.contained_without_ticket > result.contained  # the old figure called failures successes
    by_kind = {row[0]: row[1] for row in result.tables["failures"].rows}
    assert by_kind[Failure.MENU_NOT_TAPPED.label] == 2 and by_kind[Failure.FALLBACK.label] == 2


def test_synthetic_traffic_is_left_out_by_default_and_included_on_request(engine):
    review = Review(engine)
    shown = {r.sender_id for r in review.search(Filters.parse({"per_page": "200"})).rows}
    assert "eval-run1" not in shown and "web-abc" not in shown and "caller-fallback" in shown
    everything = {r.sender_id for r in review.search(Filters.parse({"per_page": "200", "synthetic": "yes"})).rows}
    assert {"eval-run1", "web-abc"} <= everything
    only = {r.sender_id for r in review.search(Filters.parse({"synthetic": "only"})).rows}
    assert only == {"eval-run1", "web-abc"}
    assert report(engine, synthetic=False).conversations + 2 == report(engine, synthetic=None).conversations


def test_topics_are_counted_per_message_so_a_second_topic_is_not_lost(tmp_path):
    two_topics = [
        user("想借週轉金", "loan_ask"),
        LOAN_ANSWER,
        user("美國關稅有什麼補助", "us_tariff_ask"),
        bot("關稅…"),
        user("關稅的出口補助額度呢", "us_tariff_ask"),
        bot("關稅…"),
        user("貸款利率呢", "loan_ask"),
        bot("利率…"),
    ]
    engine = store(tmp_path, {"caller-1": two_topics})
    result = report(engine)
    topics = {row[0]: row[1:] for row in result.tables["topics"].rows}
    assert topics["貸款"] == [2, 1] and topics["美國關稅"] == [2, 1]
    categories = {row[0]: row[1] for row in result.tables["categories"].rows}
    assert categories["貸款"] == 1 and categories["美國關稅"] == 0  # tie: the topic asked last


def test_a_channel_filter_keeps_only_that_channel(tmp_path):
    line = [{**e, "input_channel": "line"} if e["event"] == "user" else e for e in SUCCESSES["answered"]]
    engine = store(tmp_path, {"caller-rest": SUCCESSES["answered"], "caller-line": line})
    assert report(engine, channel="line").conversations == 1 and report(engine).conversations == 2


def test_injection_strings_among_top_questions_are_marked_as_not_questions(tmp_path):
    junk = [
        user("\"' OR 1=1 --", "nlu_fallback", 0.1),
        action("action_clarify_topic"),
        bot("不好意思", "utter_clarify_topic", [("貸款", "/loan_ask"), ("關稅", "/us_tariff_ask")]),
    ]
    engine = store(tmp_path, {"caller-1": junk, "caller-2": CONVERSATIONS["fallback"]})
    rows = {row[0]: row[4] for row in report(engine).tables["unanswered"].rows}
    assert rows["\"' OR 1=1 --"] and rows["嗯那個東西"] == ""


@pytest.mark.parametrize(
    ("sender", "kind"),
    [
        ("seed-a1b2c3-007", "seed"),
        ("eval-3f2a", "eval"),
        ("qa-loan-001-9c1d2e3f", "qa"),
        ("load-1a2b", "load"),
        ("bench-77", "bench"),
        ("health-x", "health"),
        ("browser-1234", None),
        ("seedling", None),
        ("", None),
        ("5f2c9a0e4b1d4e6f8a7b3c2d1e0f9a8b", None),  # a web chat session id: a real caller
    ],
)
def test_synthetic_senders_are_recognised_by_their_prefix_only(sender, kind):
    from bot.ops.synthetic import sender_kind

    assert sender_kind(sender) == kind
