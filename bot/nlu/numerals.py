"""Numbers as callers write them: 12, 三十, 兩百萬, 3千5百萬, 1.5億, 一萬二.

A pure parser and two extractors (employees, amounts) used by the NLU component
and by form validation, so 「三十人以下」 and 「30人」 fill the same slot value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "貳": 2, "兩": 2, "两": 2, "三": 3, "參": 3,
    "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陸": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
    "九": 9, "玖": 9,
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


_EMPLOYEES = re.compile(
    rf"(?:員工|同仁|員工數|人數)(?:有|共|大概|約|只有|才)?(?P<a>{NUMBER})(?:個|位|名)?(?:人)?"
    rf"|(?P<b>{NUMBER})(?:多)?(?:個|位|名)?(?:員工|人|同仁|工人|職員)"
)
_AMOUNT = re.compile(rf"(?P<n>{NUMBER})(?P<u>萬元|萬塊|萬|億元|億|元|塊錢|塊)")


def find_numbers(text: str) -> list[NumberMention]:
    """Find employee counts and money amounts in ``text`` (already normalised)."""
    found: list[NumberMention] = []
    taken: list[range] = []
    for match in _EMPLOYEES.finditer(text):
        group = "a" if match.group("a") else "b"
        mention = _mention("employees", match, group, 1)
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
    try:
        value = parse_number(match.group(group).rstrip(",."))
    except NotANumber:
        return None
    scaled = value * factor
    if isinstance(scaled, float) and scaled.is_integer():
        scaled = int(scaled)
    return NumberMention(entity, scaled, match.start(), match.end(), match.group(0))
