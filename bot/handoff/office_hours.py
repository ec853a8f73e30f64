"""Office hours (Mon–Fri 08:30–17:30 Asia/Taipei by default): is a person there now, and when next?"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")
_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_SPEC = re.compile(r"^(mon|tue|wed|thu|fri|sat|sun)-(mon|tue|wed|thu|fri|sat|sun) (\d\d):(\d\d)-(\d\d):(\d\d)$")


@dataclass(frozen=True, slots=True)
class OfficeHours:
    first_day: int
    last_day: int
    opens: dt.time
    closes: dt.time

    @classmethod
    def parse(cls, spec: str) -> OfficeHours:
        """``"mon-fri 08:30-17:30"``; raises ValueError naming the expected form."""
        match = _SPEC.match(spec.strip().lower())
        if not match:
            raise ValueError(f"expected like 'mon-fri 08:30-17:30', got {spec!r}")
        first, last, h1, m1, h2, m2 = match.groups()
        opens, closes = dt.time(int(h1), int(m1)), dt.time(int(h2), int(m2))
        if closes <= opens:
            raise ValueError("closing time must be after opening time")
        return cls(_DAYS[first], _DAYS[last], opens, closes)

    def _workday(self, day: dt.date) -> bool:
        return self.first_day <= day.weekday() <= self.last_day

    def is_open(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(TAIPEI)
        return self._workday(local.date()) and self.opens <= local.time() < self.closes

    def next_open(self, moment: dt.datetime) -> dt.datetime:
        """The next moment a person is there (``moment`` itself when open)."""
        local = moment.astimezone(TAIPEI)
        if self.is_open(local):
            return local
        day = local.date()
        if self._workday(day) and local.time() < self.opens:
            return dt.datetime.combine(day, self.opens, TAIPEI)
        for offset in range(1, 8):
            candidate = day + dt.timedelta(days=offset)
            if self._workday(candidate):
                return dt.datetime.combine(candidate, self.opens, TAIPEI)
        raise ValueError("no working day in the week")
