"""A caller's preferred callback time (「明天下午兩點以後」「平日上午」「週三」) as a concrete window.

Read in Asia/Taipei against a given moment (the bot's clock, bot/clock.py), then met
with the office hours: :func:`promise` is what the caller is told, :attr:`Window.label`
what staff see on the ticket. A time we cannot read stays text, and the promise says
only what is true (the next time a person is there, and that we saw the request).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from bot.clock import TAIPEI
from bot.handoff.office_hours import OfficeHours
from bot.nlu.numerals import NotANumber, parse_number

WEEKDAYS = "一二三四五六日"
_DAY_WORDS = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "後天": 2}
_WEEKDAY = re.compile(r"(下(?:個)?|這(?:個)?|本)?(?:週|周|星期|禮拜|礼拜)([一二三四五六日天1-7])")
_DATE = re.compile(r"(\d{1,2})\s*[月/]\s*(\d{1,2})\s*(?:日|號)?")
# Parts of the day: (start, end) local times.
_PARTS = (
    (("上午", "早上", "早晨", "白天上午"), (dt.time(8, 0), dt.time(12, 0))),
    (("中午", "午休"), (dt.time(12, 0), dt.time(13, 30))),
    (("下午", "午後"), (dt.time(13, 0), dt.time(18, 0))),
    (("傍晚",), (dt.time(17, 0), dt.time(19, 0))),
    (("晚上", "晚間", "夜裡"), (dt.time(18, 0), dt.time(22, 0))),
)
_NUM = r"[0-9零〇一二兩三四五六七八九十]{1,3}"
_CLOCK = re.compile(rf"({_NUM})\s*(?:點|点|:|：|時)\s*(半|[0-5]\d分?|{_NUM}分)?")
_BEFORE = re.compile(r"^\s*(?:以前|之前|前|為止|以内|以內)")
_RANGE = re.compile(r"^\s*(?:到|至|~|～|-|－|—)")
_ANY = re.compile(r"不限|都可以|隨時|任何時間|皆可|都行|沒差|儘快|盡快|越快越好|愈快愈好|馬上|現在")
_WORKDAY = re.compile(r"平日|平常日|上班日|工作日|週間|周間")


@dataclass(frozen=True, slots=True)
class Window:
    """A preferred time: ``days`` it may fall on (``None``: any), a daily ``start``–``end``."""

    text: str
    understood: bool
    days: tuple[dt.date, ...] | None = None
    start: dt.time | None = None
    end: dt.time | None = None
    workdays_only: bool = False

    @property
    def any_time(self) -> bool:
        return (
            self.understood and self.days is None and self.start is None and self.end is None and not self.workdays_only
        )

    def label(self) -> str:
        """For staff: 「12月3日（週四）14:00–18:00（來電者：明天下午兩點以後）」."""
        if not self.understood:
            return f"未能解讀（來電者：{self.text}）" if self.text else "不限"
        if self.any_time:
            return f"不限（來電者：{self.text}）" if self.text and self.text != "不限" else "不限"
        when = "、".join(_date_label(d) for d in self.days[:3]) if self.days else ("平日" if self.workdays_only else "")
        hours = ""
        if self.start and self.end:
            hours = f"{self.start.strftime('%H:%M')}–{self.end.strftime('%H:%M')}"
        elif self.start:
            hours = f"{self.start.strftime('%H:%M')}以後"
        elif self.end:
            hours = f"{self.end.strftime('%H:%M')}以前"
        return f"{when}{' ' if when and hours else ''}{hours}（來電者：{self.text}）"


def _date_label(day: dt.date) -> str:
    return f"{day.month}月{day.day}日（週{WEEKDAYS[day.weekday()]}）"


def _number(text: str) -> int | None:
    try:
        return int(parse_number(text))
    except (NotANumber, ValueError):
        return None


def _clock(match: re.Match[str], part: tuple[dt.time, dt.time] | None) -> dt.time | None:
    hour = _number(match.group(1))
    if hour is None or not 0 <= hour <= 24:
        return None
    minute = 0
    if match.group(2):
        minute = 30 if match.group(2) == "半" else (_number(match.group(2).rstrip("分")) or 0)
    # 「兩點」 without 上午 is afternoon (nobody asks for a 2 a.m. callback); 「下午2點」 too.
    if hour < 12 and ((part and part[0] >= dt.time(12, 0)) or (part is None and 1 <= hour <= 7)):
        hour += 12
    return dt.time(min(hour, 23), min(minute, 59))


def parse_window(text: str, now: dt.datetime) -> Window:
    """Read 「下午」「明天下午兩點以後」「週三上午」「平日」「12/3 10點前」; not readable → ``understood=False``."""
    raw = (text or "").strip()[:60]
    plain = unicodedata.normalize("NFKC", raw)
    local = now.astimezone(TAIPEI)
    today = local.date()
    if not plain:
        return Window(raw, False)
    if _ANY.search(plain) and not re.search(r"點|点|上午|下午|晚上|明天|週|周|星期|禮拜", plain):
        return Window(raw, True)
    days: tuple[dt.date, ...] | None = None
    found = False
    for word, offset in _DAY_WORDS.items():
        if word in plain:
            days, found = (today + dt.timedelta(days=offset),), True
            break
    weekday = _WEEKDAY.search(plain)
    if weekday and days is None:
        index = (
            "一二三四五六日".find(weekday.group(2))
            if weekday.group(2) not in "天1234567"
            else (6 if weekday.group(2) in "天7" else int(weekday.group(2)) - 1)
        )
        monday = today - dt.timedelta(days=today.weekday())
        if weekday.group(1) and weekday.group(1).startswith("下"):
            day = monday + dt.timedelta(days=7 + index)  # 「下週一」: Monday of next week
        elif weekday.group(1):
            day = monday + dt.timedelta(days=index)  # 「這週五」
        else:
            day = today + dt.timedelta(days=(index - today.weekday()) % 7)  # 「週三」: the coming one
        days, found = (day,), True
    date = _DATE.search(plain)
    if date and days is None:
        month, day_of_month = int(date.group(1)), int(date.group(2))
        try:
            candidate = dt.date(today.year, month, day_of_month)
            if candidate < today:
                candidate = dt.date(today.year + 1, month, day_of_month)
            days, found = (candidate,), True
        except ValueError:
            pass
    workdays = bool(_WORKDAY.search(plain))
    found = found or workdays
    part = None
    for words, span in _PARTS:
        if any(w in plain for w in words):
            part, found = span, True
            break
    start, end = part if part else (None, None)
    clocks = list(_CLOCK.finditer(plain))
    if clocks:
        first = _clock(clocks[0], part)
        after_first = plain[clocks[0].end() :]
        if first is not None:
            found = True
            if len(clocks) > 1 and _RANGE.match(after_first):
                second = _clock(clocks[1], part or ((dt.time(12, 0), dt.time(18, 0)) if first.hour >= 12 else None))
                start, end = first, second or end
            elif _BEFORE.match(after_first):
                end = first
                start = start if start and start < first else None
            else:  # 「兩點以後」, or a bare 「兩點」: from then on
                start = first
                end = end if end and end > first else None
    if not found:
        return Window(raw, False)
    return Window(raw, True, days, start, end, workdays)


def _slots(
    window: Window, hours: OfficeHours, now: dt.datetime, horizon: int = 21
) -> Iterator[tuple[dt.date, dt.time, dt.time]]:
    """(day, earliest, latest) local times when the window and office hours meet, soonest first."""
    local = now.astimezone(TAIPEI)
    for offset in range(horizon):
        day = local.date() + dt.timedelta(days=offset)
        if window.days is not None and day not in window.days:
            continue
        if not hours.first_day <= day.weekday() <= hours.last_day:
            continue
        begin = max(hours.opens, window.start or hours.opens)
        finish = min(hours.closes, window.end or hours.closes)
        if offset == 0:
            begin = max(begin, local.time().replace(second=0, microsecond=0))
        if begin < finish:
            yield day, begin, finish


def _clock_words(moment: dt.time) -> str:
    half = "上午" if moment.hour < 12 else "下午"
    hour = moment.hour if moment.hour <= 12 else moment.hour - 12
    return f"{half}{hour}:{moment.minute:02d}" if moment.minute else f"{half}{hour}點"


@dataclass(frozen=True, slots=True)
class Promise:
    """What the caller is told and whether a person is there right now for this window."""

    text: str
    now: bool


def promise(window: Window, hours: OfficeHours, now: dt.datetime) -> Promise:
    """「會在12月3日（週四）下午2點後回電」, or the honest next opening when the window is outside office hours."""
    local = now.astimezone(TAIPEI)
    opens = hours.next_open(local)
    hours_text = f"週{WEEKDAYS[hours.first_day]}至週{WEEKDAYS[hours.last_day]} {hours.opens.strftime('%-H:%M')}–{hours.closes.strftime('%-H:%M')}"
    if not window.understood:
        if hours.is_open(local):
            return Promise(f"客服人員會盡快與您聯絡，並參考您說的時段「{window.text}」", True)
        return Promise(
            f"客服人員會在{_date_label(opens.date())}{_clock_words(opens.time())}起與您聯絡，"
            f"並參考您說的時段「{window.text}」",
            False,
        )
    first = next(_slots(window, hours, local), None)
    if first is None and hours.is_open(local):
        return Promise(f"您方便的時段不在客服服務時間（{hours_text}），客服人員會在服務時間內盡快與您聯絡", False)
    if first is None:
        return Promise(
            f"您方便的時段不在客服服務時間（{hours_text}），客服人員會在"
            f"{_date_label(opens.date())}{_clock_words(opens.time())}起回電",
            False,
        )
    day, begin, _finish = first
    if day == local.date() and hours.is_open(local) and begin <= local.time().replace(second=59):
        return Promise("客服人員會盡快與您聯絡", True)
    if begin == hours.opens or (window.start is None and day != local.date()):
        return Promise(f"客服人員會在{_date_label(day)}{_clock_words(begin)}起回電給您", False)
    return Promise(f"客服人員會在{_date_label(day)}{_clock_words(begin)}後回電給您", False)
