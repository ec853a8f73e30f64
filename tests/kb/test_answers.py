"""Answer composition: the source's wording, ended schemes, unknowns, sizes."""

from __future__ import annotations

import pytest

from bot.kb.answers import BUBBLE_MAX, Facts, attribute_answer, button_title
from bot.kb.query import Status
from tests.kb.conftest import kb_on


def facts(kb, scheme_id):
    scheme = kb.scheme(scheme_id)
    status = kb.status(scheme)
    return Facts(
        scheme,
        status,
        tuple(kb.contacts(scheme)),
        kb.alternative(scheme) if status is Status.ENDED else None,
        kb.clock.today(),
    )


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


@pytest.mark.parametrize(
    "attribute",
    [
        None,
        "max_amount",
        "interest_rate",
        "deadline",
        "eligibility",
        "documents",
        "how_to_apply",
        "contact",
        "guarantee_ratio",
    ],
)
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


# --- wording (issue #12) --------------------------------------------------------------
from bot.kb.answers import answer, contacts_answer, for_callers, shared_answer  # noqa: E402


def test_two_attributes_asked_are_both_answered_with_the_figure_first(real_db):
    kb = kb_on(real_db, "2026-12-01")
    body = answer(facts(kb, "sme_micro_loan_30_under"), ("interest_rate", "max_amount"))[0]
    assert "利率：最高2.22%（依中華郵政二年期定儲機動利率加0.5%）" in body
    assert "額度：每一申貸事業最高上限3,500萬元" in body
    assert "2.22 %" not in body


def test_loan_term_is_not_the_application_deadline(real_db):
    body = answer(facts(kb_on(real_db, "2026-12-01"), "sme_micro_loan_30_under"), ("loan_term",), purpose="設備")[0]
    assert body.index("購置機器/設備：最長7年") < body.index("週轉性支出：最長6年")
    assert "117年10月31日" not in body


@pytest.mark.parametrize(
    "scheme_id", ["youth_startup_loan", "tariff_sme_loan_topup", "smart_management_efficiency_2026"]
)
def test_callers_never_see_maintainer_notes_or_source_ids(real_db, scheme_id):
    kb = kb_on(real_db, "2026-12-01")
    for attributes in [(), ("interest_rate",), ("deadline",), ("eligibility",), ("max_amount",)]:
        text = "\n".join(answer(facts(kb, scheme_id), attributes))
        for note in ("seed", "external-facts", "（非官方）", "S23", "為準"):
            assert note not in text, (scheme_id, attributes, note)
        lines = [line for line in text.splitlines() if line]
        assert len(lines) == len(set(lines))


def test_maintainer_notes_are_taken_out_of_record_text():
    assert for_callers("週轉性支出最高600萬元（非官方：顧問網頁所述2025年7月修正）") == "週轉性支出最高600萬元"
    assert for_callers("依 seed 001 申請期限至117年10月31日；external-facts 1c 依新聞") == "申請期限至117年10月31日"


def test_a_follow_up_bubble_leaves_out_the_source_card(real_db):
    bubbles = answer(facts(kb_on(real_db, "2026-12-01"), "sme_micro_loan_30_under"), ("interest_rate",), cite=False)
    assert len(bubbles) == 1 and "來源：" not in bubbles[0]


def test_documents_missing_say_so_and_give_how_to_apply_and_whom_to_call(real_db):
    body = answer(facts(kb_on(real_db, "2026-12-01"), "sme_micro_loan_30_under"), ("documents",))[0]
    assert "目前資料沒有列出" in body and "簡易評分表" in body and "向銀行申貸" in body and "0800-" in body


def test_the_records_statement_sharing_the_questions_words_is_said(real_db):
    body = answer(facts(kb_on(real_db, "2026-12-01"), "sme_micro_loan_30_under"), (), text="借60萬要不要寫很多書表")[0]
    assert "簡易評分表" in body


def test_an_exactly_named_ended_scheme_gives_its_old_figure_only_after_saying_it_ended(real_db):
    bubbles = answer(facts(kb_on(real_db, "2026-12-01"), "covid_recovery_loan"), ("interest_rate",), history=True)
    assert "已經截止" in bubbles[0] and "2.095%" not in bubbles[0]
    assert "目前已無法申請" in bubbles[1] and "2.095%" in bubbles[1]
    assert "2.095%" not in "".join(
        answer(facts(kb_on(real_db, "2026-12-01"), "covid_recovery_loan"), ("interest_rate",))
    )


def test_schemes_that_state_the_same_figure_get_one_answer(real_db):
    kb = kb_on(real_db, "2026-12-01")
    same = shared_answer([facts(kb, "tax_new_hire_deduction"), facts(kb, "tax_salary_raise_deduction")], ("deadline",))
    assert same and "122年12月31日" in same
    assert shared_answer([facts(kb, "sbir"), facts(kb, "youth_startup_loan")], ("max_amount",)) is None


def test_an_organisations_lines_are_listed_with_their_numbers(real_db):
    kb = kb_on(real_db, "2026-12-01")
    text = contacts_answer([kb.contact("smeg_0800_089_921")])
    assert "0800-089-921" in text


@pytest.mark.parametrize(
    "attributes",
    [
        ("interest_rate", "max_amount"),
        ("loan_term", "grace_period", "deadline"),
        ("documents", "how_to_apply", "contact"),
        ("duration", "eligibility"),
    ],
)
def test_several_attributes_fit_a_bubble_and_no_line_repeats_for_every_record(real_db, attributes):
    kb = kb_on(real_db, "2026-12-01")
    for scheme in kb.all():
        for cite in (True, False):
            bubbles = answer(
                facts(kb, scheme.id), attributes, text="想問一下這個最多多少 要準備什麼", cite=cite, history=True
            )
            for bubble in bubbles:
                assert 0 < len(bubble) <= BUBBLE_MAX, (scheme.id, attributes)
            lines = [line for bubble in bubbles for line in bubble.splitlines()]
            assert len(lines) == len(set(lines)), (scheme.id, attributes)


def test_programme_statistics_are_answered_with_the_date_they_count_to(real_db):
    kb = kb_on(real_db, "2026-12-01")
    body = answer(facts(kb, "sme_micro_loan_30_under"), ("statistics",))[0]
    assert "核准件數65,420件" in body and "1,688.9億元" in body and "114年12月23日" in body
    assert "2,787家" in answer(facts(kb, "salary_raise_extra_guarantee"), ("statistics",))[0]
    assert "65,420" not in answer(facts(kb, "sme_micro_loan_30_under"), ("max_amount",))[0]


def test_the_part_of_a_grant_named_gives_its_share_and_its_cap(real_db):
    bubbles = answer(
        facts(kb_on(real_db, "2026-12-01"), "commercial_energy_saving_subsidy"),
        ("max_amount",),
        text="系統節能的專案最高補多少",
        history=True,
    )
    before = bubbles[1]
    assert "1/3" in before and before.index("1/3") < before.index("500萬元")


def test_a_period_is_said_once(real_db):
    body = answer(facts(kb_on(real_db, "2026-12-01"), "sbtr_urban_rural_revitalization"), ("duration",))[0]
    assert body.count("10個月") == 1


def test_sbir_phases_say_how_long_they_run(real_db):
    body = answer(facts(kb_on(real_db, "2026-12-01"), "sbir"), ("duration",), text="phase 1要做多久")[0]
    assert "6個月" in body and "目前資料沒有" not in body


def test_the_rules_sharing_the_questions_words_come_first(real_db):
    kb = kb_on(real_db, "2026-12-01")
    body = answer(facts(kb, "sme_micro_loan_30_under"), ("eligibility",), text="受美國關稅影響營收掉了10%也能借嗎")[0]
    assert body.index("營收減少10%") < body.index("員工30人以下")
    general = answer(facts(kb, "sme_micro_loan_30_under"), ("eligibility",), text="申請資格是什麼")[0]
    assert general.startswith("「30人以下中小微企業優惠貸款」的申請資格：員工30人以下")
