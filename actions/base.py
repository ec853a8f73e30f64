"""What several actions share: reading the latest message's entities, and the retrying form base."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker


def latest_entities(tracker: Tracker, name: str) -> list[Any]:
    """Every value of entity ``name`` in the latest message, once each, in order.

    A button may carry 「a,b」 for two attributes (``attribute`` values are split at commas).
    """
    values: list[Any] = []
    for entity in tracker.latest_message.get("entities", []):
        if entity.get("entity") == name and entity.get("value") is not None:
            value = entity["value"]
            values += [v for v in str(value).split(",") if v] if name == "attribute" else [value]
    return list(dict.fromkeys(values))


def latest_entity(tracker: Tracker, name: str) -> Any:
    """The first value of entity ``name`` in the latest message, or ``None``."""
    values = latest_entities(tracker, name)
    return values[0] if values else None
