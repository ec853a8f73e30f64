"""The actions' error boundary: log without user text, tell the user, keep the conversation."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

logger = logging.getLogger(__name__)

Run = Callable[[Any, CollectingDispatcher, Tracker, DomainDict], Coroutine[Any, Any, list[dict[str, Any]]]]


def guarded(run: Run) -> Run:
    """Wrap ``Action.run``: any exception becomes utter_technical_problem, logged with ids only."""

    @functools.wraps(run)
    async def wrapper(
        self: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        try:
            return await run(self, dispatcher, tracker, domain)
        except Exception:  # noqa: BLE001 - the boundary
            intent = (tracker.latest_message.get("intent") or {}).get("name")
            logger.exception("action %s failed (sender %s, intent %s)", self.name(), tracker.sender_id, intent)
            dispatcher.utter_message(response="utter_technical_problem")
            return []

    return wrapper
