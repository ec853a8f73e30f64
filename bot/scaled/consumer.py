"""RabbitMQ consumer: the scaled profile's events into the ops database, each exactly once.

Rasa servers publish every turn's events to a fanout exchange (``HotlinePikaEventBroker``),
one message per turn (a JSON list; a message of one JSON object is one event, as Rasa's
own ``publish`` sends);
the durable queue keeps them while no consumer runs, so a consumer that restarts
catches up. Rows go to the ``events (id, sender_id, data)`` table exactly as Rasa's
``SQLEventBroker`` writes it, so the ops pages read either profile's database the same
way. Delivery is at least once; each message id is stored beside its event in the same
transaction and acknowledged only after the commit, so a redelivery after a crash is
skipped instead of written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

logger = logging.getLogger(__name__)

METADATA = sa.MetaData()
EVENTS = sa.Table(
    "events",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255)),
    sa.Column("data", sa.Text),
)
DELIVERED = sa.Table(
    "broker_messages",
    METADATA,
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("event_id", sa.Integer),
)
BATCH = 500
# After the first message of a batch, wait this long for more before writing. A batch costs
# about the same whatever its size (one executor hop, three statements, one commit, one
# acknowledgement), and under load a turn's events arrive within milliseconds of each other,
# so without a pause each batch held about one turn. The wait delays only the ops pages:
# the events are on RabbitMQ's disk already (the broker waited for its confirms), and a
# crash during the wait loses nothing (unacknowledged messages are delivered again).
LINGER_SECONDS = 0.2


@dataclass(frozen=True, slots=True)
class Delivery:
    """One broker message: its id (or a digest of its body) and the decoded event."""

    message_id: str
    event: dict[str, Any]


def decode(body: bytes, message_id: str | None) -> Delivery:
    """Raises ``ValueError`` for a body that is not a JSON object."""
    event = json.loads(body)
    if not isinstance(event, dict):
        raise ValueError("event is not a JSON object")
    return Delivery(message_id or "sha256:" + hashlib.sha256(body).hexdigest()[:57], event)


def deliveries_of(body: bytes, message_id: str | None) -> list[Delivery]:
    """The events of one message: a JSON object is one event (Rasa's own ``publish``), a JSON list
    of objects a turn's events (``HotlinePikaEventBroker.publish_masked_batch``), each with the
    message's id and its place in the list (``<id>#<i>``), so a redelivered turn is skipped event
    by event. Raises ``ValueError`` for anything else."""
    events = json.loads(body)
    if isinstance(events, dict):
        return [decode(body, message_id)]
    if not isinstance(events, list) or not events or not all(isinstance(e, dict) for e in events):
        raise ValueError("message is neither a JSON object nor a list of them")
    base = message_id or "sha256:" + hashlib.sha256(body).hexdigest()[:50]
    return [Delivery(f"{base}#{i}", event) for i, event in enumerate(events)]


class OpsEventWriter:
    """Writes deliveries to the ops database, masked; a message id already stored is skipped."""

    def __init__(self, url: str, mask: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        from bot.privacy.masking import mask_event

        self.engine = sa.create_engine(url, future=True)
        METADATA.create_all(self.engine)
        # The masking tracker store publishes masked events already; masking again here keeps
        # personal data out of the ops database whatever published to the queue.
        self.mask = mask or mask_event
        self._sequence: str | None = None  # the events id sequence's name, '' when there is none

    def write(self, deliveries: list[Delivery]) -> int:
        """Store the batch in one transaction; returns how many events were new."""
        if not deliveries:
            return 0
        with self.engine.begin() as db:
            # One look-up for the whole batch; the set also skips a repeat within the batch.
            seen = set(
                db.scalars(
                    sa.select(DELIVERED.c.message_id).where(
                        DELIVERED.c.message_id.in_({d.message_id for d in deliveries})
                    )
                )
            )
            fresh: list[Delivery] = []
            for delivery in deliveries:
                if delivery.message_id not in seen:
                    seen.add(delivery.message_id)
                    fresh.append(delivery)
            if not fresh:
                return 0
            rows = [
                {"sender_id": e.get("sender_id"), "data": json.dumps(e)} for e in (self.mask(d.event) for d in fresh)
            ]
            ids = self._new_ids(db, len(rows))
            if ids is None:  # no sequence to draw from (SQLite): one execution per event, for its id
                insert_event = EVENTS.insert()
                ids = [db.execute(insert_event, row).inserted_primary_key[0] for row in rows]
            else:  # ids drawn in delivery order, then all rows in one executemany (one round trip)
                db.execute(EVENTS.insert(), [{"id": i, **row} for i, row in zip(ids, rows)])
            # the ids of the whole batch in one statement, in the same transaction
            db.execute(DELIVERED.insert(), [{"message_id": d.message_id, "event_id": i} for d, i in zip(fresh, ids)])
        return len(fresh)

    def _new_ids(self, db: sa.engine.Connection, count: int) -> list[int] | None:
        """``count`` ids from the events table's sequence, ascending (PostgreSQL), else None.

        Drawn with ``nextval`` as the column default would draw them, so a concurrent writer
        (another consumer, Rasa's SQL broker) never gets the same id; sorted so the batch's
        events keep their delivery order in ``id`` order, which the ops pages read.
        """
        if self.engine.dialect.name != "postgresql":
            return None
        if self._sequence is None:
            self._sequence = db.scalar(sa.text("select coalesce(pg_get_serial_sequence('events', 'id'), '')"))
        if not self._sequence:
            return None
        drawn = db.scalars(
            sa.text("select nextval(:seq) from generate_series(1, :n)"), {"seq": self._sequence, "n": count}
        )
        return sorted(drawn)

    def close(self) -> None:
        self.engine.dispose()


async def serve_health(port: int, healthy: Callable[[], bool]) -> asyncio.AbstractServer:
    """``GET /health`` on 127.0.0.1:``port``: 200 while connected to RabbitMQ, else 503 (for probes)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        ok = healthy()
        body = b"ok\n" if ok else b"not connected\n"
        writer.write(
            b"HTTP/1.1 "
            + (b"200 OK" if ok else b"503 Service Unavailable")
            + b"\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", port)


async def consume(
    amqp: Mapping[str, Any],
    queue_name: str,
    writer: OpsEventWriter,
    stop: asyncio.Event,
    health_port: int | None = None,
) -> int:
    """Read ``queue_name`` until ``stop`` is set; returns how many new events were written.

    Args:
        amqp: ``host``, ``port``, ``login``, ``password`` for ``aio_pika.connect_robust``.
    """
    import aio_pika

    connection = await aio_pika.connect_robust(**amqp)
    health = await serve_health(health_port, lambda: not connection.is_closed) if health_port else None
    inbox: asyncio.Queue[aio_pika.abc.AbstractIncomingMessage] = asyncio.Queue()
    written = 0
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=BATCH)
        # The same exchange and binding the broker declares: whichever starts first sets them up.
        exchange = await channel.declare_exchange(queue_name, type=aio_pika.ExchangeType.FANOUT)
        queue = await channel.declare_queue(queue_name, durable=True)
        await queue.bind(exchange, "")
        await queue.consume(inbox.put)
        logger.info("consuming queue %s", queue_name)
        while not stop.is_set():
            waiting = asyncio.ensure_future(inbox.get())
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if waiting not in done:
                waiting.cancel()
                break
            stopping.cancel()
            batch = [waiting.result()]
            if LINGER_SECONDS and inbox.qsize() + 1 < BATCH:  # let the batch fill (see LINGER_SECONDS)
                with contextlib.suppress(asyncio.TimeoutError):  # a stop ends the wait early
                    await asyncio.wait_for(stop.wait(), LINGER_SECONDS)
            while not inbox.empty() and len(batch) < BATCH:
                batch.append(inbox.get_nowait())
            written += await _store(batch, writer)
    finally:
        if health:
            health.close()
        await connection.close()
    return written


async def _store(batch: list[Any], writer: OpsEventWriter) -> int:
    """Write the batch, then acknowledge it; undecodable messages are rejected (logged, not kept)."""
    deliveries = []
    for message in batch:
        try:
            deliveries += deliveries_of(message.body, message.message_id)
        except ValueError:
            logger.error("rejecting a message that is not a JSON event (id %s)", message.message_id)
            await message.reject(requeue=False)
    written = await asyncio.get_running_loop().run_in_executor(None, writer.write, deliveries)
    # One acknowledgement for the batch: ``multiple`` settles every outstanding delivery of the
    # channel up to the last one still open (a rejected message is settled already and stays so;
    # all of the batch came on the one channel, in order, and everything before it was settled).
    waiting = [message for message in batch if not message.processed]
    if waiting:
        await waiting[-1].ack(multiple=True)
    logger.debug("stored %d new of %d events", written, len(deliveries))
    return written
