"""The knowledge audit of 2026-12-01 (../shared/reviews/knowledge-audit-2026-12-01.md), row by row.

Each test names its row. The clock is at the audit date; dated items are also checked one
day before and one day after their date. Answers go through the real code (bot.kb.answers).
"""

from __future__ import annotations

import pytest

from bot.eligibility import Profile
from bot.kb.answers import Facts, attribute_answer
from bot.kb.query import DEFAULT_CONTACT, Status
from tests.kb.conftest import kb_on

AUDIT = "2026-12-01"
HOTLINE = "0800-280-280"
OLD_HOTLINE = "0800-056-476"
SEED_003 = (
    "commerce_smart_carbon_reduction",
    "covid_recovery_loan",
    "export_low_carbon_packaging",
    "large_leads_small_upgrade",
    "low_carbon_smart_factory_loan",
    "manufacturing_upgrade_10_plus",
    "manufacturing_upgrade_under_10",
    "overseas_customer_digital_capability",
    "registered_factory_basic_transformation",
    "registered_factory_guidance",
    "smart_tech_marketing",
    "talent_recharge_training",
)


def answer(kb, scheme_id: str, attribute: str | None = None) -> str:
    scheme = kb.scheme(scheme_id)
    status = kb.status(scheme)
    facts = Facts(
        scheme,
        status,
        tuple(kb.contacts(scheme)),
        kb.alternative(scheme) if status is Status.ENDED else None,
        kb.clock.today(),
    )
    return "\n".join(attribute_answer(facts, attribute))


@pytest.fixture(scope="module")
def kb(real_db):
    return kb_on(real_db, AUDIT)


def listed(kb) -> set[str]:
    return {
        s.id
        for c in ("loan", "us_tariff", "policy", "debt_negotiation", "digital_rd", "disaster")
        for s in kb.by_category(c)
    }


# --- status is a stated fact ---------------------------------------------------------------


def test_no_record_is_open_by_default_and_every_unknown_one_is_kept_out_of_lists_and_matches(kb):
    unknown = {s.id for s in kb.all() if kb.status(s) is Status.UNKNOWN}
    assert unknown and not unknown & listed(kb)
    for profile in (
        Profile(),
        Profile(employees=5),
        Profile(employees=50),
        Profile(disaster_hit=True),
        Profile(employees=5, industry="製造業"),
    ):
        assert not unknown & {m.scheme.id for m in kb.matching(profile)}


def test_seed_003_whole_112_to_114_package_is_answered_as_ended(kb):
    for scheme_id in SEED_003:
        assert kb.status(kb.scheme(scheme_id)) is Status.ENDED, scheme_id
        assert "目前無法申請" in answer(kb, scheme_id, "max_amount"), scheme_id


@pytest.mark.parametrize(
    "scheme_id", ["commerce_smart_carbon_reduction", "registered_factory_guidance", "talent_recharge_training"]
)
def test_D6_D10_D11_a_112_to_114_measure_ends_with_its_period(real_db, scheme_id):
    assert kb_on(real_db, "2025-12-31").status(kb_on(real_db, "2025-12-31").scheme(scheme_id)) is Status.OPEN
    after = kb_on(real_db, "2026-01-01")
    assert after.status(after.scheme(scheme_id)) is Status.ENDED
    assert "疫後特別預算112年至114年" in answer(after, scheme_id) and "114年12月31日結束" in answer(after, scheme_id)


@pytest.mark.parametrize("scheme_id", ["digital_transformation_30_under", "digital_training_30_manufacturing"])
def test_D1_D2_the_10_percent_bonus_is_not_a_current_ratio_after_115_6_30(real_db, scheme_id):
    assert "10%" in answer(kb_on(real_db, "2026-06-30"), scheme_id, "subsidy_ratio")
    after = answer(kb_on(real_db, "2026-07-01"), scheme_id, "subsidy_ratio")
    assert "10%" not in after and "目前資料沒有" in after
    assert "加碼" not in answer(kb_on(real_db, AUDIT), scheme_id)


@pytest.mark.parametrize("scheme_id", ["digital_transformation_30_under", "digital_training_30_manufacturing"])
def test_D1_D2_completion_deadline_is_its_own_and_the_scheme_is_unknown_not_open(real_db, kb, scheme_id):
    scheme = kb.scheme(scheme_id)
    finish = next(b for b in scheme.benefits if "完訓期限" in b.text)
    assert finish.end.isoformat() == "2026-03-31"
    assert finish.current_on(finish.end) and not finish.current_on(kb_on(real_db, "2026-04-01").clock.today())
    assert kb.status(scheme) is Status.UNKNOWN
    assert scheme_id not in {m.scheme.id for m in kb.matching(Profile(employees=5, industry="製造業"))}
    text = answer(kb, scheme_id)
    assert "目前是否仍受理，請洽經濟部馬上辦服務中心 0800-280-280" in text and "115年1月9日" in text


@pytest.mark.parametrize(
    ("scheme_id", "last_day", "label"),
    [
        ("overseas_market_channel_subsidy", "2025-12-31", "計畫期限114年1月1日至12月31日"),  # D3
        ("overseas_trade_fair_subsidy", "2025-12-31", "114年度"),  # D4
    ],
)
def test_D3_D4_a_114_programme_period_has_passed(real_db, scheme_id, last_day, label):
    on = kb_on(real_db, last_day)
    assert on.status(on.scheme(scheme_id)) is Status.OPEN
    after = kb_on(real_db, "2026-01-01")
    assert after.status(after.scheme(scheme_id)) is Status.ENDED
    text = answer(kb_on(real_db, AUDIT), scheme_id, "max_amount")
    assert label in text and "目前無法申請" in text and "400萬" not in text and "4-6萬" not in text
    assert scheme_id not in {s.id for s in kb_on(real_db, AUDIT).by_category("policy")}


def test_D4_the_newer_115_round_is_named_and_ended_too(kb):
    assert "115年度參展補助已於114年12月31日截止受理" in answer(kb, "overseas_trade_fair_subsidy")
    assert kb.scheme("overseas_trade_fair_subsidy").replaced_by == "trade_fair_subsidy_115"
    assert kb.status(kb.scheme("trade_fair_subsidy_115")) is Status.ENDED


@pytest.mark.parametrize(
    ("row", "scheme_id", "data_date"),
    [
        ("D5", "hualien_earthquake_0403_guarantee", "113年4月9日"),
        ("D7", "startup_co_creation_award", "文件未載日期（約112年）"),
        ("D8", "typhoon_danas_2025_shop_aid", "114年8月18日"),
        ("D9", "matai_an_2025_equipment_restoration", "114年10月20日"),
        ("D12", "ai_talent_and_application", "114年3月"),
        ("D13", "sme_agency_year_end_care_2026", "115年2月13日"),
        ("D14", "public_bank_care_2026", "115年2月12日"),
        ("D15", "cloud_market_digital_points", "114年3月"),
        ("D15", "cloud_market_ai_toolbox", "114年3月"),
        ("D16", "power_utility_equipment_subsidy", "114年3月"),
        ("D17", "local_specialty_channel_coaching", "114年3月"),
        ("D18", "micro_enterprise_digital_coaching", "文件未載日期（約112年）"),
        ("D18", "sbtr_urban_rural_revitalization", "文件未載日期（約112年）"),
    ],
)
def test_D5_to_D18_old_undated_measures_are_unknown_with_their_data_date_and_the_line(kb, row, scheme_id, data_date):
    assert kb.status(kb.scheme(scheme_id)) is Status.UNKNOWN, row
    text = answer(kb, scheme_id)
    assert f"以上為{data_date}的資料，目前是否仍受理，請洽" in text, (row, text)
    assert scheme_id not in listed(kb), row


def test_D5_the_2024_earthquake_is_not_the_first_answer_for_a_disaster_hit_caller(kb):
    matches = [m.scheme.id for m in kb.matching(Profile(disaster_hit=True))]
    assert "hualien_earthquake_0403_guarantee" not in matches
    assert matches[0] == "disaster_sme_financing_rules"


def test_D19_E2_the_hedging_guarantee_ended_per_one_bank_page_and_says_so(real_db):
    on = kb_on(real_db, "2025-12-31")
    assert on.status(on.scheme("tariff_fx_hedging_guarantee")) is Status.OPEN
    after = kb_on(real_db, "2026-01-01")
    assert after.status(after.scheme("tariff_fx_hedging_guarantee")) is Status.ENDED
    text = answer(kb_on(real_db, AUDIT), "tariff_fx_hedging_guarantee")
    assert "依銀行網頁資料" in text and "115年是否延續" in text and "非官方整理" in text


# --- contacts -------------------------------------------------------------------------------


def test_K1_the_default_line_is_the_newest_sources_and_the_old_number_is_never_given(kb):
    assert kb.contact(DEFAULT_CONTACT).phone == HOTLINE
    assert kb.contact(DEFAULT_CONTACT).url == "https://0800280280.sme.gov.tw"
    for scheme in kb.all():
        phones = [c.phone for c in kb.contacts(scheme)]
        assert phones and OLD_HOTLINE not in phones, scheme.id
        assert OLD_HOTLINE not in answer(kb, scheme.id, "contact"), scheme.id


@pytest.mark.parametrize(
    "scheme_id",
    [
        "disaster_sme_financing_rules",
        "bank_debt_negotiation_assistance",
        "sme_financing_assistance",
        "sme_micro_loan_30_under",
        "sme_multi_revitalization_plan",
        "covid_recovery_loan",
        "low_carbon_smart_factory_loan",
        "typhoon_gaemi_2024_relief",
        "typhoon_krathon_2024_relief",
    ],
)
def test_K1b_the_first_line_given_is_0800_280_280(kb, scheme_id):
    assert kb.contacts(kb.scheme(scheme_id))[0].phone == HOTLINE
    assert f"洽詢：經濟部馬上辦服務中心 {HOTLINE}" in answer(kb, scheme_id)


def test_K2_the_landslide_shop_aid_line_is_not_called_an_energy_saving_line(kb):
    line = kb.contacts(kb.scheme("matai_an_2025_shop_aid"))
    assert all("節能" not in c.name for c in line)
    assert kb.contact("matai_an_shop_aid_02_8978_5999").phone == "02-8978-5999"


def test_K3_K4_contact_metadata_follows_its_source(kb):
    assert kb.contact("itri_0800_035399").url is None
    assert "green.pidc.org.tw" in (kb.scheme("sme_carbon_reduction_service").how_to_apply or "")
    assert kb.contact("smeg_0800_089_921").source_date.isoformat() == "2025-03-01"  # 114年3月, the seed's month


def test_K5_the_truncated_extension_is_kept_as_written_and_never_given(kb):
    contact = kb.contact("ida_upgrade_02_2709_0638_211_21")
    assert contact.phone == "(02)2709-0638#211、21" and not contact.current
    assert all(c.id != contact.id for s in kb.all() for c in kb.contacts(s))


@pytest.mark.parametrize(
    "scheme_id",
    [
        "large_leads_small_upgrade",
        "manufacturing_upgrade_10_plus",
        "registered_factory_basic_transformation",
        "smart_tech_marketing",
        "overseas_customer_digital_capability",
        "export_low_carbon_packaging",
    ],
)
def test_K6_an_ended_2023_scheme_gives_the_hotline_not_its_programme_line(kb, scheme_id):
    text = answer(kb, scheme_id)
    assert HOTLINE in text and "2704-4844" not in text and "2725-5200" not in text and "2709-0638" not in text


def test_K6_renamed_agencies_are_named_as_today_with_the_old_name(kb):
    assert kb.contact("ida_lead_small_02_2704_4844_113").name.startswith("經濟部產業發展署（112年時為工業局）")
    assert kb.contact("trade_bureau_02_2725_5200_3916").name.startswith("經濟部貿易署（112年時為貿易局）")
    assert kb.contact("commerce_dept_02_2321_2200_8356").name.startswith("經濟部商業發展署（112年時為商業司）")
    assert kb.scheme("manufacturing_upgrade_10_plus").agency == "經濟部產業發展署（112年時為經濟部工業局）"


@pytest.mark.parametrize(
    ("row", "scheme_id"),
    [
        ("B5", "hualien_earthquake_0403_guarantee"),
        ("B6", "bank_association_relief_2026"),
        ("B7", "typhoon_danas_2025_loan_subsidy"),
        ("B8", "tax_new_hire_deduction"),
        ("B8", "tax_rd_investment_credit"),
        ("B8", "tax_ip_equity_deferral"),
        ("B8", "tax_salary_raise_deduction"),
        ("B9", "digital_training_30_manufacturing"),
        ("B9", "digital_training_30_services"),
    ],
)
def test_B5_to_B9_no_line_is_linked_that_the_source_does_not_name(kb, row, scheme_id):
    assert kb.scheme(scheme_id).contacts == (), row
    assert [c.phone for c in kb.contacts(kb.scheme(scheme_id))] == [HOTLINE], row


def test_G16_hours_only_where_a_source_states_them(kb):
    assert kb.contact(DEFAULT_CONTACT).hours is None
    assert kb.contact("mashangban_0800_056_476").hours == "8:30–18:00（113年資料）"
    assert all(c.hours is None for c in (kb.contact(i) for i in ("smeg_0800_089_921", "idc_0800_000_257")))


# --- dates, successors, eligibility -----------------------------------------------------------


def test_B2_B3_B4_the_data_date_is_as_precise_as_the_source(kb):
    assert "資料日期文件未載日期（約112年）" in answer(kb, "startup_co_creation_award")  # 004 is undated
    assert "114年1月1日" not in answer(kb, "startup_co_creation_award")
    assert "（資料日期112年）" in answer(kb, "covid_recovery_loan")  # 003: 「本(112)年」, no day
    assert "（資料日期114年3月）" in answer(kb, "taiwan_excellence_promotion")  # 001: 「114年3月」
    assert "（資料日期114年12月23日）" in answer(kb, "sme_micro_loan_30_under")


@pytest.mark.parametrize(
    "scheme_id", ["manufacturing_upgrade_under_10", "manufacturing_upgrade_10_plus", "large_leads_small_upgrade"]
)
def test_B12_no_successor_is_named_where_no_source_names_one(kb, scheme_id):
    assert kb.scheme(scheme_id).replaced_by is None
    assert "研發轉型補助" not in answer(kb, scheme_id)


def test_ended_003_loans_point_to_the_open_loan_for_30_or_fewer(real_db):
    text = answer(kb_on(real_db, AUDIT), "covid_recovery_loan", "max_amount")
    assert "受理到114年10月31日（2025/10/31）為止" in text and "目前可改洽「30人以下中小微企業優惠貸款」" in text


def test_A2_under_8_years_is_written_as_strictly_under(kb):
    for scheme_id in ("startup_co_creation_award", "youth_startup_loan"):
        rules = kb.scheme(scheme_id).eligibility
        assert rules.get("registered_under_years") == 8 and "max_years_registered" not in rules


def test_C1_the_deadline_is_117_10_31_and_no_maintainer_note_is_read_out(real_db):
    text = answer(kb_on(real_db, AUDIT), "tariff_sme_loan_topup", "deadline")
    assert "受理至117年10月31日（2028/10/31）" in text and "2027" not in text and "seed" not in text
    last = kb_on(real_db, "2028-10-31")
    assert last.status(last.scheme("tariff_sme_loan_topup")) is Status.OPEN
    after = kb_on(real_db, "2028-11-01")
    assert after.status(after.scheme("tariff_sme_loan_topup")) is Status.ENDED


def test_E1_the_2025_extension_is_history_not_a_current_benefit(real_db):
    scheme = kb_on(real_db, AUDIT).scheme("bank_association_relief_2026")
    old = next(b for b in scheme.benefits if b.text.startswith("2025年底前到期"))
    assert old.superseded and not old.current_on(kb_on(real_db, AUDIT).clock.today())
    assert "2025年底前到期" not in answer(kb_on(real_db, AUDIT), "bank_association_relief_2026")


def test_E1_bank_relief_is_open_to_its_end_and_ended_after(real_db):
    for day, status in (("2026-12-31", Status.OPEN), ("2027-01-01", Status.ENDED)):
        on = kb_on(real_db, day)
        assert on.status(on.scheme("bank_association_relief_2026")) is status


def test_E3_the_footer_names_the_sources_of_the_current_figures_not_the_superseded_rules(kb):
    text = answer(kb, "youth_startup_loan", "max_amount")
    assert "來源：銀行網頁、民間顧問網頁（資料日期" in text and "非官方整理" in text and "舊版" not in text


def test_P1_no_source_id_in_end_notes(kb):
    assert "S23" not in answer(kb, "tariff_rd_transformation_grant", "deadline")
    assert "R07" not in answer(kb, "smart_management_efficiency_2026")


@pytest.mark.parametrize(
    "scheme_id",
    ["tax_new_hire_deduction", "tax_rd_investment_credit", "tax_ip_equity_deferral", "tax_salary_raise_deduction"],
)
def test_P3_a_tax_incentives_period_is_not_called_an_application_deadline(kb, scheme_id):
    text = answer(kb, scheme_id, "deadline")
    assert "適用期間：施行期間113年1月1日至122年12月31日" in text
    assert "申請期限" not in text and "受理至" not in text
    assert kb.status(kb.scheme(scheme_id)) is Status.OPEN


# --- gaps -----------------------------------------------------------------------------------


def test_G1_a_tariff_hit_firm_with_50_employees_is_offered_the_revival_loan(kb):
    matches = {m.scheme.id: m for m in kb.matching(Profile(employees=50))}
    assert "tariff_revival_loan_over_30" in matches and "tariff_sme_loan_topup" not in matches
    assert "tariff_revival_loan_over_30" in {s.id for s in kb.by_category("us_tariff")}
    text = answer(kb, "tariff_revival_loan_over_30")
    assert "員工逾30人且營收減少逾15%" in text and "同等貸款額度與優惠條件" in text and HOTLINE in text
    assert kb.resolve("振興專案貸款") == "tariff_revival_loan_over_30"


def test_G1_a_firm_with_30_employees_gets_the_top_up_not_the_revival_loan(kb):
    matches = {m.scheme.id for m in kb.matching(Profile(employees=30))}
    assert "tariff_sme_loan_topup" in matches and "tariff_revival_loan_over_30" not in matches


@pytest.mark.parametrize(
    ("name", "scheme_id", "words"),
    [
        ("出口供應鏈支持方案", "tariff_supply_chain_support_programme", "https://twustariff.ey.gov.tw/"),  # G2
        ("受影響證明", "tariff_impact_certificate_online", "https://0800280280.sme.gov.tw"),  # G3
        ("匯率避險", "fx_hedging_advice", "遠期外匯避險優惠方案"),  # G4
    ],
)
def test_G2_G3_G4_the_gaps_resolve_by_name_and_answer_with_data_date_and_line(kb, name, scheme_id, words):
    assert kb.resolve(name) == scheme_id
    text = answer(kb, scheme_id, "how_to_apply") + answer(kb, scheme_id)
    assert words in text and "目前是否仍受理，請洽" in text and HOTLINE in text


def test_G12_small_boss_loan_resolves_to_the_disaster_rules(kb):
    assert kb.resolve("企業小頭家貸款") == "disaster_sme_financing_rules"
    assert kb.mentioned("請問小頭家貸款怎麼申請") == ["disaster_sme_financing_rules"]
