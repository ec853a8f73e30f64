"""The filters of the conversation list: one table (``FILTERS``) from which everything else is derived.

A filter arrives as a string from the /ops page's query string or from ``python -m bot
ops list`` and is checked here once (``Filters.parse``); a bad one raises ``BadFilter``
with a reason from ``bot.messages`` naming the filter by its zh-TW label. The same table
writes the filters back into links (``Filters.query``) and gives the CLI its options
(``bot.__main__``), so adding a filter is one row here plus its SQL in
``bot.ops.review.conditions``.

This module is pure (no SQLAlchemy): the CLI imports it to declare its options, and every
command would otherwise start a quarter of a second slower.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from bot import messages
from bot.categories import CHANNELS, FALLBACK_INTENT, INTENT_CATEGORY, OTHER, Category

# Sort keys of the list → columns of ops_conversations (bot.ops.review turns them into SQL).
SORT_COLUMNS = {
    "started": "started_at",
    "last": "last_at",
    "questions": "questions",
    "confidence": "min_confidence",
    "fallbacks": "fallbacks",
    "failures": "failures",
}
MAX_PER_PAGE = 200
MAX_TEXT = 200
TAG = re.compile(r"^[^\x00-\x1f\x7f<>&\"'\\/]{1,40}$")  # any words and punctuation, no markup or controls
YES_NO = ("yes", "no")
RATINGS = frozenset({"1", "2", "3", "4", "5", "none"})


class BadFilter(ValueError):
    """A filter value we cannot use; the message (from bot.messages) is zh-TW for staff."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What the conversation list shows; every field is optional (one row of ``FILTERS`` each)."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    channel: str | None = None
    category: str | None = None
    intent: str | None = None
    below: float | None = None  # some typed message had confidence below this
    failed: bool | None = None  # some message failed (bot/ops/failures.py: the 「需要檢視」 definition)
    handed_off: bool | None = None
    rating: str | None = None  # "1".."5" or "none"
    tag: str | None = None
    reviewed: bool | None = None
    q: str | None = None
    sort: str = "started"
    desc: bool = True
    page: int = 1
    per_page: int = 25
    # Synthetic traffic (bot/ops/synthetic.py): False leaves it out, True shows only it, None both.
    # The library default is None; pages and the CLI parse a missing value as False (left out).
    synthetic: bool | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, str | None]) -> Filters:
        """Filters from query-string-like values (keys of ``FILTERS``); empty strings mean "any".

        Raises:
            BadFilter: a value is not allowed; the message names the filter in zh-TW.
        """
        given = {k: (str(v).strip() if v is not None else "") for k, v in raw.items()}
        values = {spec.field: spec.parse(spec.text_in(given), spec.label) for spec in FILTERS}
        if values["date_from"] and values["date_to"] and values["date_from"] > values["date_to"]:
            raise BadFilter(messages.FILTER_DATES_REVERSED)
        return cls(**values)

    def query(self, **changes: Any) -> dict[str, str]:
        """These filters as query-string values (for links: next page, sort, CSV); defaults are left out."""
        changed = replace(self, **changes)
        out = {spec.key: spec.format(getattr(changed, spec.field)) for spec in FILTERS}
        return {key: text for key, text in out.items() if text}


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """One filter: its ``Filters`` field, query key and CLI flag, how it is read and written, and its names.

    ``parse(text, label)`` reads the query text ("" when missing) and refuses a bad value with
    ``label`` in the reason; ``format(value)`` writes it back ("" leaves the key out of links).
    ``help``, ``choices``, ``default``, ``metavar`` and ``flag_value`` are the CLI option's.
    """

    field: str
    key: str
    flag: str
    parse: Callable[[str, str], Any]
    format: Callable[[Any], str]
    label: str
    help: str | None = None
    choices: tuple[str, ...] | None = None
    default: str | None = None
    metavar: str | None = None
    flag_value: str | None = None  # a CLI flag without a value that sends this one (--asc: order=asc)
    aliases: tuple[str, ...] = ()  # older query keys still read (fell_back, from links people kept)

    def text_in(self, given: Mapping[str, str]) -> str:
        """This filter's text in a query: its key's, else an alias's, else ""."""
        return next((given[key] for key in (self.key, *self.aliases) if given.get(key)), "")


def _date(text: str, label: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise BadFilter(messages.filter_bad_date(label)) from exc


def _choice(text: str, label: str, allowed: frozenset[str]) -> str | None:
    if text and text not in allowed:
        raise BadFilter(messages.filter_bad_value(label))
    return text or None


def _number(text: str, label: str, low: float, high: float) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise BadFilter(messages.filter_not_a_number(label)) from exc
    if not low <= value <= high:
        raise BadFilter(messages.filter_out_of_range(label, low, high))
    return value


def _whole(text: str, label: str, high: int, otherwise: int) -> int:
    """A page number or size, 1 to ``high``; ``otherwise`` when missing."""
    return int(_number(text, label, 1, high) or otherwise)


def _flag(text: str, label: str) -> bool | None:
    if text in ("", "any"):
        return None
    if text in ("1", "yes", "true"):
        return True
    if text in ("0", "no", "false"):
        return False
    raise BadFilter(messages.filter_bad_value(label))


SYNTHETIC_CHOICES: dict[str, bool | None] = {
    "": False,
    "no": False,
    "0": False,
    "yes": None,
    "1": None,
    "any": None,
    "only": True,
}


def _synthetic(text: str, label: str) -> bool | None:
    """``synthetic=``: missing or no leaves test traffic out, yes includes it, only shows nothing else."""
    if text not in SYNTHETIC_CHOICES:
        raise BadFilter(messages.filter_bad_value(label))
    return SYNTHETIC_CHOICES[text]


def _tag(text: str, label: str) -> str | None:
    if text and not TAG.match(text):
        raise BadFilter(messages.FILTER_BAD_TAG)
    return text or None


def _search(text: str, label: str) -> str | None:
    if len(text) > MAX_TEXT:
        raise BadFilter(messages.filter_text_too_long(MAX_TEXT))
    return text or None


def _sort(text: str, label: str) -> str:
    if (text or "started") not in SORT_COLUMNS:
        raise BadFilter(messages.FILTER_BAD_SORT)
    return text or "started"


def _text(value: str | None) -> str:
    return value or ""


def _iso(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _flag_text(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _unless(default: int) -> Callable[[int], str]:
    """A page number or size as text, "" (left out of links) when it is ``default``."""
    return lambda value: "" if value == default else str(value)


CATEGORIES = frozenset({c.value for c in Category} | {OTHER})
INTENTS = frozenset(INTENT_CATEGORY) | {FALLBACK_INTENT}

# In the order of the links' query strings and of `ops list --help`.
FILTERS: tuple[FilterSpec, ...] = (
    FilterSpec(
        "date_from",
        "from",
        "--from",
        _date,
        _iso,
        "開始日期",
        "Conversations started on or after this day (Asia/Taipei).",
        metavar="YYYY-MM-DD",
    ),
    FilterSpec(
        "date_to",
        "to",
        "--to",
        _date,
        _iso,
        "結束日期",
        "Conversations started on or before this day.",
        metavar="YYYY-MM-DD",
    ),
    FilterSpec(
        "channel",
        "channel",
        "--channel",
        partial(_choice, allowed=frozenset(CHANNELS)),
        _text,
        "管道",
        f"{', '.join(CHANNELS[:-1])} or {CHANNELS[-1]}.",
    ),
    FilterSpec(
        "category",
        "category",
        "--category",
        partial(_choice, allowed=CATEGORIES),
        _text,
        "類別",
        "Main category, e.g. loan, us_tariff, other.",
    ),
    FilterSpec(
        "intent",
        "intent",
        "--intent",
        partial(_choice, allowed=INTENTS),
        _text,
        "意圖",
        "Some message had this intent.",
    ),
    FilterSpec(
        "below",
        "below",
        "--below",
        partial(_number, low=0.0, high=1.0),
        lambda v: "" if v is None else str(v),
        "信心值門檻",
        "Some typed message had a confidence below this (0-1).",
        metavar="CONFIDENCE",
    ),
    FilterSpec(
        "failed",
        "failed",
        "--fell-back",
        _flag,
        _flag_text,
        "需要檢視",
        "Some message failed (bot/ops/failures.py; the 需要檢視 queue).",
        choices=YES_NO,
        aliases=("fell_back",),
    ),
    FilterSpec(
        "synthetic",
        "synthetic",
        "--synthetic",
        _synthetic,
        {False: "", None: "yes", True: "only"}.__getitem__,
        "測試流量",
        "Synthetic traffic (bot/ops/synthetic.py): leave out, include, or only it.",
        choices=("no", "yes", "only"),
        default="no",
    ),
    FilterSpec(
        "handed_off", "handed_off", "--handed-off", _flag, _flag_text, "轉真人", "A ticket was opened.", choices=YES_NO
    ),
    FilterSpec("rating", "rating", "--rating", partial(_choice, allowed=RATINGS), _text, "評分", "1-5, or none."),
    FilterSpec("tag", "tag", "--tag", _tag, _text, "標籤", "Has this tag."),
    FilterSpec(
        "reviewed", "reviewed", "--reviewed", _flag, _flag_text, "已檢視", "Marked reviewed or not.", choices=YES_NO
    ),
    FilterSpec(
        "q", "q", "--q", _search, _text, "搜尋文字", "Free text in what the user or the bot said, or a conversation id."
    ),
    FilterSpec(
        "sort",
        "sort",
        "--sort",
        _sort,
        str,
        "排序欄位",
        "started, last, questions, confidence, failures, fallbacks.",
        default="started",
    ),
    FilterSpec(
        "desc",
        "order",
        "--asc",
        lambda text, label: text != "asc",
        lambda desc: "desc" if desc else "asc",
        "順序",
        "Oldest/smallest first.",
        flag_value="asc",
    ),
    FilterSpec("page", "page", "--page", partial(_whole, high=10**6, otherwise=1), _unless(1), "頁碼", default="1"),
    FilterSpec(
        "per_page",
        "per_page",
        "--per-page",
        partial(_whole, high=MAX_PER_PAGE, otherwise=25),
        _unless(25),
        "每頁筆數",
        default="25",
    ),
)
