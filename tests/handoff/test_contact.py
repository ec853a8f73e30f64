"""Reading contact details and callback times as callers write them (bot/handoff/contact.py, time_window.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.clock import TAIPEI
from bot.handoff.contact import is_refusal, read_contact
from bot.handoff.office_hours import OfficeHours
from bot.handoff.time_window import parse_window, promise
from bot.phones import find_phone

REFUSALS = [
    "取消",
    "算了",
    "不用了",
    "不要了",
    "先不要",
    "我不想留電話",
    "我不想留",
    "算了不用了，我自己打電話",
    "先不要 我只是想問有什麼補助",
    "不要了，我自己打過去",
    "不方便留",
    "我不要留資料",
    "暫時不需要",
    "不填了",
]
ANSWERS = [
    "王小明",
    "陳美玲 美玲小吃店",
    "不二家食品",
    "不老林",
    "不知道",
    "沒有",
    "0912-345-678",
    "下午",
    "不限",
    "花蓮縣光復鄉",
    "大概80萬",
    "12人",
    "公司",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_recognised(text):
    assert is_refusal(text)


@pytest.mark.parametrize("text", ANSWERS)
def test_answers_are_not_refusals(text):
    assert not is_refusal(text)


@pytest.mark.parametrize(
    ("text", "name", "company", "phone"),
    [
        ("我姓陳，電話0933-123-456", "陳", "", "0933-123-456"),
        ("0933-123-456 我姓陳", "陳", "", "0933-123-456"),
        ("我是王小明 手機0912-345-678", "王小明", "", "0912-345-678"),
        ("我的手機是 0933 123 456", "", "", "0933-123-456"),
        ("陳美玲 美玲小吃店", "陳美玲", "美玲小吃店", ""),
        ("大發五金行", "", "大發五金行", ""),
        ("電話(02)2345-6789分機301，林小姐", "林小姐", "", "02-2345-6789#301"),
        ("敝姓林，市話 04-2222-3333", "林", "", "04-2222-3333"),
    ],
)
def test_name_company_and_phone_in_one_message(text, name, company, phone):
    contact = read_contact(text)
    assert (contact.name, contact.company, contact.phone) == (name, company, phone)


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("我的手機是 0933 123 456", "0933-123-456"),
        ("手機：0933-123-456", "0933-123-456"),
        ("+886 933 123 456", "0933-123-456"),
        ("+886-933-123-456", "0933-123-456"),
        ("０９３３－１２３－４５６", "0933-123-456"),
        ("(02) 2345-6789 分機 12", "02-2345-6789#12"),
        ("公司電話 02-2345-6789#301", "02-2345-6789#301"),
        ("打 0933.123.456 找我", "0933-123-456"),
        ("電話是 0933 123", None),
        ("我不想留電話", None),
    ],
)
def test_phone_numbers_inside_sentences(text, phone):
    assert find_phone(text)[0] == phone


HOURS = OfficeHours.parse("mon-fri 08:30-17:30")
WED_00_25 = dt.datetime(2026, 12, 2, 0, 25, tzinfo=TAIPEI)  # the UX test's night: Wednesday 00:25 Taipei
WED_10_00 = dt.datetime(2026, 12, 2, 10, 0, tzinfo=TAIPEI)
FRI_20_00 = dt.datetime(2026, 12, 4, 20, 0, tzinfo=TAIPEI)


@pytest.mark.parametrize(
    ("text", "now", "label", "told"),
    [
        ("明天下午兩點以後", WED_00_25, "12月3日（週四） 14:00–18:00", "會在12月3日（週四）下午2點後回電"),
        ("下午", WED_00_25, "13:00–18:00", "會在12月2日（週三）下午1點後回電"),
        ("下午", FRI_20_00, "13:00–18:00", "會在12月7日（週一）下午1點後回電"),
        ("週三上午", FRI_20_00, "12月9日（週三） 08:00–12:00", "會在12月9日（週三）上午8:30起回電"),
        ("平日", FRI_20_00, "平日", "會在12月7日（週一）上午8:30起回電"),
        ("兩點以後", WED_10_00, "14:00以後", "會在12月2日（週三）下午2點後回電"),
        ("下週一", WED_00_25, "12月7日（週一）", "會在12月7日（週一）上午8:30起回電"),
        ("晚上", WED_00_25, "18:00–22:00", "不在客服服務時間"),
        (
            "明天",
            FRI_20_00,
            "12月5日（週六）",
            "不在客服服務時間（週一至週五 8:30–17:30），客服人員會在12月7日（週一）上午8:30起回電",
        ),
    ],
)
def test_preferred_time_is_a_concrete_window_and_the_promise_respects_it(text, now, label, told):
    window = parse_window(text, now)
    assert window.understood
    assert window.label().startswith(label) and f"來電者：{text}" in window.label()
    assert told in promise(window, HOURS, now).text


def test_within_office_hours_and_inside_the_window_a_person_comes_now():
    told = promise(parse_window("不限", WED_10_00), HOURS, WED_10_00)
    assert told.now and "盡快" in told.text


def test_an_unreadable_time_is_kept_as_text_and_the_promise_stays_honest():
    window = parse_window("看情況再說", WED_00_25)
    assert not window.understood and "看情況再說" in window.label()
    told = promise(window, HOURS, WED_00_25).text
    assert "12月2日（週三）上午8:30起" in told and "「看情況再說」" in told and "回電給您" not in told
