"""The web chat's message shape and the history built from tracker events."""

from __future__ import annotations

import pytest

from bot.channels.web_format import bot_message, history, valid_session_id

BUTTONS = [
    {"title": "30人以下中小微企業優惠貸款", "payload": '/loan_ask{"scheme":"sme_micro_loan_30_under"}'},
    {"title": "不用了", "payload": "不用了"},
]


def events():
    return [
        {"event": "action", "name": "action_session_start", "timestamp": 1.0},
        {"event": "user", "text": "公司想借週轉金", "timestamp": 2.0, "parse_data": {"intent": {"name": "loan_ask"}}},
        {"event": "bot", "text": "請點選：", "timestamp": 3.0, "data": {"buttons": BUTTONS}},
        {"event": "user", "text": BUTTONS[0]["payload"], "timestamp": 4.0},
        {
            "event": "bot",
            "text": "來源：…",
            "timestamp": 5.0,
            "data": {"custom": {"type": "scheme_card", "title": "30人以下中小微企業優惠貸款"}},
        },
        {"event": "user", "text": '/loan_ask{"scheme":"unknown"}', "timestamp": 6.0},
        {"event": "slot", "name": "scheme", "value": "x", "timestamp": 6.5},
        {"event": "bot", "text": "您好，我是客服小林。", "timestamp": 7.0, "metadata": {"staff": "lin"}},
        {"event": "bot", "text": None, "timestamp": 8.0, "data": {}},
    ]


def test_history_shows_titles_for_clicked_quick_replies_and_never_payloads():
    lines = history(events())
    assert [(line["who"], line["text"]) for line in lines] == [
        ("user", "公司想借週轉金"),
        ("bot", "請點選："),
        ("user", "30人以下中小微企業優惠貸款"),
        ("bot", "來源：…"),
        ("bot", "您好，我是客服小林。"),
    ]


def test_history_keeps_quick_replies_cards_staff_marks_and_times():
    lines = history(events())
    assert [r["title"] for r in lines[1]["quick_replies"]] == ["30人以下中小微企業優惠貸款", "不用了"]
    assert lines[3]["custom"]["type"] == "scheme_card"
    assert lines[4]["staff"] is True and "staff" not in lines[1]
    assert [line["timestamp"] for line in lines] == [2.0, 3.0, 4.0, 5.0, 7.0]


def test_history_keeps_only_the_latest_messages():
    many = [{"event": "user", "text": f"問題{n}", "timestamp": float(n)} for n in range(300)]
    lines = history(many, limit=200)
    assert len(lines) == 200 and lines[-1]["text"] == "問題299"


def test_bot_message_takes_rasa_quick_replies_or_buttons():
    sent = bot_message({"text": "好嗎？", "quick_replies": [{"title": "好", "payload": "/affirm"}], "timestamp": 9})
    assert sent == {
        "who": "bot",
        "text": "好嗎？",
        "timestamp": 9.0,
        "quick_replies": [{"content_type": "text", "title": "好", "payload": "/affirm"}],
    }


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("0123456789abcdef0123456789abcdef", True),
        ("0123456789ABCDEF0123456789ABCDEF", False),
        ("0123456789abcdef", False),
        (None, False),
        (12, False),
        ("0123456789abcdef0123456789abcdef\n", False),
    ],
)
def test_session_ids_are_32_lower_case_hex_digits(value, valid):
    assert valid_session_id(value) is valid
