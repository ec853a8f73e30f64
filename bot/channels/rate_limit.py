"""Token buckets per sender and per client address, shared by the REST, socket.io and LINE channels.

Security review M6: a 200-message flood from one sender was accepted, 43 of its turns
failed with LockError and the queue took 151 s to drain. Each key (a sender id, a client
address) has a bucket of ``burst`` tokens refilled at ``rate`` per second; a message
takes one. Refusals are answered politely by the channel, counted per channel and
reason in this process (``counts``, the channels' health routes) and in the ops
database (:class:`RefusalLog`, table ``ops_rate_limits``, shown on /ops/metrics).

Where the buckets live:

- default profile (one Rasa server): in this process (:class:`TokenBuckets`), a bounded
  table whose least recently used keys go first;
- scaled profile (``BOT_RATE_REDIS_URL``, set by ``bot.scaled.profile.scaled_env``): in Redis
  (:class:`RedisTokenBuckets`), so a sender whose messages nginx spreads over several
  Rasa servers has one allowance, not one per server. Each take is one Lua script run
  on Redis's clock (servers' clocks never disagree about refills). Keys carry the
  Redis key prefix and a hash of the sender or address (sender ids can be phone
  numbers; review M4), and expire once their bucket would be full again. If Redis
  cannot be reached, the buckets fall back to this process's for that message (logged):
  a limit per server is better than none, and refusing every caller is worse.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.clock import TAIPEI
from bot.settings import Settings

logger = logging.getLogger(__name__)

# One message a second with a burst of 5 per sender (a person types slower); an address
# may carry many people (an office, a mobile carrier's NAT): 5 a second, burst 30.
SENDER_RATE, SENDER_BURST = 1.0, 5.0
ADDRESS_RATE, ADDRESS_BURST = 5.0, 30.0
MAX_KEYS = 50_000
# Refusal counts are written to the ops database at most this often per channel and process:
# a flood's refusals cost one small write every few seconds, not one per message.
FLUSH_SECONDS = 2.0


class Buckets(Protocol):
    async def take(self, key: str) -> int:
        """Take a token for ``key``: 0 when allowed, else the whole seconds until one is back."""
        ...


def _wait(tokens: float, rate: float) -> int:
    return max(1, int((1.0 - tokens) / rate + 0.999))


@dataclass
class TokenBuckets:
    """Buckets in this process's memory (the default profile's single Rasa server)."""

    rate: float
    burst: float
    max_keys: int = MAX_KEYS
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)

    def take_now(self, key: str) -> int:
        now = self.clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return 0 if allowed else _wait(tokens, self.rate)

    async def take(self, key: str) -> int:
        return self.take_now(key)


# KEYS[1] bucket; ARGV rate, burst, ttl ms. Returns {allowed 0/1, tokens left as a string}
# (Lua numbers come back truncated to integers). Redis 5+ replicates the script's effects,
# so reading TIME before writing is allowed.
TAKE_SCRIPT = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(held[1]) or burst, tonumber(held[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {allowed, tostring(tokens)}
"""


@dataclass
class RedisTokenBuckets:
    """The same buckets in Redis, shared by every Rasa server of the scaled profile."""

    client: Any  # redis.asyncio.Redis
    prefix: str  # e.g. "hotline:rate:rest:sender"
    rate: float
    burst: float
    fallback: TokenBuckets = field(init=False)
    _script: Any = field(init=False, default=None)
    _ttl_ms: int = field(init=False, default=0)
    _warned_at: float = field(init=False, default=-1e9)

    def __post_init__(self) -> None:
        self.fallback = TokenBuckets(self.rate, self.burst)
        self._script = self.client.register_script(TAKE_SCRIPT)  # no I/O: the script is sent on first use
        self._ttl_ms = int(self.burst / self.rate * 1000) + 1000  # a key unused that long is a full bucket

    def key(self, key: str) -> str:
        return f"{self.prefix}:{hashlib.blake2b(key.encode('utf-8'), digest_size=12).hexdigest()}"

    async def take(self, key: str) -> int:
        from redis.exceptions import RedisError

        try:
            allowed, tokens = await self._script(keys=[self.key(key)], args=[self.rate, self.burst, self._ttl_ms])
        except (RedisError, OSError) as exc:
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                logger.warning("rate limits: Redis unreachable (%s); limiting in this process only", type(exc).__name__)
            return self.fallback.take_now(key)
        return 0 if int(allowed) else _wait(float(tokens), self.rate)


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # "sender" or "address"
    retry_after: int  # seconds, for Retry-After


@dataclass
class RefusalLog:
    """Refusals per (Taipei day, channel, reason), added up in memory and written to the ops database.

    A write happens at most every ``interval`` seconds, off the event loop; counts a write
    could not store are kept for the next. What is pending when the process stops (at most
    ``interval`` seconds of refusals) is lost.
    """

    url: str
    interval: float = FLUSH_SECONDS
    pending: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    _task: asyncio.Task[None] | None = None
    _last: float = -1e9
    _engine: Any = None

    def add(self, channel: str, reason: str) -> None:
        day = dt.datetime.now(TAIPEI).date().isoformat()
        self.pending[(day, channel, reason)] += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(max(0.0, self._last + self.interval - time.monotonic()))
        batch, self.pending = self.pending, Counter()
        self._last = time.monotonic()
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.write, batch)
        except Exception:  # noqa: BLE001 - the ops database is down: keep the counts, try again later
            logger.exception("rate limits: could not store %d refusal counts; kept for the next write", len(batch))
            self.pending.update(batch)
        if self.pending:
            self._task = asyncio.get_running_loop().create_task(self._flush_later())

    def write(self, batch: Counter[tuple[str, str, str]]) -> None:
        from bot.ops.schema import add_rate_limited, open_engine

        if self._engine is None:
            self._engine = open_engine(self.url)
        add_rate_limited(self._engine, batch)


@dataclass
class RateLimiter:
    """Per sender and per client address; ``check`` gives the refusal or ``None``."""

    channel: str
    senders: Buckets | None = field(default_factory=lambda: TokenBuckets(SENDER_RATE, SENDER_BURST))
    addresses: Buckets | None = field(default_factory=lambda: TokenBuckets(ADDRESS_RATE, ADDRESS_BURST))
    log: RefusalLog | None = None
    counts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_settings(cls, channel: str, settings: Settings) -> RateLimiter:
        """BOT_RATE_SENDER and BOT_RATE_ADDRESS (``off`` turns one off); buckets in Redis when
        BOT_RATE_REDIS_URL is set; refusals counted in the ops database (BOT_OPS_DB_URL)."""
        from bot.scaled.profile import ops_db_url

        client = redis_client(settings) if settings.rate_redis_url else None

        def buckets(kind: str, spec: tuple[float, float] | None) -> Buckets | None:
            if spec is None:
                return None
            if client is None:
                return TokenBuckets(*spec)
            return RedisTokenBuckets(client, f"{settings.redis_key_prefix}:rate:{channel}:{kind}", *spec)

        return cls(
            channel,
            buckets("sender", settings.rate_sender),
            buckets("address", settings.rate_address),
            RefusalLog(ops_db_url(settings)),
        )

    async def check(self, sender: str | None, address: str | None) -> Refusal | None:
        refusal = None
        if address and self.addresses:
            wait = await self.addresses.take(address)
            refusal = Refusal("address", wait) if wait else None
        if refusal is None and sender and self.senders:
            wait = await self.senders.take(sender)
            refusal = Refusal("sender", wait) if wait else None
        if refusal:
            self.counted(refusal.reason)
        return refusal

    def counted(self, reason: str) -> None:
        self.counts[reason] += 1
        if self.log is not None:
            self.log.add(self.channel, reason)
        if self.counts[reason] in (1, 10, 100) or self.counts[reason] % 1000 == 0:
            logger.warning(
                "%s: rate limit per %s reached (%d refusals so far)", self.channel, reason, self.counts[reason]
            )

    def summary(self) -> dict[str, int]:
        return {"rate_limited_sender": self.counts["sender"], "rate_limited_address": self.counts["address"]}


def redis_client(settings: Settings) -> Any:
    """An asyncio Redis client for BOT_RATE_REDIS_URL (password from BOT_REDIS_PASSWORD), connecting on first use."""
    import redis.asyncio

    return redis.asyncio.Redis.from_url(
        settings.rate_redis_url, password=settings.redis_password, socket_timeout=0.5, socket_connect_timeout=0.5
    )
