"""What the people who keep the records should check next (``python -m bot kb review``, /console/knowledge).

Four lists, each row a record with the date that put it there:
- status unknown: no source says whether it still takes applications (the bot says so);
- newest source older than 12 months (records not ended: an ended record's old source is expected);
- ``last_verified`` older than 90 days;
- something ends within 60 days: the scheme, its programme period or a benefit with its own deadline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bot.kb.query import KnowledgeBase, Status
from bot.kb.records import Scheme

STALE_SOURCE_DAYS = 365
STALE_CHECK_DAYS = 90
ENDING_DAYS = 60


@dataclass(frozen=True, slots=True)
class Row:
    scheme: Scheme
    status: Status
    day: dt.date | None  # the date the row is about (data date, last check, closing day)
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    title: str
    rows: tuple[Row, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Review:
    today: dt.date
    sections: tuple[Section, ...]
    counts: dict[str, dict[str, int]]  # category → status value → number of records


def review(kb: KnowledgeBase) -> Review:
    """The four lists, each sorted oldest (or soonest) first, and the status counts by category."""
    today = kb.clock.today()
    schemes = kb.all()
    status = {s.id: kb.status(s) for s in schemes}
    unknown = [Row(s, status[s.id], s.source_date) for s in schemes if status[s.id] is Status.UNKNOWN]
    stale = [
        Row(s, status[s.id], s.source_date)
        for s in schemes
        if status[s.id] is not Status.ENDED and (today - s.source_date).days > STALE_SOURCE_DAYS
    ]
    unchecked = [
        Row(s, status[s.id], s.last_verified) for s in schemes if (today - s.last_verified).days > STALE_CHECK_DAYS
    ]
    ending = []
    for s in kb.ending_within(ENDING_DAYS):
        day = kb.closing_day(s)
        ending.append(Row(s, status[s.id], day, _what_ends(s, day)))
    counts: dict[str, dict[str, int]] = {}
    for s in schemes:
        by_status = counts.setdefault(s.category, {})
        by_status[status[s.id].value] = by_status.get(status[s.id].value, 0) + 1
    by_day = lambda row: (row.day or dt.date.min, row.scheme.id)  # noqa: E731
    return Review(
        today,
        (
            Section("unknown", "受理狀態未確認（來源未說明是否仍受理）", tuple(sorted(unknown, key=by_day))),
            Section(
                "stale_source",
                f"最新來源超過{STALE_SOURCE_DAYS // 30}個月（未結束的措施）",
                tuple(sorted(stale, key=by_day)),
            ),
            Section(
                "unchecked", f"超過{STALE_CHECK_DAYS}天未查核（last_verified）", tuple(sorted(unchecked, key=by_day))
            ),
            Section("ending", f"{ENDING_DAYS}天內截止或到期", tuple(sorted(ending, key=by_day))),
        ),
        counts,
    )


def _what_ends(scheme: Scheme, day: dt.date | None) -> str:
    if scheme.end == day:
        return "申請截止"
    if scheme.period and scheme.period.end == day:
        return f"計畫期間結束（{scheme.period.label}）"
    benefits = [b.text for b in scheme.benefits if b.end == day]
    return f"項目到期：{benefits[0][:30]}" if benefits else ""


def data_day(row: Row) -> str:
    """A record's data date as precisely as its source dates itself (2025-12-23, 2025-03, c. 2023)."""
    day, scheme = row.scheme.source_date, row.scheme
    text = {"year": f"{day:%Y}", "month": f"{day:%Y-%m}"}.get(scheme.source_date_precision, day.isoformat())
    return f"c. {text}" if scheme.source_date_approx else text


def as_text(result: Review) -> str:
    """Plain text for the command line: one block per list, then the status counts."""
    lines = [f"knowledge review on {result.today.isoformat()}"]
    for section in result.sections:
        lines.append("")
        lines.append(f"## {section.key}: {section.title} ({len(section.rows)})")
        for row in section.rows:
            day = (
                data_day(row)
                if section.key in ("unknown", "stale_source")
                else (row.day.isoformat() if row.day else "-")
            )
            extra = f"  {row.detail}" if row.detail else ""
            lines.append(f"{day}  {row.status.value:<11} {row.scheme.id}  {row.scheme.name}{extra}")
    lines.append("")
    lines.append("## status by category")
    for category, by_status in sorted(result.counts.items()):
        lines.append(f"{category}: " + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())))
    return "\n".join(lines)
