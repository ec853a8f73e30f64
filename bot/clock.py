"""Today's date and the current moment, from one place, so expiry and callback promises are testable.

Schemes end on Taiwan dates, so "today" is the date in Asia/Taipei, not UTC: at
07:00 Taipei on the last day a scheme is still open even though UTC says yesterday.
``BOT_TODAY`` fixes the date for tests and demos (``2026-12-01``), or a whole moment
in Taipei time (``2026-12-01T20:30``) when office hours and callback times matter.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")


class Clock(Protocol):
    def today(self) -> dt.date: ...

    def now(self) -> dt.datetime: ...


@dataclass(frozen=True, slots=True)
class SystemClock:
    def today(self) -> dt.date:
        return dt.datetime.now(TAIPEI).date()

    def now(self) -> dt.datetime:
        return dt.datetime.now(TAIPEI)


@dataclass(frozen=True, slots=True)
class FixedClock:
    """A fixed date; with ``at``, a fixed moment (else the real time of day on that date)."""

    day: dt.date
    at: dt.time | None = None

    def today(self) -> dt.date:
        return self.day

    def now(self) -> dt.datetime:
        time = self.at or dt.datetime.now(TAIPEI).time()
        return dt.datetime.combine(self.day, time, TAIPEI)


def clock_from_setting(today: str) -> Clock:
    """``BOT_TODAY``'s value: empty for the real clock, an ISO date, or an ISO date and time (Taipei).

    Raises:
        ValueError: neither (the settings layer names the variable).
    """
    if not today:
        return SystemClock()
    if "T" in today or " " in today.strip():
        moment = dt.datetime.fromisoformat(today.strip())
        local = moment.astimezone(TAIPEI) if moment.tzinfo else moment
        return FixedClock(local.date(), local.time().replace(tzinfo=None))
    return FixedClock(dt.date.fromisoformat(today))
