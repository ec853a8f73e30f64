"""Masking's pre-check (bot/privacy/masking.py ``_MAY_HOLD_PERSONAL_DATA``): a text it lets skip the rules is
one no rule would change, so mask_text gives what the full rule set gives, for every text."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.privacy import masking
from bot.privacy.masking import mask_text

CORPUS = yaml.safe_load((Path(__file__).resolve().parents[1] / "ops" / "fixtures" / "pii_corpus.yml").read_text())
CASES = [case["text"] for case in CORPUS["positive"]] + [str(text) for text in CORPUS["negative"]]

# The rules' own alphabets: digits of every width and script (and digits no rule reads: ², ①),
# separators, e-mail signs, address words, the words that name an identifier, letters.
DIGITS = "0123456789０１２３４５６７８９零〇一二三四五六七八九十百兩²³①"
SIGNS = "-‐‑–—―−・·･./ 　()+#@＠._%"
WORDS = ["號", "路", "街", "大道", "巷", "弄", "樓", "之", "段", "鄰", "里", "市", "區", "縣"]
WORDS += [
    "身分證",
    "居留證",
    "ID",
    "統編",
    "統一編號",
    "手機",
    "電話",
    "tel",
    "帳號",
    "匯款",
    "分機",
    "ext.",
    "元",
    "萬",
]
LETTERS = "ABCFNYabcdlmoxyz_"
PIECES = list(DIGITS) + list(SIGNS) + WORDS + list(LETTERS) + ["example.com", "台灣", "0800", "886", "09"]


def unscreened(text: str) -> str:
    """The full rule set, run on every text (what mask_text did before the pre-check)."""
    return masking._mask_text(text)


@pytest.mark.parametrize("text", CASES, ids=[text[:24] for text in CASES])
def test_every_case_of_the_masking_corpus_is_masked_as_by_the_full_rule_set(text):
    assert mask_text(text) == unscreened(text)


def test_every_personal_data_case_passes_the_pre_check():
    assert all(masking._MAY_HOLD_PERSONAL_DATA.search(case["text"]) for case in CORPUS["positive"])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_random_texts_of_the_rules_alphabets_are_masked_as_by_the_full_rule_set(text):
    assert mask_text(text) == unscreened(text)


CLEAN = [p for p in PIECES if not masking._MAY_HOLD_PERSONAL_DATA.search(p)]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(CLEAN), max_size=40).map("".join))
def test_a_text_the_pre_check_lets_skip_is_one_no_rule_changes(text):
    if masking._MAY_HOLD_PERSONAL_DATA.search(text) is None:  # a run of 4 Chinese digits is not clean
        assert unscreened(text) == text == mask_text(text)


def test_no_character_a_rule_reads_as_a_digit_an_at_or_a_house_number_is_missed_by_the_pre_check():
    # For every code point: four of it, width-folded and number-shadowed as the rules see them.
    needs = re.compile(r"[\d@號]")
    missed = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if not masking._MAY_HOLD_PERSONAL_DATA.search(chr(code) * 4)
        and needs.search(masking.fold_numbers(masking.fold_width(chr(code) * 4)))
    ]
    assert missed == []


def test_a_clean_text_does_not_reach_the_rules(monkeypatch):
    def rules(_text: str) -> str:
        raise AssertionError("the rules ran on a text without digits, @ or 號")

    monkeypatch.setattr(masking, "_mask_text", rules)
    assert mask_text("請問青創貸款利率多少？") == "請問青創貸款利率多少？"
    assert mask_text("我想借五百萬可以嗎") == "我想借五百萬可以嗎"
