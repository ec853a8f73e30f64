"""What a ticket needs from a conversation: transcript, category, summary, urgency.

Pure functions over Rasa tracker events (the JSON the action server receives).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from bot.categories import HOTLINE_CATEGORIES, INTENT_CATEGORY
from bot.handoff.urgency import urgent_reason

HOTLINE_VALUES = {c.value for c in HOTLINE_CATEGORIES}


def transcript(events: Iterable[Mapping[str, Any]], limit: int = 60) -> list[dict[str, Any]]:
    """User and bot messages, each user message with its intent, confidence and entities."""
    lines: list[dict[str, Any]] = []
    in_form = False
    for event in events:
        kind = event.get("event")
        if kind == "active_loop":
            in_form = bool(event.get("name"))
            continue
        at = dt.datetime.fromtimestamp(event.get("timestamp") or 0, dt.timezone.utc).isoformat(timespec="seconds")
        if kind == "user":
            parse = event.get("parse_data") or {}
            intent = parse.get("intent") or {}
            line = {"who": "user", "text": event.get("text") or "", "intent": intent.get("name"),
                    "confidence": round(float(intent.get("confidence") or 0), 3), "at": at,
                    "entities": [{"entity": e.get("entity"), "value": e.get("value")} for e in parse.get("entities", [])]}
            if in_form:
                line["form_answer"] = True  # a name or a phone number, not a question
            lines.append(line)
        elif kind == "bot" and event.get("text"):
            lines.append({"who": "bot", "text": event["text"], "at": at})
    return lines[-limit:]


HANDOFF_INTENTS = {"handoff_request", "handoff_complaint", "disaster_report"}


def questions(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The user's own questions: not answers to a form, whose intent is noise.

    The classifier reads a form answer such as 「陳美玲 美玲小吃店」 as anything at all
    (a tariff question, say), so category, summary and urgency ignore them.
    """
    return [l for l in lines if l["who"] == "user" and not l.get("form_answer")]


def category(lines: list[dict[str, Any]]) -> str:
    """The latest hotline topic the user asked about, else ``handoff``."""
    for line in reversed(questions(lines)):
        cat = INTENT_CATEGORY.get(line.get("intent") or "")
        if cat is not None and cat.value in HOTLINE_VALUES:
            return cat.value
    return "handoff"


def summary(lines: list[dict[str, Any]], limit: int = 200) -> str:
    """The user's topical messages, most recent last, trimmed to ``limit`` characters."""
    topical = [l["text"] for l in questions(lines) if l.get("intent") not in HANDOFF_INTENTS
               and not str(l.get("intent") or "").startswith(("dialogue", "chitchat")) and not l["text"].startswith("/")]
    text = " / ".join(topical[-3:]) or "（使用者要求真人協助）"
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
