"""Rasa's RabbitMQ event broker: an id on every message, and a turn's events confirmed before the reply.

RabbitMQ delivers at least once: a consumer that dies after writing an event but before
acknowledging it gets the message again. Rasa's ``PikaEventBroker`` sends no message id,
and two events may have the same body, so we add a fresh UUID per publish; the
consumer stores each id once (``bot/scaled/consumer.py``).

Rasa's ``publish`` only schedules the send on the event loop and returns: the reply can
reach the caller while the events are still in the Rasa process, and a crash then
loses them. The masking tracker store calls :meth:`publish_masked_batch` instead,
which sends the turn's events at once and waits for RabbitMQ's publisher confirms
(persistent messages on a durable queue: confirmed once RabbitMQ has them on disk), so
the reply goes out only after its events are safe. If RabbitMQ cannot be reached the
events are kept in memory for the reconnect, as Rasa does, and the error is logged.
"""

from __future__ import annotations

import asyncio
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
        """Publish a turn's (masked) events and wait until RabbitMQ confirmed each."""
        if self._exchange is None:
            logger.error("RabbitMQ is not connected; keeping %d events for the reconnect", len(events))
            self._unpublished_events.extend(events)
            return
        results = await asyncio.gather(
            *(self._exchange.publish(self._message(e, None), "") for e in events), return_exceptions=True
        )
        failed = [e for e, r in zip(events, results) if isinstance(r, BaseException)]
        if failed:
            logger.error("RabbitMQ refused %d of %d events; keeping them for the reconnect", len(failed), len(events))
            self._unpublished_events.extend(failed)
