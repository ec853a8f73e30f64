"""Two-stage fallback: which topics to offer, and whether this is the second miss.

Pure functions over Rasa's parse data and tracker events, so the action stays thin
and the rules are testable without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bot.categories import CATEGORY_INFO, FALLBACK_INTENT, HOTLINE_CATEGORIES, INTENT_CATEGORY, TOPIC_INTENT, Category
from bot.payloads import intent_payload


def likely_topics(ranking: Iterable[Mapping[str, Any]], count: int = 2) -> list[Category]:
    """The ``count`` likeliest hotline topics in an intent ranking, best first.

    Non-topic intents (chitchat, out of scope) are skipped; when the ranking names
    fewer topics, the busiest hotline topics fill in (loans first: 68% of calls).
    """
    topics: list[Category] = []
    for item in ranking:
        category = INTENT_CATEGORY.get(str(item.get("name")))
        if category in HOTLINE_CATEGORIES and category not in topics:
            topics.append(category)
    for category in HOTLINE_CATEGORIES:
        if category not in topics:
            topics.append(category)
    return topics[:count]


def topic_buttons(topics: Iterable[Category]) -> list[dict[str, str]]:
    """Buttons described in plain words, each sending the topic's intent."""
    return [{"title": CATEGORY_INFO[c].description, "payload": intent_payload(TOPIC_INTENT[c])} for c in topics]


def fallback_streak(events: Iterable[Mapping[str, Any]]) -> int:
    """How many of the latest user messages in a row fell back (low confidence)."""
    streak = 0
    for event in reversed(list(events)):
        if event.get("event") != "user":
            continue
        intent = (event.get("parse_data") or {}).get("intent") or {}
        if intent.get("name") != FALLBACK_INTENT:
            break
        streak += 1
    return streak
