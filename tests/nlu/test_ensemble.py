"""The calibration component's pure parts: clause splitting, the question clause, the average."""

import pytest

from bot.nlu.ensemble import clauses, combine, question_clause
from bot.nlu.normaliser import normalise

STORY = normalise(
    "跟你說一下我們的狀況，我跟我太太十年前在台中開了這家麵包店，現在有8個員工。去年開始奶油跟麵粉一直漲，"
    "年底又想把烤箱換掉。銀行那邊我有去問過，行員講了一堆我也聽不太懂，所以想問你們，"
    "如果我要買新的烤箱設備，政府的貸款最長可以分幾年還？"
)


def test_a_long_story_is_split_and_the_question_decides():
    assert len(clauses(STORY)) >= 6
    part = question_clause(STORY)
    assert part is not None and "分幾年還" in part and "奶油" not in part


def test_short_messages_are_classified_whole():
    assert question_clause("青創貸款利率多少") is None


def test_without_a_question_word_the_last_clause_decides():
    text = normalise(
        "我們是開了二十年的五金行，最近生意很差，客戶的貨款一直收不回來，銀行也不願意再借錢給我們了，現在只能請政府幫忙週轉"
    )
    assert "週轉" in question_clause(text)


@pytest.mark.parametrize("w", [0.0, 0.5, 1.0])
def test_the_average_is_a_distribution(w):
    p = combine(
        {"a": 0.99, "b": 0.01}, {"a": 0.3, "b": 0.7}, None, {"diet_weight": w, "temperature": 1.5, "clause_weight": 0.5}
    )
    assert sum(p.values()) == pytest.approx(1.0)


def test_a_confident_diet_is_tempered_by_a_doubtful_linear_model():
    p = combine(
        {"a": 1.0, "b": 0.0}, {"a": 0.4, "b": 0.6}, None, {"diet_weight": 0.5, "temperature": 1.0, "clause_weight": 0.5}
    )
    assert p["a"] == pytest.approx(0.7)


def test_the_question_clause_can_overturn_a_long_preamble():
    whole_diet, whole_linear = {"out_of_scope": 1.0, "loan_ask": 0.0}, {"out_of_scope": 0.6, "loan_ask": 0.4}
    clause = {"out_of_scope": 0.05, "loan_ask": 0.95}
    p = combine(whole_diet, whole_linear, clause, {"diet_weight": 0.5, "temperature": 1.0, "clause_weight": 0.6})
    assert max(p, key=p.get) == "loan_ask"


def test_a_context_free_question_clause_defers_to_the_whole_messages_topic():
    whole = {"policy_ask": 0.6, "dialogue_followup": 0.4}
    clause = {"policy_ask": 0.2, "dialogue_followup": 0.8}
    p = combine(whole, whole, clause, {"diet_weight": 0.5, "temperature": 1.0, "clause_weight": 0.5})
    assert max(p, key=p.get) == "policy_ask"
