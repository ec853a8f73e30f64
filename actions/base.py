"""What several actions share: reading the latest message's entities, and the retrying form base."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher


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


class RetryingFormValidation(FormValidationAction, ABC):
    """A form that asks an unreadable answer once more, then gives the question up.

    The cap is the job financial-demo gives ``CustomFormValidationAction``: a caller who
    cannot answer is not asked the same question forever. The count lives in a slot (no
    conversation data on ``self``: rasa_sdk keeps one instance per action); abstract, so
    rasa_sdk registers only the forms built on it.
    """

    retries_slot: ClassVar[str]  # a float slot counting the re-asks of the current question
    skip_response: ClassVar[str]  # said when a question is given up
    skipped_value: ClassVar[Any]  # stored for a question given up
    max_retries: ClassVar[int] = 1

    @abstractmethod
    def name(self) -> str: ...

    def accept(self, slot: str, value: Any) -> dict[str, Any]:
        """``value`` for ``slot``, and the next question starts with no re-asks."""
        return {slot: value, self.retries_slot: 0.0}

    def reask(self, dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, response: str) -> dict[str, Any]:
        """Ask ``slot`` again with ``response``; after ``max_retries`` re-asks, say so and store the skipped value."""
        retries = float(tracker.get_slot(self.retries_slot) or 0)
        if retries >= self.max_retries:
            dispatcher.utter_message(response=self.skip_response)
            return self.accept(slot, self.skipped_value)
        dispatcher.utter_message(response=response)
        return {slot: None, self.retries_slot: retries + 1}
