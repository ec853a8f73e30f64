"""The one map from intents to hotline categories.

Every intent in ``domain.yml`` belongs to exactly one category here; a test
checks it. Categories mirror the hotline's call table (seed 000: 貸款 68%,
美國關稅 11%, 政策資源諮詢 10%, 債權債務協商 4%, 數位轉型/研發 4%, 災害協處 3%)
plus the conversational ones.

``dialogue`` is ours: turn-taking replies (yes, no, "那利率呢？") carry no
topic of their own; their topic is the conversation's. Giving them a category
keeps "every intent has exactly one category" true without pretending that
「那截止日期呢」 is a loan question.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import overload


class Category(str, Enum):
    """A hotline category; values are stable identifiers used in data and reports."""

    LOAN = "loan"
    US_TARIFF = "us_tariff"
    POLICY = "policy"
    DEBT_NEGOTIATION = "debt_negotiation"
    DIGITAL_RD = "digital_rd"
    DISASTER = "disaster"
    HANDOFF = "handoff"
    OUT_OF_SCOPE = "out_of_scope"
    CHITCHAT = "chitchat"
    DIALOGUE = "dialogue"


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    """How a category is shown to users and staff."""

    category: Category
    label: str  # short zh-TW button label
    description: str  # plain words, used when the bot asks 「您是想問…？」
    hotline: bool  # one of the six hotline topics (counted in the call table)


CATEGORY_INFO: dict[Category, CategoryInfo] = {
    info.category: info
    for info in (
        CategoryInfo(Category.LOAN, "貸款", "貸款（額度、利率、怎麼申請）", True),
        CategoryInfo(Category.US_TARIFF, "美國關稅", "美國關稅影響的協助措施", True),
        CategoryInfo(Category.POLICY, "政策資源", "政府補助、培訓與租稅優惠", True),
        CategoryInfo(Category.DEBT_NEGOTIATION, "債務協商", "跟銀行協商還款、展延", True),
        CategoryInfo(Category.DIGITAL_RD, "數位轉型與研發", "數位轉型、AI、SBIR研發補助", True),
        CategoryInfo(Category.DISASTER, "災害協處", "颱風、地震等災後的貸款與補助", True),
        CategoryInfo(Category.HANDOFF, "找真人客服", "請真人客服協助", False),
        CategoryInfo(Category.OUT_OF_SCOPE, "其他問題", "不屬於中小企業服務的問題", False),
        CategoryInfo(Category.CHITCHAT, "打招呼", "打招呼或閒聊", False),
        CategoryInfo(Category.DIALOGUE, "接續對話", "回答或追問上一個話題", False),
    )
}

HOTLINE_CATEGORIES: tuple[Category, ...] = tuple(c for c, i in CATEGORY_INFO.items() if i.hotline)
# Their values as stored (knowledge records' ``category``, ops rows, NLU parses), in the same order.
HOTLINE_VALUES: tuple[str, ...] = tuple(c.value for c in HOTLINE_CATEGORIES)

INTENT_CATEGORY: dict[str, Category] = {
    "loan_ask": Category.LOAN,
    "us_tariff_ask": Category.US_TARIFF,
    "policy_ask": Category.POLICY,
    "policy_find_scheme": Category.POLICY,
    "debt_negotiation_ask": Category.DEBT_NEGOTIATION,
    "digital_rd_ask": Category.DIGITAL_RD,
    "disaster_ask": Category.DISASTER,
    "disaster_report": Category.DISASTER,
    "handoff_request": Category.HANDOFF,
    "handoff_complaint": Category.HANDOFF,
    "handoff_rate": Category.HANDOFF,
    "out_of_scope": Category.OUT_OF_SCOPE,
    "chitchat_greet": Category.CHITCHAT,
    "chitchat_thanks": Category.CHITCHAT,
    "chitchat_goodbye": Category.CHITCHAT,
    "chitchat_identity": Category.CHITCHAT,
    "chitchat_capabilities": Category.CHITCHAT,
    "chitchat_hours": Category.CHITCHAT,
    "chitchat_call_cost": Category.CHITCHAT,
    "chitchat_privacy": Category.CHITCHAT,
    "dialogue_affirm": Category.DIALOGUE,
    "dialogue_deny": Category.DIALOGUE,
    "dialogue_followup": Category.DIALOGUE,
    # Steering forms and the wait for a person (data/nlu/form_control.yml).
    "form_cancel": Category.DIALOGUE,
    "form_resume": Category.DIALOGUE,
    "hotline_ask": Category.CHITCHAT,
    "restart": Category.HANDOFF,  # 「取消轉接」: withdraws a handoff (actions/form_control.py)
}

# Rasa's own intent for low-confidence messages (FallbackClassifier).
FALLBACK_INTENT = "nlu_fallback"


class UnknownIntent(KeyError):
    """An intent that is not in INTENT_CATEGORY."""


def category_of(intent: str) -> Category:
    """Return the category of ``intent``; the fallback intent counts as out of scope.

    Raises:
        UnknownIntent: the intent is not mapped (a data or domain error).
    """
    if intent == FALLBACK_INTENT:
        return Category.OUT_OF_SCOPE
    try:
        return INTENT_CATEGORY[intent]
    except KeyError as exc:
        raise UnknownIntent(intent) from exc


class Channel(str, Enum):
    """A channel a conversation comes in on; values are the names Rasa's input channels give themselves."""

    REST = "rest"
    LINE = "line"
    SOCKETIO = "socketio"

    @property
    def label(self) -> str:
        """The zh-TW name staff read in the console and on the ops pages."""
        return CHANNEL_LABELS[self]


CHANNEL_LABELS: dict[Channel, str] = {Channel.REST: "網頁/REST", Channel.LINE: "LINE", Channel.SOCKETIO: "網頁聊天"}
CHANNELS: tuple[str, ...] = tuple(c.value for c in Channel)


def channel_label(value: str | None) -> str | None:
    """The zh-TW label of a channel value; any other value as it is."""
    try:
        return Channel(value).label
    except ValueError:
        return value


# Ops tables put conversations without a hotline topic (greetings, out of scope only) under this value.
OTHER = "other"


@overload
def category_label(value: str) -> str: ...
@overload
def category_label(value: None) -> None: ...
def category_label(value: str | None) -> str | None:
    """The zh-TW label of a category value, 其他 for :data:`OTHER`; any other value as it is."""
    try:
        return CATEGORY_INFO[Category(value)].label
    except ValueError:
        return "其他" if value == OTHER else value


# The intent a topic button sends (「您是想問…？」 and the greeting's buttons).
TOPIC_INTENT: dict[Category, str] = {
    Category.LOAN: "loan_ask",
    Category.US_TARIFF: "us_tariff_ask",
    Category.POLICY: "policy_ask",
    Category.DEBT_NEGOTIATION: "debt_negotiation_ask",
    Category.DIGITAL_RD: "digital_rd_ask",
    Category.DISASTER: "disaster_ask",
}


def main_topic(categories: list[str]) -> str | None:
    """The one rule for a conversation's topic, used by tickets and the ops pages alike.

    The hotline topic the caller asked about most (``categories``: one value per
    question, oldest first); a tie goes to the topic asked most recently, the one
    on the caller's mind when a ticket opens. ``None`` when no hotline topic was asked.
    Every topic still counts per message in the metrics, so a second topic is not lost.
    """
    counts: dict[str, int] = {}
    latest: dict[str, int] = {}
    for position, value in enumerate(categories):
        if value in HOTLINE_VALUES:
            counts[value] = counts.get(value, 0) + 1
            latest[value] = position
    if not counts:
        return None
    return max(counts, key=lambda value: (counts[value], latest[value]))
