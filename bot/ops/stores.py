"""Rasa's SQL tracker store and SQL event broker, masking personal data before they store it.

Configured by module path in endpoints.yml (``type: bot.ops.stores.MaskingSQLTrackerStore``);
Rasa 3.6 imports such a type with ``class_from_module_path`` and calls the tracker
store with ``host=url, domain=, event_broker=, **kwargs`` and the broker's
``from_endpoint_config`` (``rasa/core/tracker_store.py``,
``rasa/core/brokers/broker.py``). Both inherit everything else, so they work on any
SQLAlchemy dialect Rasa's own classes do (SQLite by default, PostgreSQL when
``url`` is a ``postgresql://`` URL).

Why mask in the stores rather than in a channel: every event reaches storage only
through these two (user text, slot values set by actions, bot text, staff replies
posted through the HTTP API), so nothing is stored unmasked whatever produced it.
The cost: a tracker reloaded for the next message holds masked values; form
actions keep the real contact a callback needs in the staff-only ticket database
(``actions/handoff.py``).

Note that Rasa silently falls back to an in-memory tracker store when a custom
type cannot be imported; tests/ops/test_storage_privacy.py checks rows arrive.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa.core.brokers.sql import SQLEventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from bot.log import mask_all_records
from bot.ops.masking import mask_event

logger = logging.getLogger(__name__)


class MaskingSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore whose stored and streamed events are masked (:func:`mask_event`).

    Creating it also masks every log record of the Rasa process
    (:func:`bot.log.mask_all_records`): the process that keeps conversations
    masked must not print them either.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        mask_all_records()
        super().__init__(*args, **kwargs)

    async def save(self, tracker: Any) -> None:
        """Store the events not stored yet, masked (SQLTrackerStore.save with one change)."""
        await self.stream_events(tracker)
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = mask_event(event.as_dict())
                session.add(self.SQLEvent(
                    sender_id=tracker.sender_id, type_name=event.type_name, timestamp=data.get("timestamp"),
                    intent_name=(data.get("parse_data") or {}).get("intent", {}).get(INTENT_NAME_KEY),
                    action_name=data.get("name"), data=json.dumps(data),
                ))
            session.commit()
        logger.debug("tracker %s stored (masked)", tracker.sender_id)

    async def _stream_new_events(self, event_broker: Any, new_events: list[Any], sender_id: str) -> None:
        """Publish masked events, so even a plain (non-masking) broker gets no personal data."""
        for event in new_events:
            event_broker.publish(mask_event({"sender_id": sender_id, **event.as_dict()}))


class MaskingSQLEventBroker(SQLEventBroker):
    """SQLEventBroker that masks each event before writing it (table ``events(id, sender_id, data)``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        mask_all_records()
        super().__init__(*args, **kwargs)

    def publish(self, event: dict[str, Any]) -> None:
        super().publish(mask_event(event))
