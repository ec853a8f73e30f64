"""Numbers as callers write them: 12, 三十, 兩百萬, 3千5百萬, 1.5億, 一萬二.

A pure parser and two extractors (employees, amounts) used by the NLU component
and by form validation, so 「三十人以下」 and 「30人」 fill the same slot value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "壹": 1,
    "二": 2,
    "貳": 2,
    "兩": 2,
    "两": 2,
    "三": 3,
    "參": 3,
    "四": 4,
    "肆": 4,
    "五": 5,
    "伍": 5,
    "六": 6,
    "陸": 6,
    "七": 7,
    "柒": 7,
    "八": 8,
    "捌": 8,
    "九": 9,
    "玖": 9,
}
_SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG_UNITS = {"萬": 10_000, "万": 10_000, "億": 100_000_000, "亿": 100_000_000}
_ZH_CHARS = "".join(_DIGITS) + "".join(_SMALL_UNITS) + "".join(_BIG_UNITS)

# One bounded character class (security review C1): the old alternation of an unbounded
# digit run and a trailing star could split a run of digits every way before giving up,
# cubic in the run's length on Rasa's only event loop. A run starts only where no numeral
# precedes it, so a run longer than the bound is not read at all rather than read from its tail.
NUMBER = rf"(?<![0-9{_ZH_CHARS}])[0-9{_ZH_CHARS}][0-9,.{_ZH_CHARS}]{{0,30}}"
_TOKEN = re.compile(rf"[0-9][0-9,]*(?:\.[0-9]+)?|[{_ZH_CHARS}]")


class NotANumber(ValueError):
    """The text is not a number we can read."""


def parse_number(text: str) -> int | float:
    """Parse Arabic, Chinese or mixed numerals into a number.

    Examples: 「三千五百萬」→35000000, 「1.5億」→150000000, 「一萬二」→12000.

    Raises:
        NotANumber: nothing numeric, or characters we do not read.
    """
    tokens = _TOKEN.findall(text)
    if not tokens or "".join(tokens) != text:
        raise NotANumber(text)
    total = section = Decimal(0)
    pending: Decimal | None = None
    last_unit = 1
    for tok in tokens:
        if tok in _DIGITS or tok[0].isdigit():
            value = Decimal(_DIGITS[tok]) if tok in _DIGITS else _decimal(tok)
            # 「一二三」: consecutive digits read as a positional number
            pending = value if pending is None else pending * 10 + value
        elif tok in _SMALL_UNITS:
            unit = _SMALL_UNITS[tok]
            section += (pending if pending is not None else 1) * unit
            pending, last_unit = None, unit
        else:
            unit = _BIG_UNITS[tok]
            amount = section + (pending or 0)
            if unit > 10_000:
                total = (total + amount) * unit
            else:
                total += amount * unit
            section, pending, last_unit = Decimal(0), None, unit
    after_unit = len(tokens) > 1 and (tokens[-2] in _SMALL_UNITS or tokens[-2] in _BIG_UNITS)
    single_digit = tokens[-1] in _DIGITS or (tokens[-1].isdigit() and len(tokens[-1]) == 1)
    if pending is not None and last_unit >= 100 and after_unit and single_digit:
        pending *= last_unit // 10  # 「一萬二」 means 12000, 「三千五」 3500
    result = total + section + (pending or 0)
    return int(result) if result == result.to_integral_value() else float(result)


def _decimal(token: str) -> Decimal:
    try:
        return Decimal(token.replace(",", ""))
    except InvalidOperation as exc:
        raise NotANumber(token) from exc


@dataclass(frozen=True, slots=True)
class NumberMention:
    """A number found in text, with its character span and normalised value."""

    entity: str  # "employees" or "amount"
    value: int | float
    start: int
    end: int
    text: str


# 「員工不到十個」「員工二十多人」「我們8個人」「十來個員工」「我們十來個」. The approximate
# suffixes (來, 多, 幾) keep the stated figure; 「不到/未滿/少於 N」 means at most N − 1.
_ABOUT = r"(?:來|多|幾)?"
_LESS = r"(?P<less>不到|未滿|少於|不滿)"
_EMPLOYEES = re.compile(
    rf"(?:員工|同仁|員工數|人數|員工人數)(?:有|共|總共|大概|大約|約|只有|才|差不多|目前|現在|{_LESS})?(?P<a>{NUMBER}){_ABOUT}(?:個|位|名)?(?:人)?"
    rf"|(?:我們|我這邊|我們這邊|本公司|敝公司|公司|店裡|工廠)(?:是|有|共|總共|大概|只有|才|加我|連我)?(?P<c>{NUMBER}){_ABOUT}(?:個|位|名)(?:人)?"
    rf"|(?P<b>{NUMBER}){_ABOUT}(?:個|位|名)?(?:員工|人|同仁|工人|職員|師傅)"
)
# 「30人以下」「9人以下」「10人以上」 name a scheme (30人以下中小微企業優惠貸款), not the caller's head count.
_SCHEME_SIZE = re.compile(r"\s*(?:以下|以上|以内|以內)")
_AMOUNT = re.compile(rf"(?P<n>{NUMBER})(?P<u>萬元|萬塊|萬|億元|億|元|塊錢|塊)")
# 「兩三百萬」「三五十萬」: two Chinese digits before a unit are a range, read as its upper end.
_RANGE = re.compile(r"^([一二兩三四五六七八九])([二三四五六七八九])(?=[十百千萬億])")


def find_numbers(text: str) -> list[NumberMention]:
    """Find employee counts and money amounts in ``text`` (already normalised)."""
    found: list[NumberMention] = []
    taken: list[range] = []
    for match in _EMPLOYEES.finditer(text):
        group = next(g for g in ("a", "b", "c") if match.group(g))
        if _SCHEME_SIZE.match(text, match.end()):
            taken.append(range(match.start(), match.end()))
            continue
        mention = _mention("employees", match, group, 1)
        if mention and match.group("less") and isinstance(mention.value, int) and mention.value > 1:
            mention = NumberMention(mention.entity, mention.value - 1, mention.start, mention.end, mention.text)
        if mention:
            found.append(mention)
            taken.append(range(match.start(), match.end()))
    for match in _AMOUNT.finditer(text):
        if any(match.start() in r for r in taken):
            continue
        unit = match.group("u")
        factor = 100_000_000 if "億" in unit else 10_000 if "萬" in unit else 1
        mention = _mention("amount", match, "n", factor)
        if mention:
            found.append(mention)
    return sorted(found, key=lambda m: m.start)


def _mention(entity: str, match: re.Match[str], group: str, factor: int) -> NumberMention | None:
    number = match.group(group).rstrip(",.")
    ranged = _RANGE.match(number)
    if ranged and (ranged.group(1), ranged.group(2)) in _NEIGHBOURS:
        number = number[1:]  # 「兩三百萬」 → 「三百萬」
    try:
        value = parse_number(number)
    except NotANumber:
        return None
    scaled = value * factor
    if isinstance(scaled, float) and scaled.is_integer():
        scaled = int(scaled)
    return NumberMention(entity, scaled, match.start(), match.end(), match.group(0))


# Pairs callers use for a rough range: 一兩, 兩三, 三四 … 八九, and 三五.
_ORDER = "一兩三四五六七八九"
_NEIGHBOURS = {(a, b) for a, b in zip(_ORDER, _ORDER[1:])} | {("一", "二"), ("二", "三"), ("三", "五")}
