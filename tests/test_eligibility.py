"""Reading the eligibility form's answers (pure parsers)."""

import pytest

from bot.eligibility import (
    UNKNOWN,
    Profile,
    profile,
    read_disaster,
    read_employees,
    read_industry,
    read_org_type,
    read_purpose,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12個人", "12"),
        ("十二", "12"),
        ("三十人以下", "30"),
        ("我們五個員工", "5"),
        ("大概20幾個", "20"),
        ("10個 不對 是12個", "12"),
        ("不知道", UNKNOWN),
        ("不太清楚耶", UNKNOWN),
        ("很多", None),
        ("", None),
    ],
)
def test_employees(text, value):
    assert read_employees(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("公司", "公司"),
        ("股份有限公司", "公司"),
        ("行號", "商業"),
        ("有限合夥", "有限合夥"),
        ("夜市攤販", "稅籍登記"),
        ("只有稅籍登記", "稅籍登記"),
        ("不確定", UNKNOWN),
        ("嗯", None),
    ],
)
def test_organisation_type(text, value):
    assert read_org_type(text) == value


@pytest.mark.parametrize(
    ("text", "value"), [("開餐廳", "餐飲業"), ("工廠", "製造業"), ("做寵物用品", "其他"), ("不知道", UNKNOWN)]
)
def test_industry_accepts_any_answer(text, value):
    assert read_industry(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("要發薪水", "週轉"),
        ("買機器", "設備"),
        ("導入POS", "數位轉型"),
        ("颱風後修復工廠", "災後復原"),
        ("研發新產品", "研發"),
        ("都可以", UNKNOWN),
        ("隨便", None),
    ],
)
def test_purpose(text, value):
    assert read_purpose(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("有", "yes"),
        ("有受災 工廠淹水", "yes"),
        ("沒有", "no"),
        ("否", "no"),
        ("還好沒事", "no"),
        ("不知道", UNKNOWN),
        ("蛤", None),
    ],
)
def test_disaster(text, value):
    assert read_disaster(text) == value


def test_profile_keeps_unknowns_out_of_the_query():
    values = {
        "elig_employees": "12",
        "elig_org_type": UNKNOWN,
        "elig_industry": "其他",
        "elig_purpose": "週轉",
        "elig_disaster": "no",
    }
    assert profile(values) == Profile(employees=12, purpose="週轉", disaster_hit=False)
