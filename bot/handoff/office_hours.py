"""Office hours (Mon–Fri 08:30–17:30 Asia/Taipei by default): is a person there now, and when next?"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.clock import TAIPEI, weekly_hours


@dataclass(frozen=True, slots=True)
class OfficeHours:
    first_day: int
    last_day: int
    opens: dt.time
    closes: dt.time

    @classmethod
    def parse(cls, spec: str) -> OfficeHours:
        """``"mon-fri 08:30-17:30"`` (:func:`bot.clock.weekly_hours`); raises ValueError naming the expected form."""
        return cls(*weekly_hours(spec))

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
