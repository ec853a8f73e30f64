"""Today's date, from one place, so expiry is testable.

Schemes end on Taiwan dates, so "today" is the date in Asia/Taipei, not UTC: at
07:00 Taipei on the last day a scheme is still open even though UTC says yesterday.
``BOT_TODAY`` fixes the date for tests and demos.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")


class Clock(Protocol):
    def today(self) -> dt.date: ...


@dataclass(frozen=True, slots=True)
class SystemClock:
    def today(self) -> dt.date:
        return dt.datetime.now(TAIPEI).date()


@dataclass(frozen=True, slots=True)
class FixedClock:
    day: dt.date

    def today(self) -> dt.date:
        return self.day


def clock_from_setting(today: str) -> Clock:
    """``BOT_TODAY``'s value: empty for the real date, else an ISO date.

    Raises:
        ValueError: not an ISO date (the settings layer names the variable).
    """
    return FixedClock(dt.date.fromisoformat(today)) if today else SystemClock()
