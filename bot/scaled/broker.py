"""Rasa's RabbitMQ event broker: an id on every message, and a turn's events confirmed before the reply.

RabbitMQ delivers at least once: a consumer that dies after writing an event but before
acknowledging it gets the message again. Rasa's ``PikaEventBroker`` sends no message id,
and two events may have the same body, so we add a fresh UUID per publish; the
consumer stores each id once (``bot/scaled/consumer.py``).

Rasa's ``publish`` only schedules the send on the event loop and returns: the reply can
reach the caller while the events are still in the Rasa process, and a crash then
loses them. The masking tracker store calls :meth:`publish_masked_batch` instead,
which sends the turn's events as one message and waits for RabbitMQ's publisher confirm
(persistent messages on a durable queue: confirmed once RabbitMQ has them on disk), so
the reply goes out only after its events are safe. If RabbitMQ cannot be reached the
events are kept in memory for the reconnect, as Rasa does, and the error is logged.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import aio_pika
from rasa.core.brokers.pika import PikaEventBroker

logger = logging.getLogger(__name__)


class HotlinePikaEventBroker(PikaEventBroker):
    """``PikaEventBroker`` whose messages carry a ``message_id`` (endpoints: ``type: bot.scaled.broker.HotlinePikaEventBroker``)."""

    def _message(self, event: dict[str, Any], headers: dict[str, str] | None) -> aio_pika.Message:
        message = super()._message(event, headers)
        message.message_id = uuid.uuid4().hex
        return message

    async def publish_masked_batch(self, events: list[dict[str, Any]]) -> None:
        """Publish a turn's (masked) events as one message and wait until RabbitMQ confirmed it.

        One message per turn, its body the JSON list of the events: a message costs the
        same to confirm, route and consume whatever its size, and a turn is 5–10 events.
        The consumer stores them as ``<message id>#<i>`` (``bot/scaled/consumer.py``); it must
        be this version or later before a Rasa server publishes lists (an older one rejects them).
        """
        if not events:
            return
        if self._exchange is None:
            logger.error("RabbitMQ is not connected; keeping %d events for the reconnect", len(events))
            self._unpublished_events.extend(events)
            return
        message = aio_pika.Message(
            json.dumps(events).encode("utf-8"),
            app_id=self.rasa_environment,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=uuid.uuid4().hex,
        )
        try:
            await self._exchange.publish(message, "")
        except Exception as error:  # noqa: BLE001 - kept for the reconnect, as Rasa keeps unpublished events
            logger.error(
                "RabbitMQ refused a turn of %d events (%s); keeping them for the reconnect", len(events), error
            )
            self._unpublished_events.extend(events)
