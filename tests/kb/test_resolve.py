"""The one resolver: which scheme, benefit or contact a question is about, and whether to answer or ask.

The questions are paraphrases of the kinds of miss the issue lists (names in other words,
contacts, attributes, two attributes at once, a caller's facts), not sentences of the QA set.
"""

from __future__ import annotations

import pytest

from bot.eligibility import Profile
from bot.kb.resolve import Resolver, attributes_in
from tests.kb.conftest import kb_on


@pytest.fixture(scope="module")
def resolver(real_db):
    return Resolver(kb_on(real_db, "2026-12-01"))


def decide(resolver, text, **context):
    resolution = resolver.resolve(resolver.question(text, **context))
    return resolution, resolution.decision()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("分幾年還完", ("loan_term",)),
        ("可以借幾年", ("loan_term",)),
        ("申請到什麼時候", ("deadline",)),
        ("利息大概多少", ("interest_rate",)),
        ("利率跟額度大概多少", ("interest_rate", "max_amount")),
        ("有利息補貼嗎", ("interest_subsidy",)),
        ("最長可以分幾年還", ("loan_term",)),
        ("要準備什麼文件", ("documents",)),
        ("手續費要錢嗎", ("guarantee_fee",)),
        ("這個方案目前累計核准了多少", ("statistics",)),
        ("寬限期多久", ("grace_period",)),
        ("補貼可以補多久", ("duration",)),
        ("設備貸款可以還幾念", ("loan_term",)),
        ("停了的話有其他方案嗎", ("alternative",)),
        ("負責人年紀有上限嗎", ("eligibility",)),
        ("營收要掉多少才符合", ("eligibility",)),
        ("員工去上課有補助嗎", ()),
        ("怎麼證明有幫員工加薪", ("documents", "eligibility")),
    ],
)
def test_attributes_are_read_from_the_words_callers_use(text, expected):
    assert attributes_in(text) == expected


def test_a_scheme_named_in_other_words_is_answered(resolver):
    _, decision = decide(resolver, "員工不滿30人可以申請的優惠貸款")
    assert [c.id for c in decision.answer] == ["sme_micro_loan_30_under"]


def test_the_callers_employee_count_and_purpose_pick_the_scheme_and_say_why(resolver):
    resolution, decision = decide(resolver, "我們店裡7個員工 想借點週轉金 利率多少", profile=Profile(employees=7))
    assert [c.id for c in decision.answer] == ["sme_micro_loan_30_under"]
    assert any("您7人" in reason for reason in resolution.best.reasons)


def test_an_attribute_favours_records_that_hold_it(resolver):
    resolution, _ = decide(resolver, "貸款保證成數大概幾成")
    assert all("guarantee_ratio" in r for c in resolution.candidates[:3] for r in c.reasons if r.startswith("有"))


def test_an_ended_scheme_named_approximately_is_the_answer(resolver):
    resolution, decision = decide(resolver, "以前那個疫後振興的專案貸款現在還可以辦嗎")
    assert decision.answer and decision.answer[0].id == "covid_recovery_loan"
    assert decision.answer[0].status == "ended"


def test_an_organisation_is_answered_with_all_its_lines(resolver):
    _, decision = decide(resolver, "想打給生產力中心 號碼是多少")
    assert {c.id for c in decision.answer} == {"cpc_02_27090638_281", "cpc_02_27090638_255"}


def test_an_organisations_short_names_come_from_its_contact_records(tmp_path):
    """A short form listed under a contact's ``aliases`` finds it; nothing in code names organisations."""
    import shutil

    from bot.kb.build import build_kb
    from bot.kb.records import load_knowledge
    from tests.kb.conftest import ROOT

    folder = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", folder)
    path = folder / "contacts.yml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("aliases: [外貿協會, 貿協,", "aliases: [外貿協會, 外貿小幫手,"),
        encoding="utf-8",
    )
    resolver = Resolver(kb_on(build_kb(load_knowledge(folder), tmp_path / "kb.db"), "2026-12-01"))
    answered = {c.id for c in resolver.resolve(resolver.question("外貿小幫手的電話")).decision().answer}
    assert answered == {"taitra_02_2725_5200", "taitra_02_27255200_8988"}
    assert not resolver.resolve(resolver.question("貿協的電話")).decision().answer


def test_a_vague_question_asks_among_the_best_few_never_an_ended_one(resolver):
    _, decision = decide(resolver, "想申請貸款 利率多少")
    assert not decision.answer and 2 <= len(decision.ask) <= 3
    assert all(c.status != "ended" for c in decision.ask)


def test_a_bare_follow_up_refers_to_the_conversations_scheme(resolver):
    _, decision = decide(resolver, "那利息呢", current="youth_startup_loan", followup=True)
    assert [c.id for c in decision.answer] == ["youth_startup_loan"]


def test_a_short_message_continues_the_conversations_scheme_even_if_it_is_only_for_some(resolver):
    # No attribute word and no follow-up intent: short, naming nothing else, about the scheme under discussion.
    _, decision = decide(resolver, "課要上幾個鐘頭", current="youth_startup_loan", category="digital_rd")
    assert [c.id for c in decision.answer] == ["youth_startup_loan"]


def test_a_follow_up_naming_a_siblings_word_moves_to_the_sibling(resolver):
    _, decision = decide(resolver, "那加薪的呢", current="tax_new_hire_deduction", followup=True)
    assert [c.id for c in decision.answer] == ["tax_salary_raise_deduction"]


def test_a_grant_question_is_not_answered_with_a_loan(resolver):
    resolution, _ = decide(resolver, "導入POS系統 政府有補助嗎", category="digital_rd")
    assert resolution.best.id != "sme_micro_loan_30_under"
    loan = next((c for c in resolution.candidates if c.id == "sme_micro_loan_30_under"), None)
    assert loan is None or "措施種類不是您問的" in loan.reasons


def test_naming_another_scheme_leaves_the_conversations_one(resolver):
    _, decision = decide(resolver, "那SBIR補助多少", current="youth_startup_loan", followup=True)
    assert [c.id for c in decision.answer] == ["sbir"]


def test_candidates_carry_scores_and_reasons(resolver):
    resolution, _ = decide(resolver, "青創貸款的利率")
    best = resolution.best
    assert best.id == "youth_startup_loan" and best.score > resolution.candidates[1].score
    assert any("名稱相符" in reason for reason in best.reasons)


def test_user_text_never_reaches_fts_syntax(resolver):
    resolution, _ = decide(resolver, '青創貸款" OR 1=1 -- NEAR(利率 *)')
    assert resolution.best.id == "youth_startup_loan"


def test_the_console_reads_the_schemes_off_a_conversation_whose_ticket_names_none(real_db):
    from bot.kb.resolve import schemes_in_conversation

    lines = [
        {"who": "user", "text": "想問青創貸款的利率"},
        {"who": "bot", "text": "「青年創業及啟動金貸款」的利率：…"},
        {"who": "user", "text": '/loan_ask{"scheme":"sbir"}', "entities": [{"entity": "scheme", "value": "sbir"}]},
        {"who": "user", "text": "陳小明", "form_answer": True},
    ]
    assert schemes_in_conversation(kb_on(real_db, "2026-12-01"), lines) == ["youth_startup_loan", "sbir"]


def test_what_there_is_is_not_answered_with_a_programme_of_unknown_status(resolver):
    """「颱風淹水 有什麼補助」 fits a 2025 programme whose status no source states best; answering
    with it would recommend it, so the caller chooses among what may be offered. Asked about
    that kind of measure in so many words, the same kind of record is the answer."""
    _, decision = decide(resolver, "颱風淹水 有什麼補助")
    assert all(c.status != "unknown" for c in (*decision.answer, *decision.ask)), decision
    _, decision = decide(resolver, "颱風受災繳不出稅 可以延期或分期嗎")
    assert [c.id for c in decision.answer] == ["disaster_tax_deferral"]


def test_a_name_inside_a_longer_name_means_the_scheme_that_has_the_benefit_asked(resolver):
    """匯率避險 names an advice service with no amount; asked a guarantee's amount (信保, 額度),
    the guarantee whose name holds it is meant. What a longer name adds must be said, though:
    振興專案貸款 is not 疫後振興專案貸款 for lacking a rate."""
    resolution, decision = decide(resolver, "匯率避險的信保最多可以保多少額度", scheme="fx_hedging_advice")
    assert [c.id for c in decision.answer] == ["tariff_fx_hedging_guarantee"]
    assert any("有所問的項目" in reason for reason in resolution.best.reasons)
    _, decision = decide(resolver, "振興專案貸款的利率是多少")
    assert [c.id for c in decision.answer] == ["tariff_revival_loan_over_30"]


def test_a_rival_the_bot_may_not_offer_does_not_make_it_ask(resolver):
    """A young founder's loan of unknown status close behind would not be among the buttons anyway."""
    resolution, decision = decide(resolver, "貸款在100萬以內的話信保保幾成", category="loan")
    assert resolution.candidates[1].status == "unknown"
    assert [c.id for c in decision.answer] == ["sme_micro_loan_30_under"]


def test_what_there_is_after_a_disaster_is_answered_with_what_is_open(resolver):
    """A past typhoon's relief (ended) or a grant of unknown status may rank first on the words;
    a question of what there is gets the standing rules that are open."""
    profile = Profile(industry="製造業", disaster_hit=True)
    _, decision = decide(resolver, "颱風把工廠吹壞了 有哪些貸款", category="disaster", profile=profile)
    assert [c.id for c in decision.answer] == ["disaster_sme_financing_rules"]


def test_a_programme_is_not_the_loan_asked_for(resolver):
    """The 中小微企業多元振興發展計畫 frames the 30人以下 loan; asked for a loan, the loan is meant."""
    resolution, decision = decide(resolver, "經濟部那種給小企業的優惠貸款還能申請嗎", category="disaster")
    assert [c.id for c in decision.answer] == ["sme_micro_loan_30_under"]
    plan = next(c for c in resolution.candidates if c.id == "sme_multi_revitalization_plan")
    assert "措施種類不是您問的" in plan.reasons


def test_a_benefit_named_in_its_own_words_finds_its_scheme(resolver):
    resolution, decision = decide(resolver, "堰塞湖的受災事業利息補貼每家多少", category="disaster")
    assert [c.id for c in decision.answer] == ["matai_an_2025_recovery_loan"]
    assert any(reason.startswith("措施內容片段相符") for reason in resolution.best.reasons)


def test_a_statistics_question_favours_records_that_report_them(resolver):
    resolution, _ = decide(resolver, "小微貸款目前總共核准幾件")
    assert any(reason == "有statistics資料" for reason in resolution.best.reasons)
