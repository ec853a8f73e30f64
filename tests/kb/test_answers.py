"""Answer composition: the source's wording, ended schemes, unknowns, sizes."""

from __future__ import annotations


import pytest

from bot.kb.answers import BUBBLE_MAX, Facts, attribute_answer, button_title
from bot.kb.query import Status
from tests.kb.conftest import kb_on


def facts(kb, scheme_id):
    scheme = kb.scheme(scheme_id)
    status = kb.status(scheme)
    return Facts(scheme, status, tuple(kb.contacts(scheme)), kb.alternative(scheme) if status is Status.ENDED else None,
                 kb.clock.today())


def test_attribute_answer_uses_the_records_wording_then_source_and_phone(fixture_db):
    bubbles = attribute_answer(facts(kb_on(fixture_db, "2026-11-23"), "micro_loan"), "max_amount")
    assert "每一申貸事業最高上限3,500萬元" in bubbles[0]
    assert "2.22" not in bubbles[0]  # only the attribute asked
    assert bubbles[1].startswith("來源：經濟部「中小微企業多元振興發展計畫」進度報告（資料日期114年12月23日）")
    assert "0800-280-280" in bubbles[1]


def test_ended_scheme_is_answered_as_ended_with_date_and_alternative(fixture_db):
    bubbles = attribute_answer(facts(kb_on(fixture_db, "2026-11-23"), "old_subsidy"), "max_amount")
    assert "已經截止，受理到112年12月20日（2023/12/20）為止" in bubbles[0]
    assert "中小微企業多元發展專案貸款" in bubbles[0]
    assert "300萬元" not in bubbles[0]


def test_before_its_end_the_same_scheme_answers_the_figure(fixture_db):
    bubbles = attribute_answer(facts(kb_on(fixture_db, "2023-12-01"), "old_subsidy"), "max_amount")
    assert "每案上限300萬元" in bubbles[0]


def test_a_missing_fact_is_said_to_be_unknown_with_the_phone(fixture_db):
    bubbles = attribute_answer(facts(kb_on(fixture_db, "2026-11-23"), "micro_loan"), "documents")
    assert "目前資料沒有" in bubbles[0] and "應備文件" in bubbles[0]
    assert "0800-280-280" in bubbles[1]


def test_superseded_values_are_never_stated(real_db):
    bubbles = attribute_answer(facts(kb_on(real_db, "2026-11-23"), "sbir"), "max_amount")
    assert "150萬元" in bubbles[0] and "100萬" not in bubbles[0]


def test_unofficial_facts_are_marked(real_db):
    bubbles = attribute_answer(facts(kb_on(real_db, "2026-11-23"), "youth_startup_loan"), "interest_rate")
    assert "0.575%" in bubbles[0]
    assert "非官方" in bubbles[1]


@pytest.mark.parametrize("attribute", [None, "max_amount", "interest_rate", "deadline", "eligibility", "documents",
                                       "how_to_apply", "contact", "guarantee_ratio"])
def test_every_bubble_for_every_record_fits_line(real_db, attribute):
    kb = kb_on(real_db, "2026-11-23")
    for scheme in kb.all():
        for bubble in attribute_answer(facts(kb, scheme.id), attribute):
            assert 0 < len(bubble) <= BUBBLE_MAX, (scheme.id, attribute)


def test_button_titles_fit_line_quick_replies(real_db):
    for scheme in kb_on(real_db, "2026-11-23").all():
        assert 0 < len(button_title(scheme)) <= 20


def test_a_scheme_said_to_have_ended_without_a_date_is_answered_as_ended(real_db):
    kb = kb_on(real_db, "2026-11-23")
    gaemi = kb.scheme("typhoon_gaemi_2024_relief")
    assert gaemi.end is None and kb.status(gaemi) is Status.ENDED
    bubbles = attribute_answer(facts(kb, "typhoon_gaemi_2024_relief"), "interest_rate")
    assert "已經結束" in bubbles[0] and "2.22" not in bubbles[0]
