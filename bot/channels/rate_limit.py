"""Token buckets per sender and per client address, shared by the REST, socket.io and LINE channels.

Security review M6: a 200-message flood from one sender was accepted, 43 of its turns
failed with LockError and the queue took 151 s to drain. Each key (a sender id, a client
address) has a bucket of ``burst`` tokens refilled at ``rate`` per second; a message
takes one. Refusals are counted per channel and reason (``counts``, shown by each
channel's health route and logged) and answered politely by the channel.

Buckets live in this process: with several Rasa servers each enforces its own, and
nginx's ``limit_req`` (deploy/nginx.conf) limits per address in front of them all.
The table of buckets is bounded (least recently used keys go first).
"""

from __future__ import annotations

import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.settings import Settings

logger = logging.getLogger(__name__)

# One message a second with a burst of 5 per sender (a person types slower); an address
# may carry many people (an office, a mobile carrier's NAT): 5 a second, burst 30.
SENDER_RATE, SENDER_BURST = 1.0, 5.0
ADDRESS_RATE, ADDRESS_BURST = 5.0, 30.0
MAX_KEYS = 50_000


@dataclass
class TokenBuckets:
    rate: float
    burst: float
    max_keys: int = MAX_KEYS
    clock: Callable[[], float] = time.monotonic
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)

    def take(self, key: str) -> bool:
        """Take a token for ``key``; False when its bucket is empty."""
        now = self.clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return allowed

    def retry_after(self, key: str) -> int:
        tokens, _ = self._buckets.get(key, (self.burst, 0.0))
        return max(1, int((1.0 - tokens) / self.rate + 0.999))


@dataclass
class RateLimiter:
    """Per sender and per client address; ``check`` gives the refusal reason or ``None``."""

    channel: str
    senders: TokenBuckets | None = field(default_factory=lambda: TokenBuckets(SENDER_RATE, SENDER_BURST))
    addresses: TokenBuckets | None = field(default_factory=lambda: TokenBuckets(ADDRESS_RATE, ADDRESS_BURST))
    counts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def from_settings(cls, channel: str, settings: Settings) -> RateLimiter:
        """BOT_RATE_SENDER and BOT_RATE_ADDRESS (``off`` turns one off)."""
        return cls(channel, TokenBuckets(*settings.rate_sender) if settings.rate_sender else None,
                   TokenBuckets(*settings.rate_address) if settings.rate_address else None)

    def check(self, sender: str | None, address: str | None) -> str | None:
        reason = None
        if address and self.addresses and not self.addresses.take(address):
            reason = "address"
        elif sender and self.senders and not self.senders.take(sender):
            reason = "sender"
        if reason:
            self.counts[reason] += 1
            if self.counts[reason] in (1, 10, 100) or self.counts[reason] % 1000 == 0:
                logger.warning("%s: rate limit per %s reached (%d refusals so far)", self.channel, reason,
                               self.counts[reason])
        return reason

    def retry_after(self, sender: str | None, address: str | None, reason: str) -> int:
        buckets, key = (self.addresses, address) if reason == "address" else (self.senders, sender)
        return buckets.retry_after(key or "") if buckets else 1

    def summary(self) -> dict[str, int]:
        return {"rate_limited_sender": self.counts["sender"], "rate_limited_address": self.counts["address"]}
