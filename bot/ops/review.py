"""Reviewing conversations: filters, pages, one conversation's turns, tags, reviewed, corrections.

Everything is SQL over the derived tables (bot/ops/events.py) through SQLAlchemy
Core with bound parameters; free text goes into ``LIKE`` with its wildcards escaped.
Filter values arrive as strings from a page or the CLI and are checked here once
(``Filters.parse``): a bad one raises ``BadFilter`` with a zh-TW reason.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, not_, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot.categories import INTENT_CATEGORY, Category
from bot.clock import TAIPEI
from bot.ops.domain import domain_entities
from bot.ops.events import OTHER, Conversation, refresh
from bot.ops.schema import conversations, corrections, open_engine, reviews, tags, turns

CHANNELS = ("rest", "line", "socketio")
CHANNEL_LABELS = {"rest": "網頁/REST", "line": "LINE", "socketio": "網頁聊天"}
SORTS = {
    "started": conversations.c.started_at, "last": conversations.c.last_at, "questions": conversations.c.questions,
    "confidence": conversations.c.min_confidence, "fallbacks": conversations.c.fallbacks,
    "failures": conversations.c.failures,
}
MAX_PER_PAGE = 200
MAX_TEXT = 200
TAG = re.compile(r"^[^\x00-\x1f\x7f<>&\"'\\/]{1,40}$")  # any words and punctuation, no markup or controls


class BadFilter(ValueError):
    """A filter value we cannot use; the message is zh-TW for staff."""


class UnknownConversation(KeyError):
    """No conversation (or no user message) has this id."""


class BadCorrection(ValueError):
    """A correction we cannot store (unknown intent, entity outside the text...); zh-TW message."""


@dataclass(frozen=True, slots=True)
class Filters:
    """What the conversation list shows; every field is optional."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    channel: str | None = None
    category: str | None = None
    intent: str | None = None
    below: float | None = None  # some typed message had confidence below this
    failed: bool | None = None  # some message failed (bot/ops/failures.py: the 「需要檢視」 definition)
    handed_off: bool | None = None
    rating: str | None = None  # "1".."5" or "none"
    tag: str | None = None
    reviewed: bool | None = None
    q: str | None = None
    sort: str = "started"
    desc: bool = True
    page: int = 1
    per_page: int = 25
    # Synthetic traffic (bot/ops/synthetic.py): False leaves it out, True shows only it, None both.
    # The library default is None; pages and the CLI parse a missing value as False (left out).
    synthetic: bool | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, str | None]) -> Filters:
        """Filters from query-string-like values; empty strings mean "any".

        Raises:
            BadFilter: a value is not allowed; the message names the filter in zh-TW.
        """
        get = {k: (str(v).strip() if v is not None else "") for k, v in raw.items()}
        values: dict[str, Any] = {
            "date_from": _date(get.get("from", ""), "開始日期"), "date_to": _date(get.get("to", ""), "結束日期"),
            "channel": _choice(get.get("channel", ""), set(CHANNELS), "管道"),
            "category": _choice(get.get("category", ""), {c.value for c in Category} | {OTHER}, "類別"),
            "intent": _choice(get.get("intent", ""), set(INTENT_CATEGORY) | {"nlu_fallback"}, "意圖"),
            "below": _number(get.get("below", ""), "信心值門檻", 0.0, 1.0),
            "failed": _flag(get.get("failed", "") or get.get("fell_back", ""), "需要檢視"),
            "synthetic": _synthetic(get.get("synthetic", "")), "handed_off": _flag(get.get("handed_off", ""), "轉真人"),
            "rating": _choice(get.get("rating", ""), {"1", "2", "3", "4", "5", "none"}, "評分"),
            "tag": get.get("tag") or None, "reviewed": _flag(get.get("reviewed", ""), "已檢視"),
            "q": get.get("q") or None, "sort": get.get("sort") or "started",
            "desc": get.get("order", "desc") != "asc",
            "page": int(_number(get.get("page", ""), "頁碼", 1, 10**6) or 1),
            "per_page": int(_number(get.get("per_page", ""), "每頁筆數", 1, MAX_PER_PAGE) or 25),
        }
        if values["sort"] not in SORTS:
            raise BadFilter("排序欄位不正確。")
        if values["q"] and len(values["q"]) > MAX_TEXT:
            raise BadFilter(f"搜尋文字請在{MAX_TEXT}字以內。")
        if values["tag"] and not TAG.match(values["tag"]):
            raise BadFilter("標籤格式不正確。")
        if values["date_from"] and values["date_to"] and values["date_from"] > values["date_to"]:
            raise BadFilter("開始日期不能晚於結束日期。")
        return cls(**values)

    def query(self, **changes: Any) -> dict[str, str]:
        """These filters as query-string values (for links: next page, sort, CSV)."""
        f = replace(self, **changes)
        out = {"from": f.date_from.isoformat() if f.date_from else "", "to": f.date_to.isoformat() if f.date_to else "",
               "channel": f.channel or "", "category": f.category or "", "intent": f.intent or "",
               "below": "" if f.below is None else str(f.below), "failed": _flag_text(f.failed),
               "synthetic": {False: "", None: "yes", True: "only"}[f.synthetic],
               "handed_off": _flag_text(f.handed_off), "rating": f.rating or "", "tag": f.tag or "",
               "reviewed": _flag_text(f.reviewed), "q": f.q or "", "sort": f.sort, "order": "desc" if f.desc else "asc",
               "page": str(f.page), "per_page": str(f.per_page)}
        return {k: v for k, v in out.items() if v and not (k == "per_page" and v == "25") and not (k == "page" and v == "1")}


def _date(text: str, label: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise BadFilter(f"{label}格式不正確，請用 2026-11-23 這種格式。") from exc


def _choice(text: str, allowed: set[str], label: str) -> str | None:
    if text and text not in allowed:
        raise BadFilter(f"篩選條件「{label}」的值不正確。")
    return text or None


def _number(text: str, label: str, low: float, high: float) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise BadFilter(f"{label}必須是數字。") from exc
    if not low <= value <= high:
        raise BadFilter(f"{label}必須介於{low:g}到{high:g}之間。")
    return value


def _flag(text: str, label: str) -> bool | None:
    if text in ("", "any"):
        return None
    if text in ("1", "yes", "true"):
        return True
    if text in ("0", "no", "false"):
        return False
    raise BadFilter(f"篩選條件「{label}」的值不正確。")


def _synthetic(text: str) -> bool | None:
    """``synthetic=``: missing or no leaves test traffic out, yes includes it, only shows nothing else."""
    choices: dict[str, bool | None] = {"": False, "no": False, "0": False, "yes": None, "1": None, "any": None,
                                       "only": True}
    if text not in choices:
        raise BadFilter("篩選條件「測試流量」的值不正確。")
    return choices[text]


def _flag_text(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def day_bounds(date_from: dt.date | None, date_to: dt.date | None) -> tuple[float | None, float | None]:
    """Unix times of Taipei midnight on ``date_from`` and after ``date_to`` (both inclusive dates)."""
    start = dt.datetime.combine(date_from, dt.time(), TAIPEI).timestamp() if date_from else None
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), TAIPEI).timestamp() if date_to else None
    return start, end


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's own characters escaped (``\\`` is the escape character)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def conditions(f: Filters) -> list[Any]:
    """SQL conditions on ``ops_conversations`` for ``f`` (bound parameters only)."""
    c, t = conversations.c, turns.c
    where: list[Any] = []
    start, end = day_bounds(f.date_from, f.date_to)
    if start is not None:
        where.append(c.started_at >= start)
    if end is not None:
        where.append(c.started_at < end)
    if f.channel:
        where.append(c.channel == f.channel)
    if f.category:
        where.append(c.category == f.category)
    if f.intent:
        where.append(exists().where(t.sender_id == c.sender_id, t.intent == f.intent, not_(t.form_answer)))
    if f.below is not None:
        where.append(c.min_confidence < f.below)
    if f.failed is not None:
        where.append(c.failures > 0 if f.failed else c.failures == 0)
    if f.synthetic is not None:
        where.append(c.synthetic.is_not(None) if f.synthetic else c.synthetic.is_(None))
    if f.handed_off is not None:
        where.append(c.handed_off == f.handed_off)
    if f.rating == "none":
        where.append(c.rating.is_(None))
    elif f.rating:
        where.append(c.rating == int(f.rating))
    if f.tag:
        where.append(exists().where(tags.c.sender_id == c.sender_id, tags.c.tag == f.tag))
    if f.reviewed is not None:
        reviewed = exists().where(reviews.c.sender_id == c.sender_id)
        where.append(reviewed if f.reviewed else not_(reviewed))
    if f.q:
        pattern = like_pattern(f.q.lower())
        where.append(or_(c.sender_id == f.q, exists().where(
            t.sender_id == c.sender_id,
            or_(func.lower(t.text).like(pattern, escape="\\"), func.lower(t.answer).like(pattern, escape="\\")))))
    return where


@dataclass(frozen=True, slots=True)
class Row(Conversation):
    """A conversation in the list, with its review state."""

    reviewed: bool
    tags: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["tags"] = list(self.tags)
        out["started"] = local_time(self.started_at)
        return out


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]
    total: int
    filters: Filters

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.filters.per_page))


@dataclass(frozen=True, slots=True)
class Correction:
    id: int
    sender_id: str
    event_id: int
    text: str
    intent: str
    entities: list[dict[str, Any]]
    corrected_by: str
    corrected_at: float


@dataclass(frozen=True, slots=True)
class ConversationView:
    row: Row
    turns: list[dict[str, Any]]
    corrections: dict[int, Correction] = field(default_factory=dict)


def local_time(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, TAIPEI).strftime("%Y-%m-%d %H:%M")


class Review:
    """The review side of the ops database; refreshes the derived tables before reading."""

    def __init__(self, engine: Engine, now: Any = time.time) -> None:
        self.engine = engine
        self.now = now

    @classmethod
    def from_url(cls, url: str) -> Review:
        return cls(open_engine(url))

    def refresh(self) -> None:
        refresh(self.engine)

    def list(self, f: Filters) -> Page:
        self.refresh()
        return self.page(f)

    def page(self, f: Filters) -> Page:
        """One page of the list as the derived tables stand (no refresh: for paging through many in one go)."""
        found_conditions = conditions(f)
        where = and_(*found_conditions) if found_conditions else None
        order = SORTS[f.sort]
        # NULLs (a conversation without a question has no confidence) last on SQLite and PostgreSQL alike.
        order = (order.desc() if f.desc else order.asc()).nulls_last()
        count = select(func.count()).select_from(conversations)
        query = select(conversations).order_by(order, conversations.c.sender_id)
        if where is not None:
            count, query = count.where(where), query.where(where)
        query = query.limit(f.per_page).offset((f.page - 1) * f.per_page)
        with self.engine.connect() as db:
            total = int(db.execute(count).scalar() or 0)
            found = db.execute(query).mappings().all()
            senders = [r["sender_id"] for r in found]
            marked = {s for (s,) in db.execute(select(reviews.c.sender_id).where(reviews.c.sender_id.in_(senders)))}
            tagged: dict[str, list[str]] = {}
            for sender, tag in db.execute(select(tags.c.sender_id, tags.c.tag).where(tags.c.sender_id.in_(senders))
                                          .order_by(tags.c.tag)):
                tagged.setdefault(sender, []).append(tag)
        return Page([_row(r, r["sender_id"] in marked, tagged.get(r["sender_id"], [])) for r in found], total, f)

    def conversation(self, sender_id: str) -> ConversationView:
        """One conversation with every turn (oldest first) and its corrections.

        Raises:
            UnknownConversation: no conversation has this id.
        """
        self.refresh()
        with self.engine.connect() as db:
            found = db.execute(select(conversations).where(conversations.c.sender_id == sender_id)).mappings().first()
            if found is None:
                raise UnknownConversation(sender_id)
            reviewed = db.execute(select(reviews.c.sender_id).where(reviews.c.sender_id == sender_id)).first()
            tag_list = [t for (t,) in db.execute(select(tags.c.tag).where(tags.c.sender_id == sender_id).order_by(tags.c.tag))]
            rows = db.execute(select(turns).where(turns.c.sender_id == sender_id).order_by(turns.c.seq)).mappings().all()
        view_turns = []
        for r in rows:
            item = dict(r)
            item.update(entities=json.loads(r["entities"]), actions=json.loads(r["actions"]),
                        replies=json.loads(r["replies"]), at=local_time(r["ts"]))
            view_turns.append(item)
        fixed = {c.event_id: c for c in self.corrections(sender_id)}
        return ConversationView(_row(found, reviewed is not None, tag_list), view_turns, fixed)

    # --- review state -------------------------------------------------------------
    def set_reviewed(self, sender_id: str, staff: str, reviewed: bool = True) -> None:
        self._known(sender_id)
        with self.engine.begin() as db:
            db.execute(delete(reviews).where(reviews.c.sender_id == sender_id))
            if reviewed:
                db.execute(insert(reviews).values(sender_id=sender_id, reviewed_by=staff, reviewed_at=self.now()))

    def add_tag(self, sender_id: str, tag: str, staff: str) -> None:
        tag = tag.strip()
        if not TAG.match(tag):
            raise BadFilter("標籤請用1到40個字，不能有 < > & 引號、斜線或控制字元。")
        self._known(sender_id)
        try:
            with self.engine.begin() as db:
                db.execute(insert(tags).values(sender_id=sender_id, tag=tag, added_by=staff, added_at=self.now()))
        except IntegrityError:
            pass  # the conversation already has this tag

    def remove_tag(self, sender_id: str, tag: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(tags).where(tags.c.sender_id == sender_id, tags.c.tag == tag))

    def all_tags(self) -> list[str]:
        with self.engine.connect() as db:
            return [t for (t,) in db.execute(select(tags.c.tag).distinct().order_by(tags.c.tag))]

    def _known(self, sender_id: str) -> None:
        with self.engine.connect() as db:
            if db.execute(select(conversations.c.sender_id).where(conversations.c.sender_id == sender_id)).first() is None:
                raise UnknownConversation(sender_id)

    # --- corrections --------------------------------------------------------------
    def correct(self, event_id: int, intent: str, entities: list[dict[str, Any]], staff: str) -> Correction:
        """Store the right intent (and entities) of one user message, replacing an earlier correction.

        Raises:
            UnknownConversation: no user message has this id.
            BadCorrection: the intent is unknown, the message is a button or a form answer,
                or an entity is not a piece of the text.
        """
        with self.engine.connect() as db:
            turn = db.execute(select(turns).where(turns.c.event_id == event_id)).mappings().first()
        if turn is None:
            raise UnknownConversation(event_id)
        if intent not in INTENT_CATEGORY:
            raise BadCorrection("請選擇正確的意圖。")
        if turn["text"].startswith("/"):
            raise BadCorrection("這是按鈕送出的訊息，不能當作訓練資料。")
        if turn["form_answer"]:
            raise BadCorrection("這是表單回答（姓名、電話等），不能當作訓練資料。")
        checked = [check_entity(turn["text"], e) for e in entities]
        values = dict(sender_id=turn["sender_id"], event_id=event_id, text=turn["text"], intent=intent,
                      entities=json.dumps(checked, ensure_ascii=False), corrected_by=staff, corrected_at=self.now())
        with self.engine.begin() as db:
            db.execute(delete(corrections).where(corrections.c.event_id == event_id))
            db.execute(insert(corrections).values(**values))
        return next(c for c in self.corrections(turn["sender_id"]) if c.event_id == event_id)

    def remove_correction(self, event_id: int) -> None:
        with self.engine.begin() as db:
            db.execute(delete(corrections).where(corrections.c.event_id == event_id))

    def corrections(self, sender_id: str | None = None) -> list[Correction]:
        query = select(corrections).order_by(corrections.c.id)
        if sender_id is not None:
            query = query.where(corrections.c.sender_id == sender_id)
        with self.engine.connect() as db:
            return [Correction(r["id"], r["sender_id"], r["event_id"], r["text"], r["intent"], json.loads(r["entities"]),
                               r["corrected_by"], r["corrected_at"]) for r in db.execute(query).mappings()]

    def original_intents(self, event_ids: list[int]) -> dict[int, str | None]:
        """What the model said for these user messages (to show "from → to" beside corrections)."""
        with self.engine.connect() as db:
            return dict(db.execute(select(turns.c.event_id, turns.c.intent).where(turns.c.event_id.in_(event_ids))).all())

    def sender_of_turn(self, event_id: int) -> str:
        """The conversation a user message belongs to (for redirects after a correction)."""
        with self.engine.connect() as db:
            sender = db.execute(select(turns.c.sender_id).where(turns.c.event_id == event_id)).scalar()
        if sender is None:
            raise UnknownConversation(event_id)
        return str(sender)


def check_entity(text: str, entity: Mapping[str, Any]) -> dict[str, Any]:
    """An entity as stored: name, the exact piece of ``text`` and its position, a canonical value.

    The piece is found by position when given, else by its first occurrence.
    """
    name = str(entity.get("entity") or "")
    if name not in domain_entities():
        raise BadCorrection(f"實體類型「{name}」不存在。")
    piece = str(entity.get("text") or "")
    start = entity.get("start")
    if not isinstance(start, int) or text[start:start + len(piece)] != piece:
        start = text.find(piece) if piece else -1
    if not piece or start < 0:
        raise BadCorrection(f"「{piece}」不在這句話裡，請填寫句子中的原文。")
    value = str(entity.get("value") or piece).strip()[:100]
    return {"entity": name, "text": piece, "start": start, "end": start + len(piece), "value": value}


def _row(r: Mapping[str, Any], reviewed: bool, tag_list: list[str]) -> Row:
    values = {f.name: r[f.name] for f in fields(Conversation)}
    return Row(**{**values, "handed_off": bool(values["handed_off"])}, reviewed=reviewed, tags=tuple(tag_list))
