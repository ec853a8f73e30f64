"""Rasa's Redis lock store made safe for several servers taking tickets at the same moment.

Rasa 3.6's ``RedisLockStore`` keeps a conversation's ticket queue as one JSON value and
changes it by read, modify, write (``issue_ticket``, ``update_lock``, ``cleanup``). Two
servers receiving a message for the same sender at once both read the same queue: they
draw the same ticket number (both messages run at once) or one overwrites or deletes the
other's ticket (``LockError``, the user gets an error). Our scale tests send concurrent
messages for one sender to two servers and saw both. Here each change is one Lua script,
which Redis runs atomically, so the queue changes one at a time; waiting for one's turn is
Rasa's own loop, unchanged. Upstream knows the race (RasaHQ/rasa#9213); its fix, a
``ConcurrentRedisLockStore`` (#11256), was reverted from open-source Rasa (#11428).

A script per change is also what makes the lock cheap: a turn takes three Redis round trips
(issue, acquire, clean up). Rasa's read-modify-write under a mutex took thirteen, each a
synchronous call on the server's event loop (py-spy: 15% of a scaled Rasa server's samples).
The stored value keeps Rasa's ``TicketLock`` format, so ``get_lock`` reads it as before, and
times are the calling server's clock (``time.time()``) as in Rasa.

A second flaw shows when a server dies holding a conversation's lock: its ticket expires
after the lock lifetime, but so does the ticket of the message waiting behind it (both
were issued with the same lifetime), and Rasa's waiting loop then waits for ever on an
empty queue (our failover test saw a retried message hang). Here a live waiter renews its
own ticket each time it looks, keeping its place; only the tickets of dead servers expire.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

POLL_SECONDS = 0.05  # Rasa polls every second; a queued message should not wait that long

# The queue as Rasa's TicketLock stores it: {"conversation_id": ..., "tickets": ["{\"number\": n,
# \"expires\": t}", ...]} (each ticket a JSON string). load() reads it without the expired tickets
# (Rasa's has_expired: now > expires); dump() is the text to store.
_QUEUE = """
local function load(key, now)
  local raw = redis.call('GET', key)
  local tickets = {}
  if raw then
    for _, text in ipairs(cjson.decode(raw)['tickets'] or {}) do
      local ticket = cjson.decode(text)
      if not (now > ticket['expires']) then table.insert(tickets, ticket) end
    end
  end
  return tickets
end
local function dump(conversation, tickets)
  local texts = {}
  for i, t in ipairs(tickets) do
    texts[i] = cjson.encode(string.format('{"number": %d, "expires": %.6f}', t['number'], t['expires']))
  end
  return '{"conversation_id": ' .. cjson.encode(conversation) .. ', "tickets": [' .. table.concat(texts, ', ') .. ']}'
end
"""

# ARGV: conversation id, now, lifetime. Returns the new ticket's number (Rasa: last issued + 1, from 0).
_ISSUE = (
    _QUEUE
    + """
local now = tonumber(ARGV[2])
local tickets = load(KEYS[1], now)
local number = 0
if #tickets > 0 then number = tickets[#tickets]['number'] + 1 end
table.insert(tickets, {number = number, expires = now + tonumber(ARGV[3])})
redis.call('SET', KEYS[1], dump(ARGV[1], tickets))
return number
"""
)

# ARGV: conversation id, now, ticket, lifetime. Renews the ticket when it is missing or past half its
# lifetime (keeping its place by number), and returns the queue as stored.
_ACQUIRE = (
    _QUEUE
    + """
local now, number, lifetime = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tickets = load(KEYS[1], now)
local mine = nil
for i, t in ipairs(tickets) do if t['number'] == number then mine = i end end
if mine == nil or tickets[mine]['expires'] - now < lifetime / 2 then
  if mine ~= nil then table.remove(tickets, mine) end
  table.insert(tickets, {number = number, expires = now + lifetime})
  table.sort(tickets, function(a, b) return a['number'] < b['number'] end)
  local text = dump(ARGV[1], tickets)
  redis.call('SET', KEYS[1], text)
  return text
end
return dump(ARGV[1], tickets)
"""
)

# ARGV: conversation id, now, ticket. Rasa's cleanup: the ticket leaves the queue, and the queue is
# deleted when no one else waits.
_CLEANUP = (
    _QUEUE
    + """
local now, number = tonumber(ARGV[2]), tonumber(ARGV[3])
local tickets = load(KEYS[1], now)
local kept = {}
for _, t in ipairs(tickets) do if t['number'] ~= number then table.insert(kept, t) end end
if #kept == 0 then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], dump(ARGV[1], kept)) end
return #kept
"""
)

# ARGV: conversation id, now. Rasa's update_lock: expired tickets leave an existing queue.
_UPDATE = (
    _QUEUE
    + """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SET', KEYS[1], dump(ARGV[1], load(KEYS[1], tonumber(ARGV[2]))))
end
return 0
"""
)


class AtomicRedisLockStore(RedisLockStore):
    """``RedisLockStore`` with atomic ticket-queue changes (endpoints: ``type: bot.scaled.locks.AtomicRedisLockStore``)."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, **kwargs: Any) -> None:
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs}
        super().__init__(**kwargs)
        # EVALSHA, loading the script again if Redis lost it (a restart, SCRIPT FLUSH).
        self._issue = self.red.register_script(_ISSUE)
        self._acquire = self.red.register_script(_ACQUIRE)
        self._cleanup = self.red.register_script(_CLEANUP)
        self._update = self.red.register_script(_UPDATE)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        try:
            key = self.key_prefix + conversation_id
            return int(self._issue(keys=[key], args=[conversation_id, repr(time.time()), repr(float(lock_lifetime))]))
        except Exception as error:  # noqa: BLE001 - as Rasa's issue_ticket: one error type for the processor
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: str) -> None:
        self._update(keys=[self.key_prefix + conversation_id], args=[conversation_id, repr(time.time())])

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        left = self._cleanup(
            keys=[self.key_prefix + conversation_id], args=[conversation_id, repr(time.time()), int(ticket_number)]
        )
        if not left:
            self._log_deletion(conversation_id, True)

    async def _acquire_lock(self, conversation_id: str, ticket: int, wait_time_in_seconds: float) -> TicketLock:
        """Wait until ``ticket`` is the lowest live ticket, renewing it while waiting."""
        key = self.key_prefix + conversation_id
        for _ in range(int(LOCK_LIFETIME * 4 / POLL_SECONDS)):
            stored = self._acquire(
                keys=[key], args=[conversation_id, repr(time.time()), int(ticket), repr(float(LOCK_LIFETIME))]
            )
            lock = TicketLock.from_dict(json.loads(stored))
            if not lock.is_locked(ticket):
                return lock
            await asyncio.sleep(min(wait_time_in_seconds, POLL_SECONDS))
        raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
