"""Rasa's RabbitMQ event broker with an id on every message, so the consumer can drop repeats.

RabbitMQ delivers at least once: a consumer that dies after writing an event but before
acknowledging it gets the message again. Rasa's ``PikaEventBroker`` sends no message id,
and two events may have the same body, so we add a fresh UUID per publish; the
consumer stores each id once (``bot/ops/consumer.py``).
"""

from __future__ import annotations

import uuid
from typing import Any

import aio_pika
from rasa.core.brokers.pika import PikaEventBroker


class HotlinePikaEventBroker(PikaEventBroker):
    """``PikaEventBroker`` whose messages carry a ``message_id`` (endpoints: ``type: bot.ops.broker.HotlinePikaEventBroker``)."""

    def _message(self, event: dict[str, Any], headers: dict[str, str] | None) -> aio_pika.Message:
        message = super()._message(event, headers)
        message.message_id = uuid.uuid4().hex
        return message
