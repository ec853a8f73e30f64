"""Rasa messages become LINE messages LINE accepts; deliveries are checked before they are read."""

from __future__ import annotations

import json

import pytest

from bot import messages
from bot.channels.line import LineInput
from bot.channels.line_events import Kind, Rejected, parse_delivery, signature, verify
from bot.channels.line_format import batches, clip, to_line, utf16_len
from tests.line.fake_line import message_problems

TOPICS = [
    {"title": t, "payload": f"/{i}"}
    for i, t in enumerate(["貸款", "美國關稅", "政策資源", "債務協商", "數位轉型與研發", "災害協處"])
]


def test_buttons_on_the_last_message_become_quick_replies():
    [message] = to_line([{"text": "請問想了解哪一項？", "buttons": TOPICS}])
    assert [i["action"]["label"] for i in message["quickReply"]["items"]][:2] == ["貸款", "美國關稅"]
    assert message["quickReply"]["items"][0]["action"] == {
        "type": "postback",
        "label": "貸款",
        "data": "/0",
        "displayText": "貸款",
    }
    assert message_problems([message]) == []


def test_buttons_before_other_messages_become_a_card_so_they_stay_visible():
    out = to_line([{"text": "請選擇", "buttons": TOPICS}, {"text": "或直接打字問我"}])
    assert [m["type"] for m in out] == ["flex", "text"] and "quickReply" not in out[1]
    assert message_problems(out) == []


@pytest.mark.parametrize(
    "buttons",
    [
        [{"title": f"選項{i}", "payload": f"/x{i}"} for i in range(14)],  # more than 13
        [{"title": "一個超過二十個字的很長很長很長很長的按鈕標題", "payload": "/x"}],  # label over 20
        [{"title": "30人以下優惠貸款", "payload": '/loan_ask{"scheme":"loan_small"}'}],  # a scheme choice
    ],
)
def test_buttons_quick_replies_cannot_show_become_a_flex_card_with_alt_text(buttons):
    [message] = to_line([{"text": "以下是目前的貸款相關措施，請點選想了解的項目：", "buttons": buttons}])
    assert message["type"] == "flex" and message["altText"].startswith("以下是目前的貸款相關措施")
    assert len(message["contents"]["footer"]["contents"]) == len(buttons)
    assert message_problems([message]) == []


def test_long_texts_are_split_and_alt_text_is_clipped_in_utf16_units():
    out = to_line([{"text": "🍎" * 3000}])  # 6,000 UTF-16 units
    assert len(out) == 2 and all(utf16_len(m["text"]) <= 5000 for m in out)
    assert "".join(m["text"] for m in out) == "🍎" * 3000
    card = to_line([{"text": "說明" * 300, "buttons": TOPICS}, {"text": "x"}])[0]
    assert utf16_len(card["altText"]) <= 400 and card["altText"].endswith("…")
    assert clip("🍎🍎🍎", 4) == "🍎…"


def test_more_than_five_messages_are_merged_then_overflow_goes_to_further_calls():
    seven = [{"type": "text", "text": f"第{i}則"} for i in range(7)]
    [only] = batches(seven)
    assert len(only) == 5 and "第0則\n\n第1則" in only[0]["text"]
    cards = to_line([{"text": f"卡{i}", "buttons": TOPICS} for i in range(7)])
    first, rest = batches(cards)
    assert (len(first), len(rest)) == (5, 2) and "quickReply" in rest[-1]


def test_an_answer_and_its_source_become_one_scheme_card_with_a_dial_button():
    answer = "【青年創業及啟動金貸款】協助青年創業。\n額度：最高200萬元"
    source = "來源：經濟部中小及新創企業署（資料日期114年3月1日）\n洽詢：青創專線 02-27090638 #281"
    [card, follow] = to_line([{"text": answer}, {"text": source}, {"text": "還有什麼想了解的嗎？", "buttons": TOPICS}])
    bubble = card["contents"]
    assert bubble["header"]["contents"][0]["text"] == "青年創業及啟動金貸款"
    assert bubble["body"]["contents"][0]["text"] == "協助青年創業。\n額度：最高200萬元"
    dial = bubble["footer"]["contents"][-1]["action"]
    assert dial == {"type": "uri", "label": "撥打 02-27090638", "uri": "tel:0227090638,281"}
    assert card["altText"].startswith(answer) and "quickReply" in follow
    assert message_problems([card, follow]) == []
    # A source line on its own, or text around it, stays text.
    assert [m["type"] for m in to_line([{"text": source}, {"text": "好"}])] == ["text", "text"]


def test_custom_payloads_pass_line_messages_through_and_skip_unknown_ones():
    sticker = {"type": "sticker", "packageId": "446", "stickerId": "1988"}
    assert to_line([{"custom": {"line": sticker}}, {"custom": {"map": 1}}, {"custom": {"text": "好"}}]) == [
        sticker,
        {"type": "text", "text": "好"},
    ]


SECRET = "channel-secret"


def test_signature_is_checked_before_anything_is_read():
    body = b'{"events": []}'
    verify(SECRET, signature(SECRET, body), body)
    for header, status in [
        (None, 401),
        ("", 401),
        ("bm9wZQ==", 403),
        ("中文", 403),
        (signature(SECRET, body + b" "), 403),
    ]:
        with pytest.raises(Rejected) as caught:
            verify(SECRET, header, body)
        assert caught.value.status == status
    with pytest.raises(Rejected) as caught:
        verify("", signature(SECRET, body), body)
    assert (caught.value.status, caught.value.reason) == (503, messages.LINE_NOT_CONFIGURED)


def test_unconfigured_channel_answers_503_and_offers_no_push_channel():
    body = b'{"events": []}'
    for channel in (LineInput("", ""), LineInput(SECRET, "")):
        with pytest.raises(Rejected) as caught:
            channel.accept(signature(SECRET, body), body)
        assert caught.value.status == 503 and channel.get_output_channel() is None
    assert LineInput(SECRET, "token").get_output_channel() is not None
    assert "token" not in repr(LineInput(SECRET, "token").api)


@pytest.mark.parametrize("raw, status", [(b"", 400), (b"[1]", 400), (b'{"events": 3}', 400), (b"\xff", 400)])
def test_signed_bodies_that_are_not_deliveries_are_400(raw, status):
    with pytest.raises(Rejected) as caught:
        parse_delivery(raw)
    assert caught.value.status == status


def test_events_are_typed_and_unreadable_ones_skipped():
    delivery = {
        "events": [
            {
                "type": "message",
                "webhookEventId": "E1",
                "replyToken": "r1",
                "source": {"type": "user", "userId": "U1"},
                "message": {"type": "text", "text": "你好"},
                "deliveryContext": {"isRedelivery": True},
            },
            {
                "type": "message",
                "webhookEventId": "E2",
                "source": {"type": "room", "roomId": "R1", "userId": "U2"},
                "message": {
                    "type": "text",
                    "text": "@客服 利率？",
                    "mention": {"mentionees": [{"index": 0, "length": 3, "isSelf": True}]},
                },
            },
            {
                "type": "message",
                "webhookEventId": "E2b",
                "source": {"type": "group", "groupId": "C1", "userId": "U2"},
                "message": {
                    "type": "text",
                    "text": "😀@客服 補助？",
                    "mention": {
                        "mentionees": [
                            {"index": 2, "length": 3, "isSelf": True},
                            {"index": 99, "length": 3, "isSelf": False},
                        ]
                    },
                },
            },
            {
                "type": "postback",
                "webhookEventId": "E3",
                "source": {"type": "user", "userId": "U1"},
                "postback": {"data": "/loan_ask"},
            },
            {
                "type": "message",
                "webhookEventId": "E4",
                "source": {"type": "user", "userId": "U1"},
                "message": {"type": "sticker"},
            },
            {
                "type": "message",
                "webhookEventId": "E5",
                "mode": "standby",
                "source": {"type": "user", "userId": "U1"},
                "message": {"type": "text", "text": "另一個模組在回答"},
            },
            {"type": "message", "source": {"type": "group"}},  # no group id: skipped
            "not an event",
        ]
    }
    events = parse_delivery(json.dumps(delivery, ensure_ascii=False).encode())
    assert [(e.kind, e.conversation_id) for e in events] == [
        (Kind.TEXT, "U1"),
        (Kind.TEXT, "R1"),
        (Kind.TEXT, "C1"),
        (Kind.POSTBACK, "U1"),
        (Kind.MEDIA, "U1"),
        (Kind.OTHER, "U1"),
    ]
    assert events[0].redelivery and events[0].reply_token == "r1" and events[0].one_to_one
    assert (events[1].text, events[1].mentions_bot, events[1].one_to_one) == ("利率？", True, False)
    assert (events[2].text, events[2].mentions_bot) == ("😀 補助？", True)  # offsets in UTF-16 units
    assert events[3].text == "/loan_ask" and events[4].media == "sticker"


def test_a_delivery_nested_thousands_deep_is_a_400():
    with pytest.raises(Rejected) as refused:
        parse_delivery(b'{"events": ' + b"[" * 20_000 + b"]" * 20_000 + b"}")
    assert (refused.value.status, refused.value.code) == (400, "json_too_deep")


def test_postback_tags_are_checked():
    from bot.channels.line_events import sign_postback, verified_postback

    signed = sign_postback("secret-a", "/loan_ask")
    assert verified_postback("secret-a", signed) == "/loan_ask"
    assert verified_postback("secret-b", signed) is None
    assert verified_postback("secret-a", "/loan_ask") is None
    assert verified_postback("secret-a", signed[:-1] + ("0" if signed[-1] != "0" else "1")) is None


def test_stale_and_future_timestamps():
    from bot.channels.line_events import MAX_AGE_MS, stale

    now = 1_800_000_000_000
    assert not stale(now, now) and not stale(now - MAX_AGE_MS + 1, now)
    assert stale(now - MAX_AGE_MS - 1, now) and stale(now + 10 * 60 * 1000, now) and stale(0, now)
