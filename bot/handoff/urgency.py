"""Urgent topics: the bot offers a person at once and the ticket goes first in the queue."""

from __future__ import annotations

import re
from enum import IntEnum


class Priority(IntEnum):
    """Lower is more urgent; the queue sorts on it."""

    URGENT = 1
    HIGH = 2
    NORMAL = 3


URGENT_PATTERNS: dict[str, re.Pattern[str]] = {
    "disaster_damage": re.compile(r"淹水|泡水|倒塌|震壞|吹走|燒毀|失火|土石流|受災|災損|停工"),
    "payroll_at_risk": re.compile(r"發不出(薪水|薪資)|付不出(薪水|薪資)|薪水發不出|欠薪|薪資.{0,4}(付不出|發不出)"),
    "debt_default": re.compile(r"跳票|退票|倒閉|周轉不靈|週轉不靈|還不出|繳不出|被催收|查封|拍賣|抽銀根|違約"),
}


def urgent_reason(text: str, intent: str | None = None) -> str | None:
    """Why a message is urgent (a key of URGENT_PATTERNS), or ``None``."""
    if intent == "disaster_report":
        return "disaster_damage"
    for reason, pattern in URGENT_PATTERNS.items():
        if pattern.search(text):
            return reason
    return None


def priority_for(reason: str | None, complaint: bool = False) -> Priority:
    if reason:
        return Priority.URGENT
    return Priority.HIGH if complaint else Priority.NORMAL
