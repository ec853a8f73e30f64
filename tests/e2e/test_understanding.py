"""Callers' real phrasings over REST (issue 13): reasons for out of scope, the service itself,
a long story ending in a question, a scheme's name that is not a head count."""

from __future__ import annotations

import pytest

from bench.ids import sender_id
from tests.e2e.client import say, texts

HOTLINE = "0800-280-280"


def sender() -> str:
    return sender_id("test")


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("我想辦個人信貸買車 哪家銀行利率低", "個人"),
        ("開公司跟開行號 報稅的時候哪個比較省", "稅務申報"),
        ("幫員工加勞保要去哪裡辦", "勞保"),
        ("社區巷口的路燈壞掉好幾天了要找誰", "地方生活"),
    ],
)
def test_out_of_scope_says_why_and_gives_the_hotline(stack, question, reason):
    reply = texts(say(stack.rasa_url, sender(), question))
    assert reply.startswith("這是") and reason in reply and HOTLINE in reply, reply


def test_opening_hours_are_answered_without_inventing_them(stack):
    reply = texts(say(stack.rasa_url, sender(), "請問你們客服到晚上幾點"))
    assert "沒有寫明" in reply and HOTLINE in reply, reply


def test_privacy_question_says_who_sees_the_phone_number(stack):
    # The issue's own wording. 「留了手機號碼以後會被拿去給誰用」 still reads as out of scope (0.59).
    reply = texts(say(stack.rasa_url, sender(), "你們會把我的電話給誰"))
    assert "客服人員" in reply and "遮蔽" in reply, reply


def test_a_long_story_ending_in_a_loan_question_is_not_out_of_scope(stack):
    story = (
        "我開花店開了十二年，店裡連我一共四個人，前陣子冷藏室的壓縮機壞了，修了兩次還是不行，"
        "情人節跟母親節又快到了，花材都要先進貨，手頭現金真的不太夠，銀行的人叫我自己上網查，"
        "我看了半天也看不懂，想請問如果要換一套新的冷藏設備，政府的優惠貸款可以借多少、要分幾年還？"
    )
    reply = texts(say(stack.rasa_url, sender(), story))
    assert "不在我能回答的範圍" not in reply and not reply.startswith("這是"), reply


def test_a_scheme_name_is_not_read_as_the_callers_head_count(parser):
    parse = parser.parse("30人以下的那個貸款利率多少")
    assert not [e for e in parse.entities if e.entity == "employees"]
    parse = parser.parse("我們店十來個人 想問30人以下的那個貸款")
    assert [e.value for e in parse.entities if e.entity == "employees"] == [10]


@pytest.mark.parametrize("question", ["要去哪裡申請", "利率多少", "要準備什麼文件"])
def test_a_context_free_question_about_some_scheme_asks_which_one(stack, question):
    """「要去哪裡申請」 as a first message is a hotline question whose scheme is missing: the bot asks
    which scheme is meant instead of calling it out of scope."""
    reply = texts(say(stack.rasa_url, sender(), question))
    assert ("哪一項措施" in reply or "您是指" in reply) and "不在我能回答的範圍" not in reply, reply


def test_a_personal_question_of_the_same_shape_stays_out_of_scope(stack):
    reply = texts(say(stack.rasa_url, sender(), "信用卡利率多少"))
    assert "哪一項措施" not in reply, reply
