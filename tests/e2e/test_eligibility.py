"""The eligibility form over REST: five questions at most, then schemes with reasons."""

from __future__ import annotations

from bench.ids import sender_id
from tests.e2e.client import button_payloads, say, texts


def sender() -> str:
    return sender_id("elig")


def test_answers_lead_to_fitting_schemes_with_reasons(stack):
    user = sender()
    assert "幾位員工" in texts(say(stack.rasa_url, user, "可以幫我看看我們公司能申請哪些方案嗎"))
    assert "哪一種登記" in texts(say(stack.rasa_url, user, "十二個"))
    assert "哪個行業" in texts(say(stack.rasa_url, user, "行號"))
    assert "主要想做什麼" in texts(say(stack.rasa_url, user, "開餐廳的"))
    assert "災害" in texts(say(stack.rasa_url, user, "要週轉"))
    result = say(stack.rasa_url, user, "沒有")
    reply = texts(result)
    assert "可能適合" in reply
    assert "員工30人以下（您12人）" in reply
    assert any("sme_micro_loan_30_under" in p for p in button_payloads(result))
    assert all(len(r.get("text", "")) <= 300 for r in result)


def test_employees_told_earlier_are_not_asked_again(stack):
    user = sender()
    reply = texts(say(stack.rasa_url, user, "我們公司8個人 有哪些方案是我能申請的"))
    assert "哪一種登記" in reply and "幾位員工" not in reply


def test_dont_know_unreadable_answers_and_corrections(stack):
    user = sender()
    say(stack.rasa_url, user, "幫我找適合的補助")
    say(stack.rasa_url, user, "不知道")
    assert "請選擇登記方式" in texts(say(stack.rasa_url, user, "嗯"))
    assert "先略過" in texts(say(stack.rasa_url, user, "嗯嗯"))
    say(stack.rasa_url, user, "工廠")
    say(stack.rasa_url, user, "不對 我們其實有40個員工 想買機器")
    result = texts(say(stack.rasa_url, user, "沒有"))
    assert "30人以下中小微企業優惠貸款" not in result
