"""What a ticket needs from a conversation: transcript, category, summary, urgency.

Pure functions over Rasa tracker events (the JSON the action server receives).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from bot.categories import INTENT_CATEGORY, main_topic
from bot.clock import TAIPEI
from bot.formats import clip
from bot.handoff.urgency import urgent_reason

# Lines a ticket keeps (as many as the console's live view shows): the whole of a long session,
# so the summary, category and schemes see the caller's first question too.
TICKET_LINES = 200


def line_time(event: Mapping[str, Any]) -> str:
    """A transcript line's ``at``: the event's second in Taipei time (unsend matches lines by it)."""
    return dt.datetime.fromtimestamp(event.get("timestamp") or 0, TAIPEI).isoformat(timespec="seconds")


def transcript(events: Iterable[Mapping[str, Any]], limit: int = 60) -> list[dict[str, Any]]:
    """User, bot and staff messages in order, each with its Taipei time (ISO).

    A user message carries its intent, confidence and entities; a button tap also
    carries ``tapped``, the title the caller saw (its text is the payload). A staff
    reply relayed through Rasa is ``who: staff`` with the staff member's name.
    """
    lines: list[dict[str, Any]] = []
    in_form = False
    offered: dict[str, str] = {}
    for event in events:
        kind = event.get("event")
        if kind == "active_loop":
            in_form = bool(event.get("name"))
            continue
        at = line_time(event)
        if kind == "user":
            parse = event.get("parse_data") or {}
            intent = parse.get("intent") or {}
            text = event.get("text") or ""
            line = {
                "who": "user",
                "text": text,
                "intent": intent.get("name"),
                "confidence": round(float(intent.get("confidence") or 0), 3),
                "at": at,
                "entities": [{"entity": e.get("entity"), "value": e.get("value")} for e in parse.get("entities", [])],
            }
            if text.startswith("/") and text in offered:
                line["tapped"] = offered[text]
            if in_form:
                line["form_answer"] = True  # a name or a phone number, not a question
            lines.append(line)
        elif kind == "bot" and event.get("text"):
            staff = (event.get("metadata") or {}).get("staff")
            lines.append(
                {"who": "staff", "staff": str(staff), "text": event["text"], "at": at}
                if staff
                else {"who": "bot", "text": event["text"], "at": at}
            )
            buttons = (event.get("data") or {}).get("buttons") or []
            if buttons:
                offered = {str(b.get("payload")): str(b.get("title")) for b in buttons}
    return lines[-limit:]


HANDOFF_INTENTS = {"handoff_request", "handoff_complaint", "disaster_report"}


def questions(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The user's own questions: not answers to a form, whose intent is noise.

    The classifier reads a form answer such as 「陳美玲 美玲小吃店」 as anything at all
    (a tariff question, say), so category, summary and urgency ignore them.
    """
    return [line for line in lines if line["who"] == "user" and not line.get("form_answer")]


def category(lines: list[dict[str, Any]]) -> str:
    """The conversation's topic by the one rule (bot.categories.main_topic), else ``handoff``."""
    found = [
        INTENT_CATEGORY[line["intent"]].value for line in questions(lines) if line.get("intent") in INTENT_CATEGORY
    ]
    return main_topic(found) or "handoff"


# Entities worth a line in the summary, with the words staff read.
FACT_LABELS = {
    "scheme": "措施",
    "attribute": "想知道",
    "employees": "員工數",
    "amount": "金額",
    "county": "縣市",
    "industry": "行業",
    "disaster_type": "災害",
}
ATTRIBUTE_WORDS = {
    "max_amount": "額度",
    "interest_rate": "利率",
    "loan_term": "貸款期限",
    "documents": "應備文件",
    "eligibility": "申請資格",
    "how_to_apply": "申請方式",
    "deadline": "申請期限",
    "contact": "洽詢電話",
    "grace_period": "寬限期",
    "guarantee_ratio": "保證成數",
    "interest_subsidy": "利息補貼",
}
REASON_LABELS = {
    "complaint": "抱怨或不滿",
    "disaster_report": "災情通報",
    "urgent": "緊急狀況",
    "misses": "機器人兩次聽不懂",
    "asked": "使用者主動要求真人",
}


def handoff_reason(lines: list[dict[str, Any]]) -> str:
    """Why the caller reached a person: complaint, disaster report, urgent topic, two misses, or asked."""
    asked = questions(lines)
    if any(line.get("intent") == "handoff_complaint" for line in asked):
        return "complaint"
    if any(line.get("intent") == "disaster_report" for line in asked):
        return "disaster_report"
    if urgency(lines):
        return "urgent"
    if sum(1 for line in asked if line.get("intent") == "nlu_fallback" or line.get("intent") == "out_of_scope") >= 2:
        return "misses"
    return "asked"


def facts(lines: list[dict[str, Any]]) -> list[str]:
    """What the caller told us, as 「員工數 8」 phrases (latest value of each kind, form answers left out)."""
    found: dict[str, str] = {}
    for line in questions(lines):
        for entity in line.get("entities", []):
            name, value = str(entity.get("entity")), str(entity.get("value"))
            if name in FACT_LABELS and name != "scheme":
                found[name] = ATTRIBUTE_WORDS.get(value, value) if name == "attribute" else value
    return [f"{FACT_LABELS[k]} {v}" for k, v in found.items()]


def summary(lines: list[dict[str, Any]], limit: int = 200) -> str:
    """主題、轉真人原因、民眾提供的資料、最後的問題: what staff need before reading the transcript."""
    from bot.categories import category_label

    topic = category(lines)
    parts = [
        f"主題：{category_label(topic) if topic != 'handoff' else '未指明'}",
        f"原因：{REASON_LABELS[handoff_reason(lines)]}",
    ]
    told = facts(lines)
    if told:
        parts.append("提供：" + "、".join(told))
    topical = [
        line["text"]
        for line in questions(lines)
        if line.get("intent") not in HANDOFF_INTENTS
        and not str(line.get("intent") or "").startswith(("dialogue", "chitchat"))
        and not line["text"].startswith("/")
    ]
    if topical:
        parts.append(f"問題：{clip(topical[-1], 60)}")
    return clip("｜".join(parts), limit)


def schemes(lines: list[dict[str, Any]], current: str | None = None) -> list[str]:
    """Schemes the caller typed, tapped or was answered about, first mention first (``current``: the slot)."""
    found: list[str] = []
    for line in lines:
        for entity in line.get("entities", []) if line.get("who") == "user" else []:
            value = str(entity.get("value") or "")
            if entity.get("entity") == "scheme" and value and value not in found:
                found.append(value)
    if current and current not in found:
        found.append(current)
    return found


def urgency(lines: list[dict[str, Any]]) -> str | None:
    for line in reversed(questions(lines)):
        reason = urgent_reason(line["text"], line.get("intent"))
        if reason:
            return reason
    return None


def entities(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for line in lines:
        for entity in line.get("entities", []):
            seen[(str(entity["entity"]), str(entity["value"]))] = entity
    return list(seen.values())
