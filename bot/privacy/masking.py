"""Mask Taiwan personal data in text and in Rasa events before anything stores them.

One module holds every pattern: the log filter (``bot.log``), the tracker store and
event broker (``bot.privacy.stores``) and the exports all call :func:`mask_text`.

What is masked, each with a zh-TW-neutral placeholder:

- national ID and resident certificate (ARC) numbers, old (``AB12345678``) and new
  (``A800000014``) format, checksum-validated so ordinary codes stay; an ID-shaped
  string right after 身分證/居留證 is masked even with a wrong check digit;
- 統一編號: 8 digits passing the Ministry of Finance check (the 2023 rule, divisible
  by 5, with the 7th-digit-7 case), or any 8 digits right after 統編/統一編號;
- mobile and landline numbers in the ways callers type them, but not toll-free
  0800/0809 numbers (our own hotlines are public);
- e-mail addresses;
- bank accounts: dashed digit groups of 10–16 digits, 10–16 digits after 帳號/帳戶/
  匯款, and any bare run of 12–19 digits;
- street addresses down to the house number (…路/街…號, with 巷/弄/樓).

Amounts (3500萬, 1,000,000元), dates (2026/11/23, 115年) and scheme figures stay.
Full-width digits and letters are matched too: the text is width-folded
character by character (same length), matched, and spans are replaced in the
original text. Masking is idempotent: placeholders contain no digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from bot.lru import Lru, digest
from bot.phones import normalise_phone

ID = "[身分證]"
TAX_ID = "[統編]"
MOBILE = "[手機]"
PHONE = "[電話]"
EMAIL = "[Email]"
ACCOUNT = "[帳號]"
ADDRESS = "[地址]"

# Full-width ASCII (U+FF01–FF5E) and the ideographic space fold to ASCII one for one.
_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
# For every rule but e-mail: the separators callers put inside numbers (0933.271.845, 0966/271/845,
# 0911—271—845, ・ and dashes of every width) fold to "-", Chinese digits (零九八八…) to ASCII digits,
# still one character for one (security review M4).
_SEPARATOR_SHADOW = {ord(c): "-" for c in "./\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fb\u00b7\uff65"}
_CHINESE_DIGITS = {ord(c): str(i) for i, c in enumerate("零一二三四五六七八九")} | {ord("〇"): "0"}
# Only runs of four or more digits are read as numbers: 「統一編號」 keeps its 一.
_DIGIT_RUN = re.compile(r"[0-9零〇一二三四五六七八九]{4,}")

# Letter codes of the national ID check (內政部): A=10 … Z=33, not alphabetical after H.
_LETTER_CODES = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36)))

_AREA = r"(?:826|836|37|49|82|89|2|3|4|5|6|7|8)"
_SEP = r"[-\s]?"
_EXTENSION = r"(?:\s*(?:#|分機|轉|ext\.?)\s*\d{1,6})?"
# Identifiers stand alone: not inside a longer code such as a contact id 「cpc_02_27090638_281」.
_NOT_DIGIT_BEFORE = r"(?<![\dA-Za-z_])"
_NOT_DIGIT_AFTER = r"(?![\dA-Za-z_])"
_MONEY_AFTER = r"(?!\s*(?:元|萬|億|千|百|塊|%|％|人|年|月|日|天|坪|公|台|臺|件|個|張|次|歲))"
_CHINESE = r"\u4e00-\u9fff"
_CHINESE_RANGE = "\u4e00-\u9fff"
_NUMERAL = r"[\d一二三四五六七八九十百零〇兩]"

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# Internationalised domains (user@例子.台灣): CJK labels, ending in a CJK top-level domain.
_IDN_EMAIL = re.compile(
    rf"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9\-{_CHINESE_RANGE}]+"
    rf"(?:\.[A-Za-z0-9\-{_CHINESE_RANGE}]+)*\.[{_CHINESE_RANGE}]{{2,3}}"
)
# An ID written with separators: F 281 467 332, F-281467332 (checksum-validated).
_SPACED_ID = re.compile(r"(?<![\dA-Za-z_])[A-Za-z][-\s]?[1289ABCDabcd](?:[-\s]?\d){8}(?![\dA-Za-z_])")
# A mobile number with a separator between any digits: 0 9 3 3 2 7 1 8 4 5.
_SPACED_MOBILE = re.compile(r"(?<![\dA-Za-z_])0[-\s]?9(?:[-\s]?\d){8}(?![\dA-Za-z_])")
_ID = re.compile(_NOT_DIGIT_BEFORE + r"[A-Za-z][1289ABCDabcd]\d{8}" + _NOT_DIGIT_AFTER)
_ID_AFTER_WORD = re.compile(
    r"(?:身分證|身份證|統一證號|居留證|ID)[^\dA-Za-z]{0,8}([A-Za-z][A-Za-z\d]\d{8})" + _NOT_DIGIT_AFTER
)
_MOBILE = re.compile(
    _NOT_DIGIT_BEFORE + r"(?:\(?(?:\+|00)?886\)?" + _SEP + r"|0)9\d{2}" + _SEP + r"\d{3}" + _SEP + r"\d{3}" + r"(?!\d)"
)
_LANDLINE = re.compile(
    _NOT_DIGIT_BEFORE
    + r"(?:\(?(?:\+|00)?886\)?"
    + _SEP
    + r"\(?0?"
    + _AREA
    + r"\)?|\(0"
    + _AREA
    + r"\)|0"
    + _AREA
    + r")"
    + r"\s*-?\s*\d{2,4}"
    + _SEP
    + r"\d{3,4}(?!\d)"
    + _EXTENSION
)
_TAX_ID = re.compile(_NOT_DIGIT_BEFORE + r"\d{8}" + _NOT_DIGIT_AFTER + _MONEY_AFTER)
_TAX_ID_AFTER_WORD = re.compile(r"(?:統編|統一編號|營利事業編號|公司編號)[^\d]{0,6}(\d{8})(?!\d)")
_PHONE_AFTER_WORD = re.compile(
    r"(?:電話|市話|手機|聯絡|連絡|回電|打給|tel|phone)[^\d]{0,6}(\d[\d\s-]{5,12}\d)(?!\d)", re.IGNORECASE
)
_DASHED_ACCOUNT = re.compile(_NOT_DIGIT_BEFORE + r"\d{2,6}(?:-\d{2,8}){1,4}(?![\d-])")
_ACCOUNT_AFTER_WORD = re.compile(
    r"(?:帳號|帳戶|账号|戶頭|匯款|轉帳|存摺|account)[^\d]{0,10}(\d{10,16})(?!\d)", re.IGNORECASE
)
_LONG_DIGITS = re.compile(_NOT_DIGIT_BEFORE + r"\d{12,19}" + _NOT_DIGIT_AFTER + _MONEY_AFTER)
_ADDRESS = re.compile(  # bounded repeats: a run of digits must not make each position scan to the end
    rf"(?:[{_CHINESE}]{{2}}[市縣])?(?:[{_CHINESE}]{{1,3}}?[區鄉鎮市])?(?:[{_CHINESE}]{{1,3}}[村里])?(?:{_NUMERAL}{{1,4}}鄰)?"
    rf"[{_CHINESE}\d]{{1,5}}?(?:路|街|大道)(?:{_NUMERAL}{{1,4}}段)?(?:{_NUMERAL}{{1,5}}巷)?(?:{_NUMERAL}{{1,5}}弄)?"
    rf"{_NUMERAL}{{1,6}}(?:之{_NUMERAL}{{1,4}})?號(?:{_NUMERAL}{{1,3}}樓(?:之{_NUMERAL}{{1,3}})?)?"
)
# Words before an address that are not part of it: 「我住在中正路1號」 keeps 「我住在」.
_ADDRESS_LEAD = re.compile(r"^[我家住在於是到的地址:：、，,\s]+")
_TOLL_FREE = ("0800", "0809")


def fold_width(text: str) -> str:
    """Full-width ASCII to half-width, one character for one, so spans stay valid."""
    return text.translate(_WIDTH)


def national_id_valid(value: str) -> bool:
    """Check digit of a national ID or ARC number (A123456789, A800000014, AB12345678).

    The old ARC has a letter in second place; its letter code's last digit takes the
    place of the sex digit (移民署's rule), then the same weights apply.
    """
    value = value.upper()
    if not re.fullmatch(r"[A-Z][1289ABCD]\d{8}", value) or value[0] not in _LETTER_CODES:
        return False
    first = _LETTER_CODES[value[0]]
    second = _LETTER_CODES[value[1]] % 10 if value[1].isalpha() else int(value[1])
    digits = [second, *map(int, value[2:])]
    total = first // 10 + (first % 10) * 9 + sum(d * w for d, w in zip(digits, (8, 7, 6, 5, 4, 3, 2, 1, 1)))
    return total % 10 == 0


def tax_id_valid(value: str) -> bool:
    """統一編號 check (財政部, since 2023: divisible by 5; a 7th digit 7 may count its 10 as 1 or 0)."""
    if not re.fullmatch(r"\d{8}", value):
        return False
    total = sum(sum(divmod(int(d) * w, 10)) for d, w in zip(value, (1, 2, 1, 2, 1, 2, 4, 1)))
    return total % 5 == 0 or (value[6] == "7" and (total + 1) % 5 == 0)


def _looks_like_date(digits: str) -> bool:
    year, month, day = int(digits[:4]), int(digits[4:6]), int(digits[6:])
    return 1900 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31


def _phone_digits(span: str) -> str:
    digits = re.sub(r"(?:#|分機|轉|ext\.?)\s*\d+$", "", span, flags=re.IGNORECASE)
    digits = re.sub(r"\D", "", digits)
    if digits.startswith("00886"):
        digits = digits[2:]
    return "0" + digits[3:].lstrip("0") if digits.startswith("886") else digits


def _landline(span: str) -> bool:
    digits = _phone_digits(span)
    return not digits.startswith(_TOLL_FREE) and normalise_phone(digits) is not None


def _toll_free(span: str) -> bool:
    return _phone_digits(span).startswith(_TOLL_FREE)


def _after_money_word(match: re.Match[str]) -> bool:
    """「NT$12000000」「新台幣12000000」: an amount, not an identifier."""
    before = match.string[max(0, match.start() - 4) : match.start()]
    return bool(re.search(r"[$]|幣|金額|額度|價|費", before))


def _address_span(match: re.Match[str]) -> tuple[int, int]:
    lead = _ADDRESS_LEAD.match(match.group())
    return match.start() + (lead.end() if lead else 0), match.end()


# (pattern, placeholder, accept(match) -> span or None), applied in this order; later
# rules only see text the earlier ones left.
Rule = tuple[re.Pattern[str], str, Callable[[re.Match[str]], "tuple[int, int] | None"]]


def _whole(check: Callable[[str], bool] = lambda _: True) -> Callable[[re.Match[str]], tuple[int, int] | None]:
    return lambda m: m.span() if check(m.group()) else None


def _group(m: re.Match[str]) -> tuple[int, int]:
    return m.span(1)


def _digits_only(check: Callable[[str], bool]) -> Callable[[re.Match[str]], tuple[int, int] | None]:
    return lambda m: m.span() if check(re.sub(r"[-\s]", "", m.group())) else None


# Rules matched on the width-folded text only; every other rule sees the number shadow as well.
_TEXT_RULES = frozenset({id(_EMAIL), id(_IDN_EMAIL)})

RULES: tuple[Rule, ...] = (
    (_EMAIL, EMAIL, _whole()),
    (_IDN_EMAIL, EMAIL, _whole()),
    (_ID, ID, _whole(national_id_valid)),
    (_SPACED_ID, ID, _digits_only(national_id_valid)),
    (_ID_AFTER_WORD, ID, _group),
    (_MOBILE, MOBILE, _whole()),
    (_SPACED_MOBILE, MOBILE, _whole()),
    (_LANDLINE, PHONE, _whole(_landline)),
    (_TAX_ID_AFTER_WORD, TAX_ID, _group),
    (_ACCOUNT_AFTER_WORD, ACCOUNT, _group),
    (_PHONE_AFTER_WORD, PHONE, lambda m: None if _toll_free(m.group(1)) else m.span(1)),
    (_DASHED_ACCOUNT, ACCOUNT, _whole(lambda s: 10 <= sum(c.isdigit() for c in s) <= 16 and not _toll_free(s))),
    (
        _TAX_ID,
        TAX_ID,
        lambda m: (
            m.span()
            if tax_id_valid(m.group()) and not _looks_like_date(m.group()) and not _after_money_word(m)
            else None
        ),
    ),
    (_LONG_DIGITS, ACCOUNT, lambda m: None if _after_money_word(m) else m.span()),
    (_ADDRESS, ADDRESS, _address_span),
)


def fold_numbers(folded: str) -> str:
    """Separators inside numbers to "-" and Chinese digits to ASCII ones, one character for one."""
    shadow = folded.translate(_SEPARATOR_SHADOW)
    if not any(ord(c) in _CHINESE_DIGITS for c in shadow):
        return shadow
    return _DIGIT_RUN.sub(lambda m: m.group().translate(_CHINESE_DIGITS), shadow)


# Masked forms of the longer texts seen last, keyed by a digest of the text (issue #17). The same
# texts come back turn after turn (a knowledge answer of 250 characters with a phone number and an
# address costs ~2 ms to mask, and the tracker store, the ops consumer and the log filter each
# mask it), and mask_text is a pure function of its argument, so the cache changes no result.
# The key is a BLAKE2b digest, not the text: the cache keeps no caller's text in memory, only
# masked forms. Short texts (most user messages) are quicker to mask than to look up.
_CACHE_MIN_LENGTH = 48
_CACHE_SIZE = 2048
_cache: Lru[bytes, str] = Lru(_CACHE_SIZE)


# What any rule needs to match (issue #17): a decimal digit (``\d``: ASCII, full-width and every other
# Unicode one), "@" or its full-width form (e-mail), 號 (an address ends with it), or a run of four or
# more Chinese digits (fold_numbers reads only such runs as digits; 一 or 五 alone stays a word). No
# fold makes any of these from other characters, and every rule needs one of them: a text with none
# is its own masked form. Most texts (bot answers without a contact, most user messages) have none,
# and one search in C answers it before the width folding, the number shadow and _mask_once's
# character-by-character test in Python.
_MAY_HOLD_PERSONAL_DATA = re.compile(r"[\d@＠號]|[零〇一二三四五六七八九]{4}")


def mask_text(text: str) -> str:
    """``text`` with every recognised personal identifier replaced by its placeholder (see _mask_text)."""
    if len(text) < _CACHE_MIN_LENGTH:
        return _screened(text)
    key = digest(text)
    found = _cache.get(key)
    if found is None:
        found = _screened(text)
        _cache.put(key, found)
    return found


def _screened(text: str) -> str:
    """:func:`_mask_text`, skipped for a text no rule can change (:data:`_MAY_HOLD_PERSONAL_DATA`).

    Not before the cache: searching a long text costs more than finding it there.
    """
    return text if _MAY_HOLD_PERSONAL_DATA.search(text) is None else _mask_text(text)


def _mask_text(text: str) -> str:
    """``text`` with every recognised personal identifier replaced by its placeholder.

    Repeated until nothing changes (at most six passes, each linear): a replacement can
    expose what is left of a run of digits (「零九八八0933.271.845」), which must not stay.
    """
    for _ in range(6):
        masked = _mask_once(text)
        if masked == text:
            break
        text = masked
    return text


def _mask_once(text: str) -> str:
    folded = fold_width(text)
    numbers = fold_numbers(folded)
    if not any(c.isdigit() or c == "@" or c == "號" for c in numbers):
        return text
    for pattern, placeholder, accept in RULES:
        shadow = folded if id(pattern) in _TEXT_RULES else numbers
        spans = [span for span in (accept(m) for m in pattern.finditer(shadow)) if span]
        if spans:
            text = _replace_spans(text, spans, placeholder)
            folded = fold_width(text)
            numbers = fold_numbers(folded)
    return text


def _replace_spans(text: str, spans: list[tuple[int, int]], placeholder: str) -> str:
    """``text`` with each of the ordered, non-overlapping ``spans`` replaced, joined once.

    Linear in the length of ``text``: rebuilding the string per match made one request with
    many e-mail-like strings cost quadratic time on the event loop (security review H1).
    """
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        pieces += (text[position:start], placeholder)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


# Keys whose values are names, ids or numbers Rasa needs as they are, never personal data.
STRUCTURAL_KEYS = frozenset(
    {
        "event",
        "sender_id",
        "timestamp",
        "name",
        "policy",
        "input_channel",
        "message_id",
        "entity",
        "extractor",
        "intent_name",
        "action_name",
        "type_name",
        "confidence",
        "processors",
        "role",
        "group",
        "action_text_name",
        "intent_ranking",
        "response_selector",
        "start",
        "end",
        "requested_slot",
    }
)


_SCALARS = (int, float, bool, type(None))


def mask_value(value: Any) -> Any:
    """Mask every string inside ``value`` (lists and dicts recursively), leaving structure keys alone.

    Numbers and ``None`` (most of an event's leaves: confidences, timestamps) are tested
    first by exact type: the ``Mapping`` check is an abstract-class check, the slowest
    of these, and it ran for every leaf of every stored event.
    """
    if type(value) in _SCALARS:
        return value
    if isinstance(value, str):
        return mask_text(value)
    if type(value) is dict or isinstance(value, Mapping):
        return {k: v if k in STRUCTURAL_KEYS else mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(v) for v in value]
    return value


def mask_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """A masked copy of one Rasa event (its ``as_dict()`` form, or a broker body with ``sender_id``).

    Pure: the argument is not changed. Every string value is masked — user and bot
    text, ``parse_data`` text and entity values, slot values, metadata, button titles —
    except names Rasa needs (event type, action and intent names, ids, timestamps).
    """
    return mask_value(event)
