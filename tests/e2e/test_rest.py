"""The bot over its REST channel, with the real Rasa and action servers."""

from __future__ import annotations

import json

import pytest

from bench.ids import sender_id
from tests.e2e.client import button_payloads, post, say, texts

HOTLINE = "0800-280-280"


def sender() -> str:
    return sender_id("test")


def test_greeting_offers_the_six_topics_as_buttons(stack):
    replies = say(stack.rasa_url, sender(), "哈囉 你好")
    assert "您好" in texts(replies)
    assert button_payloads(replies) == [
        "/loan_ask",
        "/us_tariff_ask",
        "/policy_ask",
        "/debt_negotiation_ask",
        "/digital_rd_ask",
        "/disaster_ask",
    ]


def test_what_can_you_do_lists_topics_and_hotline(stack):
    replies = say(stack.rasa_url, sender(), "你可以幫我做什麼")
    assert HOTLINE in texts(replies)
    assert "/loan_ask" in button_payloads(replies)


@pytest.mark.parametrize(
    ("question", "category", "scheme"),
    [
        ("我們店只有八個員工 想借週轉金要找哪個方案", "loan", "sme_micro_loan_30_under"),
        ("美國加關稅之後訂單少一半 政府有什麼幫忙", "us_tariff", "tariff_sme_loan_topup"),
        ("颱風把工廠淹了 有沒有低利的貸款", "disaster", "disaster_sme_financing_rules"),
        # Asking to postpone: the banks' principal extension (寬緩) or the negotiation scheme both answer it.
        (
            "銀行一直催我還錢 可以幫忙談延後嗎",
            "debt_negotiation",
            "bank_debt_negotiation_assistance|bank_association_relief_2026",
        ),
        # A grant asked: not the 30人以下 loan (its record names ERP/POS), a grant of the topic.
        ("想導入ERP跟POS 有什麼補助", "digital_rd", "sbir"),
    ],
)
def test_topic_question_gets_a_current_scheme_of_its_category(stack, question, category, scheme):
    """Answered directly with the scheme when the resolver is clearly ahead, else a short menu that holds it."""
    from bot.kb.records import load_knowledge
    from tests.conftest import ROOT

    schemes = load_knowledge(ROOT / "knowledge").schemes
    accepted = scheme.split("|")
    replies = say(stack.rasa_url, sender(), question)
    payloads = button_payloads(replies)
    if payloads:
        assert "請點選" in texts(replies) or "您是指" in texts(replies)
        assert 1 <= len(payloads) <= 5
        assert any(f'"scheme":"{s}"' in p for p in payloads for s in accepted), payloads
    else:
        assert any(schemes[s].name in texts(replies) for s in accepted), texts(replies)


def test_simplified_chinese_is_understood(stack):
    reply = texts(say(stack.rasa_url, sender(), "30人以下优惠贷款 最多可以贷多少"))
    assert "3,500萬元" in reply


def test_out_of_scope_gets_what_we_cover_and_the_hotline(stack):
    reply = texts(say(stack.rasa_url, sender(), "明天台北會下雨嗎"))
    assert "不在我能回答的範圍" in reply and HOTLINE in reply


def test_two_misunderstandings_in_a_row_offer_a_person(stack):
    user = sender()
    first = say(stack.rasa_url, user, "/nlu_fallback")
    assert "您是想問" in texts(first)
    assert len(button_payloads(first)) == 2
    second = say(stack.rasa_url, user, "/nlu_fallback")
    assert HOTLINE in texts(second)
    assert button_payloads(second) == ["/handoff_request"]


def test_thanks_and_goodbye_are_answered(stack):
    user = sender()
    assert "不客氣" in texts(say(stack.rasa_url, user, "感謝你喔"))
    assert HOTLINE in texts(say(stack.rasa_url, user, "掰掰"))


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("", "還沒輸入內容"),
        ("   \n\t ", "還沒輸入內容"),
        ("\u0000\u0007\u001b", "還沒輸入內容"),
        ("😀😀🙏", "只能讀懂文字"),
        ("貸款" * 2600, "超過5,000字"),
    ],
)
def test_bad_text_gets_a_polite_reply(stack, message, expected):
    replies = say(stack.rasa_url, sender(), message)
    assert expected in texts(replies)


def test_control_characters_inside_a_question_are_ignored(stack):
    reply = texts(say(stack.rasa_url, sender(), "青創\u0000貸款\u200b的利率多少"))
    assert "0.575%" in reply


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (json.dumps({"message": "你好"}).encode(), "bad_sender"),
        (json.dumps({"sender": "a", "message": 5}).encode(), "bad_message"),
        (json.dumps({"sender": "a", "message": "你好", "metadata": [1]}).encode(), "bad_metadata"),
        ("\udcff".encode("utf-8", "surrogatepass"), "invalid_json"),
    ],
)
def test_malformed_requests_get_400_with_a_reason(stack, body, code):
    status, reply = post(f"{stack.rasa_url}/webhooks/rest/webhook", body)
    assert status == 400
    assert reply["error"]["code"] == code
    assert reply["error"]["message"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        # 300 KB of e-mail-like metadata stalled Rasa for 3.2 s and bloated both databases (security review H1);
        # bodies over 64 KB stop at Sanic (SANIC_REQUEST_MAX_SIZE), smaller ones at the metadata cap
        (
            json.dumps({"sender": "a", "message": "你好", "metadata": {"note": "a@b.cc " * 4_000}}).encode(),
            413,
            "metadata_too_large",
        ),
        (
            json.dumps({"sender": "a", "message": "你好", "metadata": {"a": {"b": {"c": {"d": {"e": 1}}}}}}).encode(),
            400,
            "metadata_too_deep",
        ),
        # 100,000-deep JSON was a RecursionError and a 500 (security review L5)
        (b'{"sender": "a", "message": "x", "metadata": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", 400, "json_too_deep"),
    ],
)
def test_oversized_or_deep_metadata_is_refused_with_a_reason(stack, body, status, code):
    got, reply = post(f"{stack.rasa_url}/webhooks/rest/webhook", body)
    assert got == status
    assert reply["error"]["code"] == code
    assert reply["error"]["message"]


def test_a_body_over_64_kb_is_refused_before_it_is_read(stack):
    """Sanic read bodies up to 100 MB (security review L10)."""
    status, _ = post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json.dumps({"sender": "a", "message": "你好", "metadata": {"note": "a@b.cc " * 43_885}}).encode(),
    )
    assert status == 413


def test_small_metadata_is_accepted(stack):
    status, reply = post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json.dumps({"sender": sender(), "message": "青創貸款利率", "metadata": {"page": "/loans"}}).encode(),
    )
    assert status == 200 and "0.575%" in texts(reply)


def test_http_api_requires_the_token(stack):
    import urllib.error
    import urllib.request

    url = f"{stack.rasa_url}/model/parse"
    body = json.dumps({"text": "青創貸款"}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=30)
    assert refused.value.code == 401
    status, parsed = post(f"{url}?token={stack.token}", body)
    assert status == 200 and parsed["intent"]["name"] == "loan_ask"


def test_a_turn_the_tracker_store_could_not_save_is_not_acknowledged(stack):
    """A reply is a promise that the turn is in the conversation: when the tracker store cannot
    commit (here another writer holds the database past its busy timeout), the caller gets a 503
    asking to try again, not the answer of a turn nothing holds; the retry is answered once."""
    import sqlite3
    import threading
    import time

    user, body = sender(), {"message": "青創貸款利率多少", "message_id": "m-lock-1"}
    body["sender"] = user
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    locked, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        db = sqlite3.connect(stack.var_dir / "tracker.db", timeout=30, isolation_level=None)
        db.execute("begin immediate")
        locked.set()
        release.wait(30)
        db.execute("rollback")
        db.close()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        status, replies = post(url, json.dumps(body, ensure_ascii=False).encode())
        assert time.monotonic() - started > 4  # it waited for the lock (busy_timeout) before giving up
    finally:
        release.set()
        holder.join()
    assert status == 503 and "稍後再試" in texts(replies) and "0.575%" not in texts(replies), stack.log("rasa")
    status, replies = post(url, json.dumps(body, ensure_ascii=False).encode())  # the client retries
    assert status == 200 and "0.575%" in texts(replies), replies
    status, again = post(url, json.dumps(body, ensure_ascii=False).encode())  # a repeat is not run again
    assert status == 200 and again == replies
    db = sqlite3.connect(stack.var_dir / "tracker.db")
    try:
        users = db.execute("select count(*) from events where sender_id = ? and type_name = 'user'", (user,)).fetchone()
    finally:
        db.close()
    assert users == (1,)
