"""Eligibility: from what the caller said (「十二個」, 「行號」, 「不知道」, 「不對，是20人」) to why a scheme fits.

Pure functions from the caller's words to a canonical value, ``UNKNOWN`` when the
caller does not know, or ``None`` when the answer cannot be read (ask again); the
answers become a :class:`Profile`, and :func:`eligibility_reasons` matches it against a
scheme's eligibility rules (``KnowledgeBase.matching`` runs it over the open schemes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.nlu.gazetteer import INDUSTRIES
from bot.nlu.normaliser import normalise
from bot.nlu.numerals import NUMBER, NotANumber, find_numbers, parse_number

UNKNOWN = "unknown"
FORM_SLOTS = ("elig_employees", "elig_org_type", "elig_industry", "elig_purpose", "elig_disaster")


@dataclass(frozen=True, slots=True)
class Profile:
    """What a caller told us about the business; ``None`` means unknown."""

    employees: int | None = None
    registration_type: str | None = None
    industry: str | None = None
    purpose: str | None = None
    disaster_hit: bool | None = None


_DONT_KNOW = re.compile(r"不知道|不清楚|不太清楚|不確定|不曉得|跳過|略過|沒差|不一定|都可以")
_ORG_TYPES = (
    ("有限合夥", ("有限合夥",)),
    ("稅籍登記", ("稅籍", "攤販", "攤商", "沒有登記", "沒登記", "夜市")),
    ("商業", ("行號", "商號", "商業登記", "獨資", "合夥", "小店", "工作室")),
    ("公司", ("公司", "股份", "企業社")),
)
PURPOSES = (
    ("災後復原", ("災", "淹水", "復原", "重建", "颱風", "地震", "修復")),
    ("數位轉型", ("數位", "電商", "ERP", "POS", "AI", "系統", "網站", "雲端", "軟體")),
    ("研發", ("研發", "開發", "新產品", "技術", "專利")),
    ("設備", ("設備", "機器", "機台", "廠房", "擴廠", "買車", "裝修")),
    ("外銷", ("外銷", "出口", "國外訂單", "海外")),
    ("節能", ("節能", "省電", "減碳", "淨零")),
    ("人才培訓", ("培訓", "上課", "訓練", "課程")),
    ("通路", ("通路", "行銷", "品牌", "展覽", "參展")),
    ("週轉", ("週轉", "周轉", "薪水", "發薪", "營運資金", "貨款", "現金", "缺錢", "借錢")),
)
_YES = re.compile(r"^(是|有|對|嗯|要)|受災|受損|被淹|淹水|倒塌|有受|災區")
_NO = re.compile(r"^(否|沒|不|無)|沒有受|沒受|沒事|還好")


def dont_know(text: str) -> bool:
    return bool(_DONT_KNOW.search(text))


def read_employees(text: str) -> str | None:
    """「12個人」「十二」「三十人以下」 → "12"/"30"; 「不知道」 → UNKNOWN; else None."""
    plain = normalise(text)
    if dont_know(plain):
        return UNKNOWN
    mentions = [m for m in find_numbers(plain) if m.entity == "employees"]
    if mentions:
        return str(int(mentions[-1].value))  # the last number wins: 「10個 不對 是12個」
    numbers = re.findall(NUMBER, plain)
    for candidate in reversed(numbers):
        try:
            value = parse_number(candidate)
        except NotANumber:
            continue
        if 0 <= value < 100_000:
            return str(int(value))
    return None


def read_org_type(text: str) -> str | None:
    plain = normalise(text)
    if dont_know(plain):
        return UNKNOWN
    for value, words in _ORG_TYPES:
        if any(w in plain for w in words):
            return value
    return None


def read_industry(text: str) -> str:
    """An industry from the gazetteer, else 「其他」 (any answer is acceptable here)."""
    plain = normalise(text)
    if dont_know(plain):
        return UNKNOWN
    for value, words in INDUSTRIES.items():
        if any(w in plain for w in words):
            return value
    return "其他"


def read_purpose(text: str) -> str | None:
    plain = normalise(text).upper()
    if dont_know(plain):
        return UNKNOWN
    for value, words in PURPOSES:
        if any(w.upper() in plain for w in words):
            return value
    return None


def read_disaster(text: str) -> str | None:
    plain = normalise(text)
    if dont_know(plain):
        return UNKNOWN
    if _NO.search(plain):
        return "no"
    if _YES.search(plain):
        return "yes"
    return None


def profile(values: dict[str, str | None]) -> Profile:
    """The query profile from the form's slot values; unknown answers stay ``None``."""
    known = {k: v for k, v in values.items() if v not in (None, UNKNOWN)}
    employees = known.get("elig_employees")
    industry = known.get("elig_industry")
    disaster = known.get("elig_disaster")
    return Profile(
        employees=int(employees) if employees else None,
        registration_type=known.get("elig_org_type"),
        industry=None if industry == "其他" else industry,
        purpose=known.get("elig_purpose"),
        disaster_hit=None if disaster is None else disaster == "yes",
    )


def eligibility_reasons(rules: Mapping[str, Any], profile: Profile) -> list[str] | None:
    """Why a scheme fits ``profile`` (reasons in zh-TW), or ``None`` when a stated fact rules it out.

    ``rules`` is the scheme record's ``eligibility`` (``max_employees``, ``industries`` …).
    Unknown answers never rule a scheme out: the caller may not know, and staff can check.
    """
    reasons: list[str] = []
    max_employees, min_employees = rules.get("max_employees"), rules.get("min_employees")
    if profile.employees is not None:
        if max_employees is not None and profile.employees > max_employees:
            return None
        if min_employees is not None and profile.employees < min_employees:
            return None
        if max_employees is not None:
            reasons.append(f"員工{max_employees}人以下（您{profile.employees}人）")
    types = rules.get("registration_types") or []
    if profile.registration_type and types:
        if profile.registration_type not in types:
            return None
        reasons.append(f"{profile.registration_type}登記可申請")
    industries = rules.get("industries") or []
    if profile.industry and industries:
        if profile.industry not in industries:
            return None
        reasons.append(f"適用{profile.industry}")
    purposes = rules.get("purposes") or []
    if profile.purpose and purposes:
        if profile.purpose not in purposes:
            return None
        reasons.append(f"用途含{profile.purpose}")
    if rules.get("disaster_hit"):
        if profile.disaster_hit is False:
            return None
        if profile.disaster_hit:
            reasons.append("受災企業適用")
    return reasons
