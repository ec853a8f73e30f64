"""Rasa's Redis lock store made safe for several servers taking tickets at the same moment.

Rasa 3.6's ``RedisLockStore`` keeps a conversation's ticket queue as one JSON value and
changes it by read, modify, write (``issue_ticket``, ``update_lock``, ``cleanup``). Two
servers receiving a message for the same sender at once both read the same queue: they
draw the same ticket number (both messages run at once) or one overwrites or deletes the
other's ticket (``LockError``, the user gets an error). Our scale tests send concurrent
messages for one sender to two servers and saw both. Each read-modify-write here runs
under a short Redis mutex per conversation (redis-py's ``Lock``: ``SET NX PX`` and a
token-checked release), so the queue changes one at a time; waiting for one's turn is
Rasa's own loop, unchanged. Upstream knows the race (RasaHQ/rasa#9213); its fix, a
``ConcurrentRedisLockStore`` (#11256), was reverted from open-source Rasa (#11428).

A second flaw shows when a server dies holding a conversation's lock: its ticket expires
after the lock lifetime, but so does the ticket of the message waiting behind it (both
were issued with the same lifetime), and Rasa's waiting loop then waits for ever on an
empty queue (our failover test saw a retried message hang). Here a live waiter renews its
own ticket each time it looks, keeping its place; only the tickets of dead servers expire.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

# A change takes milliseconds. If a server dies holding the mutex, others wait at most this
# long; the wait blocks that server's event loop (Rasa calls these methods synchronously).
MUTEX_SECONDS = 2
POLL_SECONDS = 0.05  # Rasa polls every second; a queued message should not wait that long


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` with atomic ticket-queue changes (endpoints: ``type: bot.scaled.locks.AtomicRedisLockStore``)."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs}
        super().__init__(**kwargs)

    def _mutex(self, conversation_id: str) -> Any:
        return self.red.lock(
            f"{self.key_prefix}{conversation_id}:mutex",
            timeout=MUTEX_SECONDS,
            blocking_timeout=MUTEX_SECONDS + 1,
            sleep=0.002,
        )

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        with self._mutex(conversation_id):
            return super().issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        with self._mutex(conversation_id):
            super().update_lock(conversation_id)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        with self._mutex(conversation_id):
            super().cleanup(conversation_id, ticket_number)

    async def _acquire_lock(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        """Wait until ``ticket`` is the lowest live ticket, renewing it while waiting."""
        for _ in range(int(LOCK_LIFETIME * 4 / POLL_SECONDS)):
            with self._mutex(conversation_id):
                lock = self.get_or_create_lock(conversation_id)
                lock.remove_expired_tickets()
                mine = next((t for t in lock.tickets if t.number == ticket), None)
                if mine is None or mine.expires - time.time() < LOCK_LIFETIME / 2:
                    others = [t for t in lock.tickets if t.number != ticket]
                    lock.tickets = deque(
                        sorted([*others, Ticket(ticket, time.time() + LOCK_LIFETIME)], key=lambda t: t.number)
                    )
                    self.save_lock(lock)
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(min(wait_time_in_seconds, POLL_SECONDS))
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
