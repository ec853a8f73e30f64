"""Phones, office hours and urgency: the rules a handoff depends on."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.clock import TAIPEI
from bot.handoff.office_hours import OfficeHours
from bot.handoff.urgency import Priority, priority_for, urgent_reason
from bot.messages import callback_time
from bot.phones import normalise_phone


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("0912345678", "0912-345-678"),
        ("0912-345-678", "0912-345-678"),
        ("+886 912 345 678", "0912-345-678"),
        ("０９１２３４５６７８", "0912-345-678"),
        ("(02)2345-6789", "02-2345-6789"),
        ("02-23456789#12", "02-2345-6789#12"),
        ("04-2222-3333", "04-2222-3333"),
        ("049-2222333", "049-222-2333"),
        ("037-123456", "037-123456"),
        ("02 2345 6789 分機 301", "02-2345-6789#301"),
        ("12345", None),
        ("0912-34", None),
        ("abc0912345678", None),
        ("091234567890", None),
        ("", None),
    ],
)
def test_taiwan_mobile_and_landline_numbers(text, phone):
    assert normalise_phone(text) == phone


HOURS = OfficeHours.parse("mon-fri 08:30-17:30")


@pytest.mark.parametrize(
    ("moment", "is_open", "next_open"),
    [
        (dt.datetime(2026, 11, 23, 10, 0, tzinfo=TAIPEI), True, dt.datetime(2026, 11, 23, 10, 0, tzinfo=TAIPEI)),
        (dt.datetime(2026, 11, 23, 17, 30, tzinfo=TAIPEI), False, dt.datetime(2026, 11, 24, 8, 30, tzinfo=TAIPEI)),
        (dt.datetime(2026, 11, 27, 20, 0, tzinfo=TAIPEI), False, dt.datetime(2026, 11, 30, 8, 30, tzinfo=TAIPEI)),
        (dt.datetime(2026, 11, 24, 7, 0, tzinfo=TAIPEI), False, dt.datetime(2026, 11, 24, 8, 30, tzinfo=TAIPEI)),
        (dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.timezone.utc), True, dt.datetime(2026, 11, 23, 9, 0, tzinfo=TAIPEI)),
    ],
)
def test_office_hours_are_taipei_weekdays(moment, is_open, next_open):
    assert HOURS.is_open(moment) is is_open
    assert HOURS.next_open(moment) == next_open


@pytest.mark.parametrize("spec", ["weekdays", "mon-fri 17:30-08:30", "mon-fri 8:30-17:30", ""])
def test_bad_office_hours_are_refused(spec):
    with pytest.raises(ValueError):
        OfficeHours.parse(spec)


def test_callback_time_reads_naturally():
    assert callback_time(dt.datetime(2026, 11, 24, 8, 30, tzinfo=TAIPEI)) == "11月24日（週二）上午8:30起"


@pytest.mark.parametrize(
    ("text", "intent", "reason"),
    [
        ("工廠淹水了機器都泡水", None, "disaster_damage"),
        ("下個月薪水發不出來了", None, "payroll_at_risk"),
        ("支票快跳票了怎麼辦", None, "debt_default"),
        ("想問青創貸款利率", None, None),
        ("有事要通報", "disaster_report", "disaster_damage"),
    ],
)
def test_urgent_topics(text, intent, reason):
    assert urgent_reason(text, intent) == reason


def test_urgent_tickets_come_first_then_complaints():
    assert priority_for("debt_default") < priority_for(None, complaint=True) < priority_for(None)
    assert priority_for(None) is Priority.NORMAL


def test_ticket_category_and_summary_ignore_answers_to_the_contact_form():
    from bot.handoff.transcript import category, summary, transcript

    def user(text, intent):
        return {
            "event": "user",
            "text": text,
            "timestamp": 0,
            "parse_data": {"intent": {"name": intent, "confidence": 1}},
        }

    events = [
        user("青創貸款我們可以申請嗎", "loan_ask"),
        user("我想找真人", "handoff_request"),
        {"event": "active_loop", "name": "handoff_form"},
        {"event": "bot", "text": "請問怎麼稱呼您？"},
        user("陳美玲 美玲小吃店", "us_tariff_ask"),
        user("我要找人", "handoff_request"),
        {"event": "active_loop", "name": None},
    ]
    lines = transcript(events)
    assert category(lines) == "loan"
    assert summary(lines) == "主題：貸款｜原因：使用者主動要求真人｜問題：青創貸款我們可以申請嗎"
    assert "陳美玲" not in summary(lines)


def test_ticket_summary_states_topic_reason_and_facts_and_records_tapped_schemes():
    from bot.handoff.transcript import schemes, summary, transcript

    tap = '/loan_ask{"scheme":"sme_micro_loan_30_under","attribute":"max_amount"}'
    events = [
        {
            "event": "user",
            "text": "我開麵包店員工8個人想借週轉金",
            "timestamp": 0,
            "parse_data": {
                "intent": {"name": "loan_ask", "confidence": 1},
                "entities": [{"entity": "employees", "value": "8"}, {"entity": "attribute", "value": "max_amount"}],
            },
        },
        {
            "event": "bot",
            "text": "請點選：",
            "timestamp": 1,
            "data": {"buttons": [{"title": "30人以下優惠貸款", "payload": tap}]},
        },
        {
            "event": "user",
            "text": tap,
            "timestamp": 2,
            "parse_data": {
                "intent": {"name": "loan_ask", "confidence": 1},
                "entities": [{"entity": "scheme", "value": "sme_micro_loan_30_under"}],
            },
        },
        {"event": "bot", "text": "客服回覆", "timestamp": 3, "metadata": {"staff": "mei"}},
        {
            "event": "user",
            "text": "你們很爛我要客訴",
            "timestamp": 4,
            "parse_data": {"intent": {"name": "handoff_complaint", "confidence": 1}},
        },
    ]
    lines = transcript(events)
    assert lines[2]["tapped"] == "30人以下優惠貸款" and lines[3] == {**lines[3], "who": "staff", "staff": "mei"}
    assert lines[0]["at"].endswith("+08:00")  # Taipei time
    assert summary(lines).startswith("主題：貸款｜原因：抱怨或不滿｜提供：員工數 8、想知道 額度")
    assert schemes(lines) == ["sme_micro_loan_30_under"]
