"""Hotline figures for a period, in the form of seed 000's call table and more.

A conversation belongs to the period in which it started (Asia/Taipei dates), and
all its messages with it, so every table of one report counts the same callers.
Definitions (also shown on the page):
- category: the hotline topic the caller asked about most up to any handoff, a tie going
  to the latest (bot.categories.main_topic, the rule tickets use too); the topics table
  also counts every topic per message and per conversation that touched it;
- failed turn: one definition, bot/ops/failures.py (fallback, out of scope after a
  hotline question or at low confidence, a no-data answer, an untapped menu, a
  clarification not followed, a handoff or low rating after an answer);
- containment: conversations with no failed turn that never reached a person;
- failure rate: the caller's own messages (not form answers) that failed;
- handoff rate: conversations with a ticket (a person took over, or a damage report);
- time to first staff response: ticket opened → first staff reply (ticket store);
- satisfaction: the 1–5 ratings callers gave after a ticket was resolved.
Synthetic traffic (bot/ops/synthetic.py) is left out unless asked for; a channel can be chosen.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, not_, select, true
from sqlalchemy.engine import Connection, Engine

from bot.categories import CATEGORY_INFO, CHANNELS, HOTLINE_CATEGORIES, category_label, channel_label
from bot.formats import csv_text
from bot.handoff.tickets import Ticket, TicketStore
from bot.kb.query import KnowledgeBase, UnknownScheme
from bot.ops.events import HandoffReason, category_value, refresh
from bot.ops.failures import LOW_CONFIDENCE, Failure
from bot.ops.review import day_bounds, local_time
from bot.ops.schema import conversations, corrections, rate_limits, turns

TOP = 10
ENDING_DAYS = 60


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
    contained: float | None  # no failed turn and no ticket
    contained_without_ticket: float | None  # the old figure: no ticket, whatever happened
    failure_rate: float | None
    failed_conversations: int
    fallback_rate: float | None  # nlu_fallback only (the old 聽不懂 figure), for comparison
    handoff_rate: float | None
    handed_off: int
    median_first_response_minutes: float | None
    satisfaction: float | None
    ratings: int
    tables: dict[str, Table] = field(default_factory=dict)

    def summary(self) -> Table:
        return Table(
            "summary",
            "重點指標",
            ["指標", "數值"],
            [
                ["對話數", self.conversations],
                ["使用者提問數", self.questions],
                ["機器人自行處理率（無失敗回合且未轉真人）", percent(self.contained)],
                ["未轉真人比率（舊定義，含答錯）", percent(self.contained_without_ticket)],
                ["失敗回合比率（提問）", percent(self.failure_rate)],
                ["需要檢視的對話數", self.failed_conversations],
                ["聽不懂比率（僅 fallback）", percent(self.fallback_rate)],
                ["轉真人比率", percent(self.handoff_rate)],
                ["轉真人對話數", self.handed_off],
                [
                    "客服首次回覆時間中位數（分）",
                    "—" if self.median_first_response_minutes is None else round(self.median_first_response_minutes, 1),
                ],
                ["滿意度平均（1–5）", "—" if self.satisfaction is None else round(self.satisfaction, 2)],
                ["評分筆數", self.ratings],
            ],
        )

    def all_tables(self) -> list[Table]:
        return [self.summary(), *self.tables.values()]


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def report(
    engine: Engine,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    tickets: TicketStore | None = None,
    kb: KnowledgeBase | None = None,
    channel: str | None = None,
    synthetic: bool | None = None,
) -> Report:
    """Every figure of the metrics page for conversations started from ``date_from`` to ``date_to``.

    ``channel`` keeps one channel; ``synthetic`` False leaves test traffic out, True keeps only it,
    None (the library default; pages pass False) counts everything.
    """
    refresh(engine)
    c = conversations.c
    start, end = day_bounds(date_from, date_to)
    period = [
        cond
        for cond in (
            c.started_at >= start if start is not None else None,
            c.started_at < end if end is not None else None,
            c.channel == channel if channel else None,
            None if synthetic is None else (c.synthetic.is_not(None) if synthetic else c.synthetic.is_(None)),
        )
        if cond is not None
    ]
    in_period = and_(*period) if period else true()
    with engine.connect() as db:
        calls = conversation_figures(db, in_period)
        asked = turn_figures(db, in_period)
    total, handed_off, ratings = calls["total"], calls["handed_off"], calls["ratings"]
    minutes = first_response_minutes(tickets.queue() if tickets else [], calls["handed_off_senders"])
    tables = {
        "categories": category_table(calls["by_category"]),
        "topics": topic_table(asked["topics"], asked["topic_conversations"]),
        "failures": failure_table(asked["failures"], asked["questions"]),
        "handoff_reasons": Table(
            "handoff_reasons",
            "轉真人原因",
            ["原因", "對話數", "占比(%)"],
            [
                [HandoffReason.LABELS.get(str(k), str(k)), n, round(100 * n / handed_off, 1)]
                for k, n in sorted(calls["reasons"].items(), key=lambda kv: (-kv[1], str(kv[0])))
            ],
        ),
        "hours": Table(
            "hours",
            "各時段提問數（臺北時間）",
            ["時段", "提問數"],
            [[f"{h:02d}:00–{h:02d}:59", asked["hours"].get(h, 0)] for h in range(24)],
        ),
        "unanswered": Table(
            "unanswered",
            "最常問但答不出來的問題（失敗回合）",
            ["問題", "次數", "最近一次", "對話", "非問題"],
            [
                [text, n, local_time(last), sender, junk_reason(text) or ""]
                for text, n, last, sender in asked["unanswered"]
            ],
            note="不是真正問題的輸入（程式碼、攻擊字串、亂碼）標為「非問題」，不要拿來當訓練資料。",
        ),
        "intents": Table(
            "intents",
            "各意圖的信心值與修正（該補訓練的先看）",
            ["意圖", "類別", "訊息數", "平均信心", f"信心低於{LOW_CONFIDENCE:g}", "低信心占比(%)", "被改成其他意圖"],
            asked["intents"],
            note="只算民眾自己打的字（不含按鈕與表單回答）；依低信心則數排序。",
        ),
        **scheme_tables(asked["schemes"], kb),
        "rate_limits": rate_limit_table(engine, date_from, date_to, channel),
    }
    return Report(
        date_from=date_from,
        date_to=date_to,
        conversations=total,
        questions=asked["questions"],
        contained=ratio(calls["contained"], total),
        contained_without_ticket=ratio(total - handed_off, total),
        failure_rate=ratio(asked["failed"], asked["questions"]),
        failed_conversations=calls["failed_conversations"],
        fallback_rate=ratio(asked["fell_back"], asked["questions"]),
        handoff_rate=ratio(handed_off, total),
        handed_off=handed_off,
        median_first_response_minutes=statistics.median(minutes) if minutes else None,
        satisfaction=statistics.fmean(ratings) if ratings else None,
        ratings=len(ratings),
        tables=tables,
    )


def conversation_figures(db: Connection, in_period: Any) -> dict[str, Any]:
    """Counts over ops_conversations: per category, handoffs and their reasons, fallbacks, ratings."""
    c = conversations.c
    by_category = dict(db.execute(select(c.category, func.count()).where(in_period).group_by(c.category)).all())
    return {
        "by_category": by_category,
        "total": sum(by_category.values()),
        "handed_off": db.execute(select(func.count()).where(in_period, c.handed_off)).scalar() or 0,
        "reasons": dict(
            db.execute(
                select(c.handoff_reason, func.count()).where(in_period, c.handed_off).group_by(c.handoff_reason)
            ).all()
        ),
        "failed_conversations": db.execute(select(func.count()).where(in_period, c.failures > 0)).scalar() or 0,
        "contained": db.execute(select(func.count()).where(in_period, c.failures == 0, not_(c.handed_off))).scalar()
        or 0,
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
        "failed": db.execute(count.where(asked, t.failed)).scalar() or 0,
        "failures": dict(
            db.execute(
                select(t.failure, func.count()).select_from(joined).where(asked, t.failed).group_by(t.failure)
            ).all()
        ),
        "topics": dict(
            db.execute(select(t.category, func.count()).select_from(joined).where(asked).group_by(t.category)).all()
        ),
        "topic_conversations": dict(
            db.execute(
                select(t.category, func.count(t.sender_id.distinct()))
                .select_from(joined)
                .where(asked)
                .group_by(t.category)
            ).all()
        ),
        "hours": dict(db.execute(select(t.hour, func.count()).select_from(joined).where(asked).group_by(t.hour)).all()),
        "unanswered": db.execute(
            select(t.text, func.count(), func.max(t.ts), func.min(t.sender_id))
            .select_from(joined)
            .where(asked, t.failed, not_(t.text.startswith("/")))
            .group_by(t.text)
            .order_by(func.count().desc(), t.text)
            .limit(TOP)
        ).all(),
        "schemes": dict(
            db.execute(
                select(t.scheme, func.count())
                .select_from(joined)
                .where(in_period, t.scheme.is_not(None))
                .group_by(t.scheme)
                .order_by(func.count().desc(), t.scheme)
            ).all()
        ),
        "intents": intent_rows(db, joined, and_(asked, not_(t.text.startswith("/")))),
    }


def intent_rows(db: Any, joined: Any, typed: Any) -> list[list[Any]]:
    """Per intent: messages, mean confidence, how many were unsure, how many staff corrected to another intent."""
    t = turns.c
    low = func.sum(case((t.confidence < LOW_CONFIDENCE, 1), else_=0))
    found = db.execute(
        select(t.intent, func.count(), func.avg(t.confidence), low).select_from(joined).where(typed).group_by(t.intent)
    ).all()
    moved = dict(
        db.execute(
            select(t.intent, func.count())
            .select_from(joined.join(corrections, corrections.c.event_id == t.event_id))
            .where(typed, corrections.c.intent != t.intent)
            .group_by(t.intent)
        ).all()
    )
    rows = [
        [
            intent or "—",
            category_label(category_value(intent)),
            n,
            round(float(mean or 0), 3),
            int(unsure or 0),
            round(100 * int(unsure or 0) / n, 1),
            moved.get(intent, 0),
        ]
        for intent, n, mean, unsure in found
    ]
    return sorted(rows, key=lambda r: (-r[4], -r[6], r[3], r[0]))


def rate_limit_table(
    engine: Engine, date_from: dt.date | None, date_to: dt.date | None, channel: str | None = None
) -> Table:
    """Messages the rate limits refused, per channel and reason (bot/channels/rate_limit.py), by Taipei day.

    Refused messages never reach the NLU or the tracker, so no conversation counts them;
    every Rasa server adds its refusals to ``ops_rate_limits``.
    """
    r = rate_limits.c
    where = [
        cond
        for cond in (
            r.day >= date_from.isoformat() if date_from else None,
            r.day <= date_to.isoformat() if date_to else None,
            r.channel == channel if channel else None,
        )
        if cond is not None
    ]
    with engine.connect() as db:
        found = db.execute(
            select(r.channel, r.reason, func.sum(r.refused)).where(and_(true(), *where)).group_by(r.channel, r.reason)
        ).all()
    counts = {(c, reason): int(n or 0) for c, reason, n in found}
    shown = [c for c in CHANNELS if not channel or c == channel]
    rows = [
        [
            channel_label(c),
            counts.get((c, "sender"), 0),
            counts.get((c, "address"), 0),
            counts.get((c, "sender"), 0) + counts.get((c, "address"), 0),
        ]
        for c in shown
    ]
    return Table(
        "rate_limits",
        "頻率限制擋下的訊息（各管道）",
        ["管道", "同一傳送者太頻繁", "同一來源位址太頻繁", "合計"],
        rows,
        note="被擋下的訊息收到「請稍等幾秒」的回覆，不進入對話，也不算在上面的對話數；依擋下日期（臺北時間）計算，含測試流量。",
    )


def category_table(by_category: dict[str, int]) -> Table:
    """Seed 000's table: conversations per hotline topic and their share of topical conversations."""
    topical = sum(by_category.get(c.value, 0) for c in HOTLINE_CATEGORIES)
    rows: list[list[Any]] = [
        [
            CATEGORY_INFO[c].label,
            by_category.get(c.value, 0),
            round(100 * by_category.get(c.value, 0) / topical, 1) if topical else 0.0,
        ]
        for c in sorted(HOTLINE_CATEGORIES, key=lambda c: -by_category.get(c.value, 0))
    ]
    others = sum(n for k, n in by_category.items() if k not in {c.value for c in HOTLINE_CATEGORIES})
    rows.append(["其他（問候、非業務問題、只找真人）", others, "—"])
    return Table(
        "categories",
        "各類別對話數與占比",
        ["諮詢項目", "對話數", "占比(%)"],
        rows,
        note="占比以六大類別的對話為分母（同 114/12/23 報告的諮詢項目表）；「其他」不計入占比。",
    )


def topic_table(per_message: dict[str, int], per_conversation: dict[str, int]) -> Table:
    """Every hotline topic counted per caller message and per conversation that asked about it.

    The category table puts a conversation under one topic; here a caller who asked
    about loans and then tariffs counts under both.
    """
    rows = [
        [CATEGORY_INFO[c].label, per_message.get(c.value, 0), per_conversation.get(c.value, 0)]
        for c in sorted(HOTLINE_CATEGORIES, key=lambda c: -per_message.get(c.value, 0))
    ]
    return Table(
        "topics",
        "各類別的訊息數（一段對話可算入多個類別）",
        ["諮詢項目", "訊息數", "提到的對話數"],
        rows,
        note="訊息數：民眾自己的每一則提問（含點選按鈕，不含表單回答）依其意圖分類。",
    )


def failure_table(by_kinds: dict[str, int], questions: int) -> Table:
    """Failed turns per kind of failure (a turn can fail in two ways at once)."""
    counts = {kind: 0 for kind in Failure}
    for kinds, n in by_kinds.items():
        for value in str(kinds or "").split(","):
            if value in Failure._value2member_map_:
                counts[Failure(value)] += n
    rows = [[kind.label, n, percent(ratio(n, questions))] for kind, n in counts.items()]
    return Table(
        "failures",
        "失敗回合的種類",
        ["種類", "回合數", "占提問(%)"],
        rows,
        note="同一回合可能同時屬於兩種（例如聽不懂又沒接上追問）。",
    )


JUNK = re.compile(
    r"(?i)(<\s*/?\s*script|\bor\s+1\s*=\s*1|\bunion\s+select|\bdrop\s+table|--\s*$|;\s*--|\{\{|\$\{|"
    r"ignore (all )?(previous|above) instructions|忽略(以上|之前|先前)的?(指示|指令)|system prompt)"
)
CJK = re.compile(r"[\u3400-\u9fff]")


def junk_reason(text: str) -> str | None:
    """Why a caller's text is not a question to learn from (markup, injection, no words), if it is not."""
    if JUNK.search(text):
        return "疑似攻擊或程式碼"
    if not CJK.search(text) and not re.search(r"[A-Za-z]{3,}", text):
        return "無文字內容"
    return None


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
            names[scheme_id] = (scheme.name, category_label(scheme.category), kb.status(scheme).staff_label)
        today = kb.clock.today()
        closing = sorted(
            ((day, s) for s in kb.ending_within(ENDING_DAYS) if (day := kb.closing_day(s)) is not None),
            key=lambda p: (p[0], p[1].id),
        )
        for day, scheme in closing:
            ending.append([scheme.name, day.isoformat(), (day - today).days, asked.get(scheme.id, 0), scheme.id])
    most = [[*names.get(s, (s, "", "")), n, s] for s, n in list(asked.items())[:TOP]]
    return {
        "schemes": Table("schemes", "最常被問到的措施", ["措施", "類別", "狀態", "被問次數", "代碼"], most),
        "ending": Table(
            "ending",
            f"{ENDING_DAYS}天內截止的措施",
            ["措施", "截止日", "剩餘天數", "期間內被問次數", "代碼"],
            ending,
            note="" if kb is not None else "找不到知識庫（var/kb.db），無法列出。",
        ),
    }
