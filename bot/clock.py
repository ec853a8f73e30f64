"""Today's date and the current moment, from one place, so expiry and callback promises are testable.

Schemes end on Taiwan dates, so "today" is the date in Asia/Taipei, not UTC: at
07:00 Taipei on the last day a scheme is still open even though UTC says yesterday.
``BOT_TODAY`` fixes the date for tests and demos (``2026-12-01``), or a whole moment
in Taipei time (``2026-12-01T20:30``) when office hours and callback times matter.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")
_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_WEEKLY = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)-(mon|tue|wed|thu|fri|sat|sun) (\d\d):(\d\d)-(\d\d):(\d\d)$")


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


def weekly_hours(spec: str) -> tuple[int, int, dt.time, dt.time]:
    """``"mon-fri 08:30-17:30"`` as (first weekday, last weekday, opening, closing time), Monday 0.

    The form of ``BOT_OFFICE_HOURS``: here, below both the settings that refuse a bad
    value at start-up and the office hours (``bot/handoff/office_hours.py``) built from it.

    Raises:
        ValueError: naming the expected form, or a closing time not after the opening.
    """
    match = _WEEKLY.match(spec.strip().lower())
    if not match:
        raise ValueError(f"expected like 'mon-fri 08:30-17:30', got {spec!r}")
    first, last, h1, m1, h2, m2 = match.groups()
    opens, closes = dt.time(int(h1), int(m1)), dt.time(int(h2), int(m2))
    if closes <= opens:
        raise ValueError("closing time must be after opening time")
    return _DAYS[first], _DAYS[last], opens, closes
