"""Reviewing conversations: filtered pages, one conversation's turns, tags, reviewed, corrections.

Everything is SQL over the derived tables (bot/ops/events.py) through SQLAlchemy
Core with bound parameters; free text goes into ``LIKE`` with its wildcards escaped.
Filter values arrive as strings from a page or the CLI and are checked once, by
``Filters.parse`` (bot/ops/filters.py, the one table of filters).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, not_, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bot import messages
from bot.categories import INTENT_CATEGORY
from bot.clock import TAIPEI
from bot.ops.domain import domain_entities
from bot.ops.events import Conversation, refresh
from bot.ops.filters import SORT_COLUMNS, TAG, BadFilter, Filters
from bot.ops.schema import conversations, corrections, open_engine, reviews, tags, turns

SORTS = {key: conversations.c[column] for key, column in SORT_COLUMNS.items()}


class UnknownConversation(KeyError):
    """No conversation has this id."""


class UnknownTurn(UnknownConversation):
    """No user message has this event id."""


class BadCorrection(ValueError):
    """A correction we cannot store (unknown intent, entity outside the text...); message from bot.messages."""


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
        where.append(
            or_(
                c.sender_id == f.q,
                exists().where(
                    t.sender_id == c.sender_id,
                    or_(func.lower(t.text).like(pattern, escape="\\"), func.lower(t.answer).like(pattern, escape="\\")),
                ),
            )
        )
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

    def search(self, f: Filters) -> Page:
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
            for sender, tag in db.execute(
                select(tags.c.sender_id, tags.c.tag).where(tags.c.sender_id.in_(senders)).order_by(tags.c.tag)
            ):
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
            tag_list = [
                t for (t,) in db.execute(select(tags.c.tag).where(tags.c.sender_id == sender_id).order_by(tags.c.tag))
            ]
            rows = (
                db.execute(select(turns).where(turns.c.sender_id == sender_id).order_by(turns.c.seq)).mappings().all()
            )
        view_turns = []
        for r in rows:
            item = dict(r)
            item.update(
                entities=json.loads(r["entities"]),
                actions=json.loads(r["actions"]),
                replies=json.loads(r["replies"]),
                at=local_time(r["ts"]),
            )
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
            raise BadFilter(messages.TAG_RULE)
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
            if (
                db.execute(select(conversations.c.sender_id).where(conversations.c.sender_id == sender_id)).first()
                is None
            ):
                raise UnknownConversation(sender_id)

    # --- corrections --------------------------------------------------------------
    def correct(self, event_id: int, intent: str, entities: list[dict[str, Any]], staff: str) -> Correction:
        """Store the right intent (and entities) of one user message, replacing an earlier correction.

        Raises:
            UnknownTurn: no user message has this id.
            BadCorrection: the intent is unknown, the message is a button or a form answer,
                or an entity is not a piece of the text.
        """
        with self.engine.connect() as db:
            turn = db.execute(select(turns).where(turns.c.event_id == event_id)).mappings().first()
        if turn is None:
            raise UnknownTurn(event_id)
        if intent not in INTENT_CATEGORY:
            raise BadCorrection(messages.CORRECTION_INTENT)
        if turn["text"].startswith("/"):
            raise BadCorrection(messages.CORRECTION_BUTTON)
        if turn["form_answer"]:
            raise BadCorrection(messages.CORRECTION_FORM_ANSWER)
        checked = [check_entity(turn["text"], e) for e in entities]
        values = dict(
            sender_id=turn["sender_id"],
            event_id=event_id,
            text=turn["text"],
            intent=intent,
            entities=json.dumps(checked, ensure_ascii=False),
            corrected_by=staff,
            corrected_at=self.now(),
        )
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
            return [
                Correction(
                    r["id"],
                    r["sender_id"],
                    r["event_id"],
                    r["text"],
                    r["intent"],
                    json.loads(r["entities"]),
                    r["corrected_by"],
                    r["corrected_at"],
                )
                for r in db.execute(query).mappings()
            ]

    def original_intents(self, event_ids: list[int]) -> dict[int, str | None]:
        """What the model said for these user messages (to show "from → to" beside corrections)."""
        with self.engine.connect() as db:
            return dict(
                db.execute(select(turns.c.event_id, turns.c.intent).where(turns.c.event_id.in_(event_ids))).all()
            )

    def sender_of_turn(self, event_id: int) -> str:
        """The conversation a user message belongs to (for redirects after a correction)."""
        with self.engine.connect() as db:
            sender = db.execute(select(turns.c.sender_id).where(turns.c.event_id == event_id)).scalar()
        if sender is None:
            raise UnknownTurn(event_id)
        return str(sender)


def check_entity(text: str, entity: Mapping[str, Any]) -> dict[str, Any]:
    """An entity as stored: name, the exact piece of ``text`` and its position, a canonical value.

    The piece is found by position when given, else by its first occurrence.
    """
    name = str(entity.get("entity") or "")
    if name not in domain_entities():
        raise BadCorrection(messages.correction_unknown_entity(name))
    piece = str(entity.get("text") or "")
    start = entity.get("start")
    if not isinstance(start, int) or text[start : start + len(piece)] != piece:
        start = text.find(piece) if piece else -1
    if not piece or start < 0:
        raise BadCorrection(messages.correction_not_in_text(piece))
    value = str(entity.get("value") or piece).strip()[:100]
    return {"entity": name, "text": piece, "start": start, "end": start + len(piece), "value": value}


def _row(r: Mapping[str, Any], reviewed: bool, tag_list: list[str]) -> Row:
    values = {f.name: r[f.name] for f in fields(Conversation)}
    return Row(**{**values, "handed_off": bool(values["handed_off"])}, reviewed=reviewed, tags=tuple(tag_list))
