"""The LINE channel end to end: signed deliveries to the real Rasa server, answers at a fake LINE."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

from bot import messages
from bot.channels.line_events import sign_postback, verified_postback
from bot.handoff.tickets_sql import SqlTicketStore
from tests.line.fake_line import LOADING, PUSH, REPLY, FakeLine, new_id
from tests.line.webhook import body_of, deliver, event, media, post, postback, text


def answers(fake: FakeLine, chat: str, count: int = 1) -> list:
    """The first ``count`` delivered calls to ``chat``, waiting for them to arrive."""
    assert fake.wait_for(lambda: len(fake.delivered(chat)) >= count), f"no answer to {chat}: {fake.delivered(chat)}"
    return fake.delivered(chat)


def answered(fake: FakeLine, chat: str, last: dict) -> list:
    """Every call delivered to ``chat`` once the reply to the event ``last`` has arrived.

    Events of one chat are handled in order, so anything an earlier event caused is in.
    """
    token = last["replyToken"]
    assert fake.wait_for(lambda: any(c.body.get("replyToken") == token for c in fake.delivered(chat))), (
        f"no reply to the last event: {fake.delivered(chat)}"
    )
    return fake.delivered(chat)


def all_text(calls) -> str:
    return "\n".join(m.get("text") or m.get("altText", "") for c in calls for m in c.messages)


def quick_labels(call) -> list[str]:
    return [item["action"]["label"] for m in call.messages for item in (m.get("quickReply") or {}).get("items", [])]


def tracker(line_stack, chat: str) -> dict:
    with urllib.request.urlopen(
        f"{line_stack.stack.rasa_url}/conversations/{chat}/tracker?token={line_stack.stack.token}", timeout=30
    ) as answer:
        return json.loads(answer.read())


def user_texts(line_stack, chat: str) -> list[str]:
    return [e.get("text") for e in tracker(line_stack, chat)["events"] if e["event"] == "user"]


def no_refusals(fake: FakeLine, chat: str) -> None:
    assert [c.body for c in fake.refused if fake.chat_of(c) == chat] == []


def test_text_message_gets_one_reply_with_quick_replies(line_stack):
    fake, user = line_stack.fake, new_id()
    status, body = deliver(line_stack.webhook, line_stack.secret, text(fake, user, "你好"))
    assert status == 200, body
    [call] = answers(fake, user)
    assert call.path == REPLY and call.headers["authorization"] == f"Bearer {line_stack.access_token}"
    assert "智能客服" in all_text([call])
    assert quick_labels(call)[:2] == ["貸款", "美國關稅"]
    assert [c.path for c in fake.calls if c.body and c.body.get("chatId") == user] == [LOADING]
    assert tracker(line_stack, user)["latest_input_channel"] == "line"
    no_refusals(fake, user)


def test_follow_is_welcomed_with_topic_quick_replies_and_unfollow_gets_nothing(line_stack):
    fake, user = line_stack.fake, new_id()
    assert deliver(line_stack.webhook, line_stack.secret, event(fake, "follow", user))[0] == 200
    [call] = answers(fake, user)
    assert call.path == REPLY and "請問想了解哪一項" in all_text([call])
    assert len(quick_labels(call)) == 6
    assert deliver(line_stack.webhook, line_stack.secret, event(fake, "unfollow", user, reply=False))[0] == 200
    thanks = text(fake, user, "謝謝")
    assert deliver(line_stack.webhook, line_stack.secret, thanks)[0] == 200
    assert len(answered(fake, user, thanks)) == 2  # the text after the unfollow is answered, the unfollow not


def test_postback_answers_a_topic_button_with_a_scheme_card(line_stack):
    fake, user = line_stack.fake, new_id()
    topic = sign_postback(line_stack.secret, "/loan_ask")  # as the greeting's topic button carries it
    assert deliver(line_stack.webhook, line_stack.secret, postback(fake, user, topic))[0] == 200
    [call] = answers(fake, user)
    flex = [m for m in call.messages if m["type"] == "flex"]
    assert flex and 0 < len(flex[0]["altText"]) <= 400 and "貸款" in flex[0]["altText"]
    buttons = flex[0]["contents"]["footer"]["contents"]
    assert buttons and all(b["action"]["type"] == "postback" and '"scheme"' in b["action"]["data"] for b in buttons)
    # Tapping a card button sends its data back as a postback: the bot answers that scheme.
    assert deliver(line_stack.webhook, line_stack.secret, postback(fake, user, buttons[0]["action"]["data"]))[0] == 200
    second = answers(fake, user, 2)[1]
    card = second.messages[0]
    assert card["type"] == "flex" and card["contents"]["header"]["contents"][0]["text"]  # the scheme's name
    assert "來源" in card["contents"]["footer"]["contents"][0]["text"]
    assert card["contents"]["footer"]["contents"][-1]["action"]["uri"].startswith("tel:")
    assert user_texts(line_stack, user) == [
        "/loan_ask",
        verified_postback(line_stack.secret, buttons[0]["action"]["data"]),
    ]
    no_refusals(fake, user)


@pytest.mark.parametrize("kind", ["sticker", "image", "audio", "video", "location", "file"])
def test_non_text_messages_get_a_polite_text_only_answer_without_reaching_the_bot(line_stack, kind):
    fake, user = line_stack.fake, new_id()
    assert deliver(line_stack.webhook, line_stack.secret, media(fake, user, kind))[0] == 200
    [call] = answers(fake, user)
    assert call.path == REPLY and all_text([call]) == messages.LINE_TEXT_ONLY
    assert user_texts(line_stack, user) == []


def test_bad_signatures_and_bodies_are_refused_with_a_reason(line_stack):
    fake, user = line_stack.fake, new_id()
    body = body_of(text(fake, user, "你好"))
    missing = post(line_stack.webhook, body, {})
    wrong = post(line_stack.webhook, body, {"X-Line-Signature": "c2lnbmF0dXJl"})
    from bot.channels.line_events import signature

    broken = b'{"events": [ '
    malformed = post(line_stack.webhook, broken, {"X-Line-Signature": signature(line_stack.secret, broken)})
    not_events = b'{"events": {}}'
    wrong_shape = post(line_stack.webhook, not_events, {"X-Line-Signature": signature(line_stack.secret, not_events)})
    assert (missing[0], wrong[0], malformed[0], wrong_shape[0]) == (401, 403, 400, 400)
    assert missing[1]["error"]["message"] == messages.LINE_MISSING_SIGNATURE
    assert wrong[1]["error"]["code"] == "bad_signature" and malformed[1]["error"]["code"] == "invalid_json"
    # LINE's "Verify" button sends a signed delivery without events: 200.
    empty = body_of()
    assert post(line_stack.webhook, empty, {"X-Line-Signature": signature(line_stack.secret, empty)})[0] == 200
    assert fake.delivered(user) == [] and user_texts(line_stack, user) == []


def test_redelivered_event_is_answered_once(line_stack):
    fake, user = line_stack.fake, new_id()
    first = text(fake, user, "你好")
    again = {**first, "deliveryContext": {"isRedelivery": True}}
    assert deliver(line_stack.webhook, line_stack.secret, first)[0] == 200
    assert deliver(line_stack.webhook, line_stack.secret, again)[0] == 200
    thanks = text(fake, user, "謝謝")
    assert deliver(line_stack.webhook, line_stack.secret, thanks)[0] == 200
    calls = answered(fake, user, thanks)
    assert len(calls) == 2 and user_texts(line_stack, user) == ["你好", "謝謝"]


def test_redelivery_of_an_event_the_conversation_already_holds_is_not_answered_again(line_stack):
    """As after a restart, or when another Rasa server took the first delivery."""
    fake, user = line_stack.fake, new_id()
    assert deliver(line_stack.webhook, line_stack.secret, text(fake, user, "你好"))[0] == 200
    answers(fake, user)
    handled, fresh = text(fake, user, "貸款", redelivery=True), text(fake, user, "謝謝", redelivery=True)
    rasa_api(
        line_stack,
        f"/conversations/{user}/tracker/events",
        [
            {
                "event": "user",
                "text": "貸款",
                "message_id": handled["webhookEventId"],
                "input_channel": "line",
                "parse_data": {"intent": {"name": "loan_ask", "confidence": 1.0}, "entities": []},
            }
        ],
    )
    assert deliver(line_stack.webhook, line_stack.secret, handled, fresh)[0] == 200
    calls = answered(fake, user, fresh)  # a redelivery nobody handled yet is answered
    assert len(calls) == 2 and user_texts(line_stack, user) == ["你好", "貸款", "謝謝"]


def test_expired_reply_token_falls_back_to_push(line_stack):
    fake, user = line_stack.fake, new_id()
    late = text(fake, user, "你好", expired=True, redelivery=True)
    assert deliver(line_stack.webhook, line_stack.secret, late)[0] == 200
    [call] = answers(fake, user)
    assert call.path == PUSH and call.to == user and "智能客服" in all_text([call])
    assert call.headers.get("x-line-retry-key")
    refused = [c for c in fake.calls if c.path == REPLY and c.status == 400 and fake.chat_of(c) == user]
    assert len(refused) == 1  # the reply was tried once, as LINE expects


def test_burst_from_one_user_is_answered_in_order_without_loss_or_duplicates(line_stack):
    fake, user = line_stack.fake, new_id()
    words = ["你好", "貸款", "謝謝", "你是誰", "再見", "你好", "美國關稅", "謝謝"]
    sent = [text(fake, user, w) for w in words]
    # Two deliveries of four events each, as LINE batches them, with a redelivery of the first between.
    assert deliver(line_stack.webhook, line_stack.secret, *sent[:4])[0] == 200
    assert (
        deliver(line_stack.webhook, line_stack.secret, {**sent[0], "deliveryContext": {"isRedelivery": True}})[0] == 200
    )
    assert deliver(line_stack.webhook, line_stack.secret, *sent[4:])[0] == 200
    calls = answered(fake, user, sent[-1])
    assert [c.body.get("replyToken") for c in calls] == [e["replyToken"] for e in sent]
    assert user_texts(line_stack, user) == words
    no_refusals(fake, user)


def test_group_answers_only_mentions_and_uses_the_group_as_the_conversation(line_stack):
    fake, group, member = line_stack.fake, new_id("C"), new_id()
    mention = text(fake, group, "你好", source="group", user=member, mention_self=True)
    assert (
        deliver(
            line_stack.webhook,
            line_stack.secret,
            text(fake, group, "大家午安", source="group", user=member),
            media(fake, group, "sticker", source="group", user=member),
            mention,
        )[0]
        == 200
    )
    [call] = answered(fake, group, mention)
    assert "智能客服" in all_text([call])
    assert user_texts(line_stack, group) == ["你好"]
    assert not [c for c in fake.calls if c.path == LOADING and c.body.get("chatId") == group]


def rasa_api(line_stack, path: str, body) -> None:
    stack = line_stack.stack
    separator = "&" if "?" in path else "?"
    request = urllib.request.Request(
        f"{stack.rasa_url}{path}{separator}token={stack.token}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def test_console_push_reaches_the_line_user_through_execute(line_stack):
    """The web app sends staff replies and notices with /execute?output_channel=latest."""
    fake, user = line_stack.fake, new_id()
    assert deliver(line_stack.webhook, line_stack.secret, text(fake, user, "你好"))[0] == 200
    answers(fake, user)
    rasa_api(line_stack, f"/conversations/{user}/execute?output_channel=latest", {"name": "utter_capabilities"})
    calls = answers(fake, user, 2)
    assert calls[1].path == PUSH and calls[1].to == user and "六類問題" in all_text(calls[1:])
    assert len(quick_labels(calls[1])) == 6
    no_refusals(fake, user)


def turn(line_stack, user: str, sent: dict) -> str:
    """Deliver one event and return the text of the answer to it."""
    assert deliver(line_stack.webhook, line_stack.secret, sent)[0] == 200
    return all_text(answered(line_stack.fake, user, sent)[-1:])


def tap(call, label: str) -> str:
    """The postback data of the quick reply labelled ``label`` in ``call``."""
    items = [i["action"] for m in call.messages for i in (m.get("quickReply") or {}).get("items", [])]
    return next(a["data"] for a in items if a["label"] == label)


def hand_off(line_stack, fake, user: str) -> int:
    """Ask for a person and fill the form with quick replies, as a LINE user would; the ticket's number."""
    assert "轉給真人客服" in turn(line_stack, user, text(fake, user, "我要找真人客服"))
    consent = tap(fake.delivered(user)[-1], "好，請專人聯絡我")
    assert "怎麼稱呼" in turn(line_stack, user, postback(fake, user, consent))
    assert "聯絡電話" in turn(line_stack, user, text(fake, user, "王小明 小明商行"))
    assert "時段" in turn(line_stack, user, text(fake, user, "0912345678"))
    afternoon = tap(fake.delivered(user)[-1], "下午")
    return int(re.search(r"編號(\d+)", turn(line_stack, user, postback(fake, user, afternoon))).group(1))


def test_handoff_over_line_staff_replies_and_the_rating_reach_the_user_by_push(line_stack):
    """The whole handoff with quick replies; then the console's calls: a staff message
    appended with execute_side_effects, and the rating question after resolving."""
    fake, user = line_stack.fake, new_id()
    number = hand_off(line_stack, fake, user)
    tickets = SqlTicketStore(line_stack.stack.var_dir / "tickets.db")
    assert tickets.get(number).channel == "line"

    waiting = text(fake, user, "請問還要等多久")  # paused: kept for the staff, acknowledged in one reply
    assert "已轉給客服人員" in turn(line_stack, user, waiting)
    assert "取消轉接" in quick_labels(fake.delivered(user)[-1])
    events = f"/conversations/{user}/tracker/events"
    rasa_api(
        line_stack,
        events + "?execute_side_effects=true&output_channel=latest",
        [{"event": "bot", "text": "您好，我是客服人員，正在查您的案件。", "metadata": {"staff": "wang"}}],
    )
    rasa_api(line_stack, events, [{"event": "resume"}])
    rasa_api(line_stack, f"/conversations/{user}/execute?output_channel=latest", {"name": "action_ask_rating"})
    rasa_api(line_stack, events, [{"event": "action", "name": "action_listen"}])
    pushes = fake.delivered(user)[-2:]  # Rasa answers those API calls once LINE has taken the pushes
    assert [c.path for c in pushes] == [PUSH, PUSH]
    assert all_text(pushes[:1]) == "您好，我是客服人員，正在查您的案件。"
    assert quick_labels(pushes[1]) == ["5分", "4分", "3分", "2分", "1分"]
    assert "謝謝您的評分" in turn(line_stack, user, postback(fake, user, tap(pushes[1], "5分")))
    assert tickets.get(number).rating == 5
    assert "請問還要等多久" in user_texts(line_stack, user)
    no_refusals(fake, user)


def test_line_errors_are_retried_and_nothing_is_lost(line_stack):
    fake, user = line_stack.fake, new_id()
    fake.fail(REPLY, 500)
    fake.fail(REPLY, 429, retry_after="0")
    assert deliver(line_stack.webhook, line_stack.secret, text(fake, user, "你好"))[0] == 200
    [call] = answers(fake, user)
    assert call.path == REPLY
    tries = [c.status for c in fake.calls if c.path == REPLY and fake.chat_of(c) == user]
    assert tries == [500, 429, 200]


def test_secrets_are_not_logged(line_stack):
    fake, user = line_stack.fake, new_id()
    fake.fail(PUSH, 503)
    assert deliver(line_stack.webhook, line_stack.secret, text(fake, user, "你好", expired=True))[0] == 200
    answers(fake, user)
    logs = (line_stack.stack.logs / "rasa.log").read_text(errors="replace")
    assert "LINE /v2/bot/message/push attempt 1" in logs  # the retry was logged
    assert line_stack.access_token not in logs and line_stack.secret not in logs


def test_joining_a_group_explains_how_to_ask_and_leaving_is_silent(line_stack):
    fake, room = line_stack.fake, new_id("R")
    assert deliver(line_stack.webhook, line_stack.secret, event(fake, "join", room, source="room"))[0] == 200
    [call] = answers(fake, room)
    assert all_text([call]) == messages.LINE_GROUP_HINT
    leave = event(fake, "leave", room, source="room", reply=False)
    hello = text(fake, room, "你好", source="room", mention_self=True)
    assert deliver(line_stack.webhook, line_stack.secret, leave, hello)[0] == 200
    assert len(answered(fake, room, hello)) == 2


def test_bad_text_gets_the_same_polite_answers_as_other_channels(line_stack):
    fake, user = line_stack.fake, new_id()
    too_long, emoji_only = text(fake, user, "貸款" * 3000), text(fake, user, "👍👍")
    assert deliver(line_stack.webhook, line_stack.secret, too_long, emoji_only)[0] == 200
    calls = answered(fake, user, emoji_only)
    assert [all_text([c]) for c in calls] == [messages.too_long(5000), messages.NO_TEXT]
    assert user_texts(line_stack, user) == []
