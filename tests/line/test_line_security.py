"""LINE deliveries the bot must not trust (security review, LINE findings, L8 and M6), against the real stack.

Postbacks the bot did not make, replayed old deliveries, events without a source, floods
(refused politely and counted in ops), and ``unsend``, which must take the user's text out
of the tracker, the ops database and the transcripts of tickets.
"""

from __future__ import annotations

import sqlite3
import time
import uuid

from bot.channels.line_events import sign_postback, verified_postback
from bot.channels.line_unsend import UNSENT
from bot.handoff.tickets_sql import SqlTicketStore
from tests.line.fake_line import new_id
from tests.line.test_line_webhook import all_text, answered, hand_off, turn, user_texts
from tests.line.webhook import deliver, event, postback, text
from tests.security.test_rate_limits import metrics_row


def test_a_postback_the_bot_did_not_make_is_ignored(line_stack):
    """Crafted postback data went to the NLU as if the user had tapped one of our buttons."""
    fake, user = line_stack.fake, new_id()
    forged = [
        postback(fake, user, "/handoff_request"),
        postback(fake, user, "/loan_ask|0123456789abcdef"),
        postback(fake, user, sign_postback("another-channel-secret", "/loan_ask")),
    ]
    assert deliver(line_stack.webhook, line_stack.secret, *forged)[0] == 200
    after = text(fake, user, "你好")
    assert deliver(line_stack.webhook, line_stack.secret, after)[0] == 200
    calls = answered(fake, user, after)
    assert [c.body.get("replyToken") for c in calls] == [after["replyToken"]]  # only the text was answered
    assert user_texts(line_stack, user) == ["你好"]


def test_the_bots_own_buttons_carry_its_tag_and_work(line_stack):
    fake, user = line_stack.fake, new_id()
    greeting = event(fake, "follow", user)
    deliver(line_stack.webhook, line_stack.secret, greeting)
    [call] = answered(fake, user, greeting)
    actions = [i["action"] for m in call.messages for i in (m.get("quickReply") or {}).get("items", [])]
    postbacks = [a for a in actions if a["type"] == "postback"]
    assert postbacks and all(verified_postback(line_stack.secret, a["data"]) for a in postbacks)
    tap = postback(fake, user, postbacks[0]["data"])
    deliver(line_stack.webhook, line_stack.secret, tap)
    answered(fake, user, tap)
    assert user_texts(line_stack, user)[-1] == verified_postback(line_stack.secret, postbacks[0]["data"])


def test_a_replayed_old_delivery_is_not_answered(line_stack):
    """A signed body captured and sent again hours later (after 10,000 other ids or a restart) was handled again."""
    fake, user = line_stack.fake, new_id()
    old = text(fake, user, "這是兩小時前的訊息")
    old["timestamp"] = int((time.time() - 2 * 3600) * 1000)
    future = text(fake, user, "這是來自未來的訊息")
    future["timestamp"] = int((time.time() + 3600) * 1000)
    assert deliver(line_stack.webhook, line_stack.secret, old, future)[0] == 200
    now = text(fake, user, "你好")
    deliver(line_stack.webhook, line_stack.secret, now)
    assert [c.body.get("replyToken") for c in answered(fake, user, now)] == [now["replyToken"]]
    assert user_texts(line_stack, user) == ["你好"]


def test_an_event_without_a_source_is_accepted_quietly(line_stack):
    """`source` is optional in LINE's spec; such events were logged as unreadable."""
    fake = line_stack.fake
    sourceless = event(fake, "unsend", new_id(), reply=False, unsend={"messageId": "325708"})
    del sourceless["source"]
    status, body = deliver(line_stack.webhook, line_stack.secret, sourceless)
    assert status == 200 and body == {"status": "ok"}
    assert "not one we can read" not in line_stack.stack.log("rasa")


def test_unsend_removes_the_text_from_the_tracker_and_the_ops_database(line_stack):
    fake, user = line_stack.fake, new_id()
    secret_words = f"我家的事{uuid.uuid4().hex[:8]}想問青創貸款"
    said = text(fake, user, secret_words)
    deliver(line_stack.webhook, line_stack.secret, said)
    answered(fake, user, said)
    assert secret_words in user_texts(line_stack, user)
    unsend = event(fake, "unsend", user, reply=False, unsend={"messageId": said["message"]["id"]})
    deliver(line_stack.webhook, line_stack.secret, unsend)
    later = text(fake, user, "謝謝")
    deliver(line_stack.webhook, line_stack.secret, later)
    answered(fake, user, later)  # handled in order: the unsend is done
    texts = user_texts(line_stack, user)
    assert secret_words not in texts and "（使用者已收回這則訊息）" in texts and texts[-1] == "謝謝"
    for name in ("tracker.db", "ops.db"):
        with sqlite3.connect(line_stack.stack.var_dir / name) as db:
            assert secret_words not in "\n".join(db.iterdump()), name


def test_unsend_removes_the_text_from_a_tickets_transcript(line_stack):
    """The ticket keeps the transcript it opened with: the unsent text stayed there for staff to read."""
    fake, user = line_stack.fake, new_id()
    secret_words = f"我家的事{uuid.uuid4().hex[:8]}想問青創貸款"
    said = text(fake, user, secret_words)
    turn(line_stack, user, said)
    number = hand_off(line_stack, fake, user)
    tickets = SqlTicketStore(line_stack.stack.var_dir / "tickets.db")
    assert [line["text"] for line in tickets.get(number).transcript if line["who"] == "user"][0] == secret_words

    unsend = event(fake, "unsend", user, reply=False, unsend={"messageId": said["message"]["id"]})
    deliver(line_stack.webhook, line_stack.secret, unsend)
    later = text(fake, user, "請問還要等多久")
    deliver(line_stack.webhook, line_stack.secret, later)
    answered(fake, user, later)  # handled in order: the unsend is done
    ticket = tickets.get(number)
    lines = [line for line in ticket.transcript if line["who"] == "user"]
    assert lines[0]["text"] == UNSENT and lines[0]["entities"] == [] and len(lines) >= 5  # the other lines stay
    assert "王小明 小明商行" in [line["text"] for line in lines]
    assert ticket.contact_name == "王小明（小明商行）" and ticket.contact_phone == "0912-345-678"
    assert "unsent" in [e["kind"] for e in tickets.events(number)]
    with sqlite3.connect(line_stack.stack.var_dir / "tickets.db") as db:
        assert secret_words not in "\n".join(db.iterdump())


def test_a_flood_in_one_chat_is_answered_politely_and_counted_in_ops(line_stack):
    """LINE's refusals were counted only on the channel's health route, which /ops cannot read. Postbacks
    the bot did not make are refused or ignored without the NLU, so the flood costs Rasa nothing."""
    fake, user = line_stack.fake, new_id()
    started = time.monotonic()
    for _ in range(4):  # the stack allows 5 a second with a burst of 40 (tests/conftest.py)
        batch = [postback(fake, user, "/loan_ask") for _ in range(15)]
        assert deliver(line_stack.webhook, line_stack.secret, *batch)[0] == 200
    refused_at_least = 60 - 40 - int(5 * (time.monotonic() - started)) - 1
    assert refused_at_least > 0
    assert fake.wait_for(lambda: "稍等幾秒" in all_text(fake.delivered(user)))
    row = metrics_row(line_stack.stack, "LINE", lambda r: r[1] >= refused_at_least)
    assert row[2] == 0  # LINE's platform is the only peer: no limit per address


def test_every_event_type_of_the_spec_is_read_and_only_the_right_ones_answered(line_stack):
    """Test events carry what LINE's spec requires (follow.isUnblocked, quoteToken, …); every type is
    accepted, none is logged as unreadable, and the bot speaks only where it should."""
    from tests.line.webhook import EVENT_REQUIRED, MESSAGE_REQUIRED, media, spec_problems

    fake, user = line_stack.fake, new_id()
    built = [
        event(
            fake,
            kind,
            user,
            reply=kind
            in ("follow", "join", "memberJoined", "videoPlayComplete", "beacon", "accountLink", "membership"),
            **({"unsend": {"messageId": "325708"}} if kind == "unsend" else {}),
            **({"postback": {"data": sign_postback(line_stack.secret, "/loan_ask")}} if kind == "postback" else {}),
        )
        for kind in EVENT_REQUIRED
        if kind != "message"
    ]
    built += [media(fake, user, kind) for kind in MESSAGE_REQUIRED if kind != "text"] + [text(fake, user, "你好")]
    assert {b["type"] for b in built} == set(EVENT_REQUIRED)
    assert {b["message"]["type"] for b in built if b["type"] == "message"} == set(MESSAGE_REQUIRED)
    assert [(b["type"], spec_problems(b)) for b in built if spec_problems(b)] == []
    assert deliver(line_stack.webhook, line_stack.secret, *built)[0] == 200
    answered(fake, user, built[-1])
    assert "not one we can read" not in line_stack.stack.log("rasa")
    answered_tokens = {c.body.get("replyToken") for c in fake.delivered(user)}
    follow = next(b for b in built if b["type"] == "follow")
    assert follow["replyToken"] in answered_tokens  # the greeting
    silent = [b for b in built if b["type"] in ("beacon", "videoPlayComplete", "accountLink", "membership")]
    assert not any(b.get("replyToken") in answered_tokens for b in silent)
