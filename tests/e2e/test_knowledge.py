"""Facts through the whole stack: REST → Rasa (real NLU) → action server → kb.db.

Each question is phrased as a caller would, differently from the training data, and
asserts the exact figure (or date) the record states. The stack's clock is fixed at
2026-11-23 (tests/conftest.py), so what has ended is stable.
"""

from __future__ import annotations

import pytest

from bench.ids import sender_id
from tests.e2e.client import button_payloads, say, texts

FACTS = [
    # loans
    ("青創貸款週轉金最多可以借多少", "週轉性支出最高600萬元"),
    ("青創貸款利率大概多少", "0.575%"),
    ("30人以下優惠貸款最高能貸多少錢", "3,500萬元"),
    ("小微貸款的利率是多少", "2.22"),
    ("中小微貸款保證成數幾成", "100萬元以內，一律10成"),
    ("30人以下貸款的利息補貼是多少", "1.5%"),
    ("30人以下優惠貸款申請期限到什麼時候", "117年10月31日"),
    ("小微貸款寬限期多久", "寬限期最長2年"),
    ("加薪信保的額度上限", "最高3,500萬元"),
    ("加薪信保手續費怎麼算", "年費率0.1%"),
    ("台北市青創貸款可以借多少", "200萬元"),
    ("竹挺利補貼利率是多少", "2.5%"),
    # digital and R&D
    ("SBIR最高補助多少", "Phase 1 最高150萬元"),
    ("SBIR第二階段的補助上限", "Phase 2 最高1,200萬元"),
    ("雲市集可以拿多少點數", "最高10萬數位點數"),
    ("AI工具庫給多少點數", "最高15萬數位點數"),
    ("數位轉型培力補助多少", "每人上限1萬元"),
    ("數位人培一家公司最多補助多少", "補助上限10萬元"),
    ("新創共創獎勵多少", "200萬元"),
    # US tariffs
    ("外銷貸款保證加碼額度最高多少", "6,000萬元"),
    ("外銷貸款優惠保證的保證成數", "最高9.5成"),
    ("研發轉型補助一家最多補多少", "個案每家最高500萬元"),
    ("爭取海外訂單補助上限是多少", "單一企業最高500萬元"),
    ("關稅加碼貸款利率上限", "2.22%"),
    ("貿易融資利息減碼中小企業減多少", "1.5%"),
    # policy and tax
    ("增僱員工減除的減除率是多少", "200%"),
    ("加薪減除減除率多少", "175%"),
    ("開拓海外市場補助最多補多少", "114年12月31日"),
    ("海外參展補助可以補助多少", "114年12月31日"),
    ("商業服務業智慧減碳補助上限", "112年至114年"),
    ("地方特色產業輔導補助上限", "150萬元"),
    # debt
    ("銀行公會寬緩措施到什麼時候截止", "115年12月31日"),
    ("債務協商要準備什麼文件", "營運及償債計畫書"),
    # disaster
    ("災害復工貸款保證成數多少", "信保九成保證"),
    ("災害復工貸款要手續費嗎", "保證手續費免收"),
    ("0403地震中小企業週轉金額度最高多少", "中小企業週轉2,000萬元"),
    ("堰塞湖設備復原補助一家補多少", "20萬元"),
    ("凱米颱風的災害貸款利率", "已經結束"),
    ("丹娜絲店家援助一家可以領多少", "1萬元"),
    # ended schemes: the end date and the current alternative
    ("疫後振興貸款還可以申請嗎 最高多少", "114年10月31日"),
    ("9人以下製造業升級轉型補助補助多少", "112年12月20日"),
    ("以大帶小補助上限多少", "112年11月30日"),
    ("避險額度保證額度多少", "114年12月31日"),
    ("堰塞湖貸款利率多少", "115年3月23日"),
    ("雄挺利的補貼利率", "115年6月30日"),
]


def sender() -> str:
    return sender_id("kb")


def test_there_are_at_least_forty_fact_questions():
    assert len(FACTS) >= 40


@pytest.mark.parametrize(("question", "figure"), FACTS, ids=[q for q, _ in FACTS])
def test_fact_question_is_answered_with_the_records_figure_source_and_phone(stack, question, figure):
    replies = say(stack.rasa_url, sender(), question)
    reply = texts(replies)
    assert figure in reply
    assert "來源：" in reply and "洽詢：" in reply
    assert all(len(r.get("text", "")) <= 300 for r in replies)


def test_ended_scheme_names_the_current_alternative(stack):
    reply = texts(say(stack.rasa_url, sender(), "疫後振興貸款的額度"))
    assert "已經截止，受理到114年10月31日（2025/10/31）為止" in reply
    assert "目前可改洽「30人以下中小微企業優惠貸款」" in reply


def test_follow_ups_refer_to_the_scheme_under_discussion_until_another_is_named(stack):
    user = sender()
    first = texts(say(stack.rasa_url, user, "想了解一下青創貸款"))
    assert "【青年創業及啟動金貸款】" in first
    assert "0.575%" in texts(say(stack.rasa_url, user, "那利率呢"))
    assert "青年創業及啟動金貸款" in texts(say(stack.rasa_url, user, "要準備什麼文件"))
    assert "Phase 1 最高150萬元" in texts(say(stack.rasa_url, user, "那SBIR補助多少"))
    deadline = texts(say(stack.rasa_url, user, "截止日期呢"))
    assert "小型企業創新研發計畫（SBIR）" in deadline and "青年創業" not in deadline


def test_follow_up_without_a_scheme_asks_which_one(stack):
    assert "哪一項措施" in texts(say(stack.rasa_url, sender(), "那截止日期是哪天"))


def test_category_button_answers_the_attribute_that_was_asked(stack):
    user = sender()
    replies = say(stack.rasa_url, user, "貸款的利率大概多少")
    payloads = button_payloads(replies)
    chosen = next(p for p in payloads if "sme_micro_loan_30_under" in p)
    assert '"attribute":"interest_rate"' in chosen
    assert "2.22" in texts(say(stack.rasa_url, user, chosen))


def test_unknown_fact_is_admitted_with_the_phone(stack):
    reply = texts(say(stack.rasa_url, sender(), "SBTR城鄉創生的利率多少"))
    # SBTR's source (seed 004) is undated: its status is unknown, so the hotline is given, not a 2023 project line
    assert "目前資料沒有" in reply and "目前是否仍受理" in reply and "洽詢：經濟部馬上辦服務中心 0800-280-280" in reply


@pytest.mark.parametrize("text", ['青創貸款" OR 1=1 -- 利率', "NEAR(青創 貸款) * 利率", "青創貸款 OR 利率 AND NOT"])
def test_injection_like_text_is_just_text(stack, text):
    reply = texts(say(stack.rasa_url, sender(), text))
    assert "0.575%" in reply


@pytest.mark.parametrize(
    ("question", "in_2023", "in_2026"),
    [
        ("9人以下製造業升級轉型補助補助多少", "每案上限300萬元", "已經截止，受理到112年12月20日（2023/12/20）為止"),
        (
            "以大帶小補助上限多少",
            "已經截止，受理到112年11月30日（2023/11/30）為止",
            "已經截止，受理到112年11月30日（2023/11/30）為止",
        ),
        ("疫後振興貸款最高可以貸多少", "3,500萬", "已經截止，受理到114年10月31日（2025/10/31）為止"),
    ],
)
def test_expiry_follows_the_clock(stack, stack_in_2023, question, in_2023, in_2026):
    assert in_2023 in texts(say(stack_in_2023.rasa_url, sender(), question))
    assert in_2026 in texts(say(stack.rasa_url, sender(), question))


def test_a_firm_with_50_employees_hit_by_tariffs_is_offered_the_revival_loan(stack):
    from bot.kb.query import KnowledgeBase, Status

    user = sender()
    replies = say(stack.rasa_url, user, "我們公司有50個員工 被美國關稅影響營收掉了兩成 有什麼貸款可以申請")
    payloads = button_payloads(replies)
    kb = KnowledgeBase(stack.var_dir / "kb.db")
    listed = [p.split('"scheme":"')[1].split('"')[0] for p in payloads if '"scheme":"' in p]
    assert all(kb.status(kb.scheme(i)) is not Status.UNKNOWN for i in listed), listed
    if payloads:  # asked which one: the revival loan is among the choices
        chosen = next(p for p in payloads if "tariff_revival_loan_over_30" in p)
        replies = say(stack.rasa_url, user, chosen)
    answer = texts(replies)
    assert "員工逾30人且營收減少逾15%" in answer and "同等貸款額度與優惠條件" in answer
