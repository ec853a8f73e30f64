"""Hotline figures for a period, in the form of seed 000's call table and more.

A conversation belongs to the period in which it started (Asia/Taipei dates), and
all its messages with it, so every table of one report counts the same callers.
Definitions (also shown on the page):
- category: the hotline topic the caller asked about most (bot/ops/events.py);
- containment: conversations that never reached a person (no ticket);
- fallback rate: the caller's own messages (not form answers) the bot did not understand;
- handoff rate: conversations with a ticket (a person took over, or a damage report);
- time to first staff response: ticket opened → first staff reply (ticket store);
- satisfaction: the 1–5 ratings callers gave after a ticket was resolved.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, not_, select, true
from sqlalchemy.engine import Connection, Engine

from bot.categories import CATEGORY_INFO, HOTLINE_CATEGORIES, category_label
from bot.formats import csv_text
from bot.handoff.tickets import SqliteTicketStore, Ticket
from bot.kb.query import KnowledgeBase, UnknownScheme
from bot.kb.review import STATUS_LABELS
from bot.ops.events import HandoffReason, category_value, refresh
from bot.ops.review import day_bounds, local_time
from bot.ops.store import conversations, corrections, turns

TOP = 10
ENDING_DAYS = 60
LOW_CONFIDENCE = 0.6


@dataclass(frozen=True, slots=True)
class Table:
    """One table of the report: shown on the page, downloadable as CSV."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[Any]]
    note: str = ""

    def csv(self) -> str:
        return csv_text(self.headers, self.rows)



@dataclass(frozen=True, slots=True)
class Report:
    date_from: dt.date | None
    date_to: dt.date | None
    conversations: int
    questions: int
    contained: float | None
    fallback_rate: float | None
    fallback_conversations: int
    handoff_rate: float | None
    handed_off: int
    median_first_response_minutes: float | None
    satisfaction: float | None
    ratings: int
    tables: dict[str, Table] = field(default_factory=dict)

    def summary(self) -> Table:
        return Table("summary", "重點指標", ["指標", "數值"], [
            ["對話數", self.conversations], ["使用者提問數", self.questions],
            ["機器人自行處理率（未轉真人）", percent(self.contained)],
            ["聽不懂比率（提問）", percent(self.fallback_rate)], ["有聽不懂的對話數", self.fallback_conversations],
            ["轉真人比率", percent(self.handoff_rate)], ["轉真人對話數", self.handed_off],
            ["客服首次回覆時間中位數（分）", "—" if self.median_first_response_minutes is None
             else round(self.median_first_response_minutes, 1)],
            ["滿意度平均（1–5）", "—" if self.satisfaction is None else round(self.satisfaction, 2)],
            ["評分筆數", self.ratings],
        ])

    def all_tables(self) -> list[Table]:
        return [self.summary(), *self.tables.values()]


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def report(engine: Engine, date_from: dt.date | None = None, date_to: dt.date | None = None,
           tickets: SqliteTicketStore | None = None, kb: KnowledgeBase | None = None) -> Report:
    """Every figure of the metrics page for conversations started from ``date_from`` to ``date_to``."""
    refresh(engine)
    c = conversations.c
    start, end = day_bounds(date_from, date_to)
    period = [cond for cond in (c.started_at >= start if start is not None else None,
                                c.started_at < end if end is not None else None) if cond is not None]
    in_period = and_(*period) if period else true()
    with engine.connect() as db:
        calls = conversation_figures(db, in_period)
        asked = turn_figures(db, in_period)
    total, handed_off, ratings = calls["total"], calls["handed_off"], calls["ratings"]
    minutes = first_response_minutes(tickets.queue() if tickets else [], calls["handed_off_senders"])
    tables = {
        "categories": category_table(calls["by_category"]),
        "handoff_reasons": Table("handoff_reasons", "轉真人原因", ["原因", "對話數", "占比(%)"],
                                 [[HandoffReason.LABELS.get(str(k), str(k)), n, round(100 * n / handed_off, 1)]
                                  for k, n in sorted(calls["reasons"].items(), key=lambda kv: (-kv[1], str(kv[0])))]),
        "hours": Table("hours", "各時段提問數（臺北時間）", ["時段", "提問數"],
                       [[f"{h:02d}:00–{h:02d}:59", asked["hours"].get(h, 0)] for h in range(24)]),
        "unanswered": Table("unanswered", "最常問但答不出來的問題", ["問題", "次數", "最近一次", "對話"],
                            [[text, n, local_time(last), sender] for text, n, last, sender in asked["unanswered"]]),
        "intents": Table("intents", "各意圖的信心值與修正（該補訓練的先看）",
                         ["意圖", "類別", "訊息數", "平均信心", f"信心低於{LOW_CONFIDENCE:g}", "低信心占比(%)", "被改成其他意圖"],
                         asked["intents"], note="只算民眾自己打的字（不含按鈕與表單回答）；依低信心則數排序。"),
        **scheme_tables(asked["schemes"], kb),
    }
    return Report(
        date_from=date_from, date_to=date_to, conversations=total, questions=asked["questions"],
        contained=ratio(total - handed_off, total), fallback_rate=ratio(asked["fell_back"], asked["questions"]),
        fallback_conversations=calls["fallback_conversations"], handoff_rate=ratio(handed_off, total),
        handed_off=handed_off, median_first_response_minutes=statistics.median(minutes) if minutes else None,
        satisfaction=statistics.fmean(ratings) if ratings else None, ratings=len(ratings), tables=tables,
    )


def conversation_figures(db: Connection, in_period: Any) -> dict[str, Any]:
    """Counts over ops_conversations: per category, handoffs and their reasons, fallbacks, ratings."""
    c = conversations.c
    by_category = dict(db.execute(select(c.category, func.count()).where(in_period).group_by(c.category)).all())
    return {
        "by_category": by_category, "total": sum(by_category.values()),
        "handed_off": db.execute(select(func.count()).where(in_period, c.handed_off)).scalar() or 0,
        "reasons": dict(db.execute(select(c.handoff_reason, func.count()).where(in_period, c.handed_off)
                                   .group_by(c.handoff_reason)).all()),
        "fallback_conversations": db.execute(select(func.count()).where(in_period, c.fallbacks > 0)).scalar() or 0,
        "ratings": [r for (r,) in db.execute(select(c.rating).where(in_period, c.rating.is_not(None)))],
        "handed_off_senders": {s for (s,) in db.execute(select(c.sender_id).where(in_period, c.handed_off))},
    }


def turn_figures(db: Connection, in_period: Any) -> dict[str, Any]:
    """Counts over the callers' own messages (not form answers) of conversations in the period."""
    t = turns.c
    joined = turns.join(conversations, t.sender_id == conversations.c.sender_id)
    asked = and_(in_period, not_(t.form_answer))
    count = select(func.count()).select_from(joined)
    return {
        "questions": db.execute(count.where(asked)).scalar() or 0,
        "fell_back": db.execute(count.where(asked, t.fell_back)).scalar() or 0,
        "hours": dict(db.execute(select(t.hour, func.count()).select_from(joined).where(asked).group_by(t.hour)).all()),
        "unanswered": db.execute(
            select(t.text, func.count(), func.max(t.ts), func.min(t.sender_id)).select_from(joined)
            .where(asked, t.fell_back).group_by(t.text).order_by(func.count().desc(), t.text).limit(TOP)).all(),
        "schemes": dict(db.execute(select(t.scheme, func.count()).select_from(joined)
                                   .where(in_period, t.scheme.is_not(None)).group_by(t.scheme)
                                   .order_by(func.count().desc(), t.scheme)).all()),
        "intents": intent_rows(db, joined, and_(asked, not_(t.text.startswith("/")))),
    }


def intent_rows(db: Any, joined: Any, typed: Any) -> list[list[Any]]:
    """Per intent: messages, mean confidence, how many were unsure, how many staff corrected to another intent."""
    t = turns.c
    low = func.sum(case((t.confidence < LOW_CONFIDENCE, 1), else_=0))
    found = db.execute(select(t.intent, func.count(), func.avg(t.confidence), low).select_from(joined).where(typed)
                       .group_by(t.intent)).all()
    moved = dict(db.execute(
        select(t.intent, func.count()).select_from(joined.join(corrections, corrections.c.event_id == t.event_id))
        .where(typed, corrections.c.intent != t.intent).group_by(t.intent)).all())
    rows = [[intent or "—", category_label(category_value(intent)), n, round(float(mean or 0), 3), int(unsure or 0),
             round(100 * int(unsure or 0) / n, 1), moved.get(intent, 0)] for intent, n, mean, unsure in found]
    return sorted(rows, key=lambda r: (-r[4], -r[6], r[3], r[0]))


def category_table(by_category: dict[str, int]) -> Table:
    """Seed 000's table: conversations per hotline topic and their share of topical conversations."""
    topical = sum(by_category.get(c.value, 0) for c in HOTLINE_CATEGORIES)
    rows: list[list[Any]] = [[CATEGORY_INFO[c].label, by_category.get(c.value, 0),
                              round(100 * by_category.get(c.value, 0) / topical, 1) if topical else 0.0]
                             for c in sorted(HOTLINE_CATEGORIES, key=lambda c: -by_category.get(c.value, 0))]
    others = sum(n for k, n in by_category.items() if k not in {c.value for c in HOTLINE_CATEGORIES})
    rows.append(["其他（問候、非業務問題、只找真人）", others, "—"])
    return Table("categories", "各類別對話數與占比", ["諮詢項目", "對話數", "占比(%)"], rows,
                 note="占比以六大類別的對話為分母（同 114/12/23 報告的諮詢項目表）；「其他」不計入占比。")


def first_response_minutes(all_tickets: list[Ticket], senders: set[str]) -> list[float]:
    """Minutes from opening to the first staff reply, for tickets of conversations in the period."""
    minutes = []
    for ticket in all_tickets:
        if ticket.conversation_id in senders and ticket.first_response_at:
            opened = dt.datetime.fromisoformat(ticket.created_at)
            answered = dt.datetime.fromisoformat(ticket.first_response_at)
            minutes.append((answered - opened).total_seconds() / 60)
    return minutes


def scheme_tables(asked: dict[str, int], kb: KnowledgeBase | None) -> dict[str, Table]:
    names: dict[str, tuple[str, str, str]] = {}
    ending: list[list[Any]] = []
    if kb is not None:
        for scheme_id in asked:
            try:
                scheme = kb.scheme(scheme_id)
            except UnknownScheme:
                continue
            names[scheme_id] = (scheme.name, category_label(scheme.category), STATUS_LABELS[kb.status(scheme)])
        today = kb.clock.today()
        closing = sorted(((kb.closing_day(s), s) for s in kb.ending_within(ENDING_DAYS)), key=lambda p: (p[0], p[1].id))
        for day, scheme in closing:
            ending.append([scheme.name, day.isoformat(), (day - today).days, asked.get(scheme.id, 0), scheme.id])
    most = [[*names.get(s, (s, "", "")), n, s] for s, n in list(asked.items())[:TOP]]
    return {
        "schemes": Table("schemes", "最常被問到的措施", ["措施", "類別", "狀態", "被問次數", "代碼"], most),
        "ending": Table("ending", f"{ENDING_DAYS}天內截止的措施", ["措施", "截止日", "剩餘天數", "期間內被問次數", "代碼"],
                        ending, note="" if kb is not None else "找不到知識庫（var/kb.db），無法列出。"),
    }
