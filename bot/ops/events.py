"""From Rasa events to turns and conversations: a pure core and an incremental refresh.

The event broker writes one JSON row per event. Parsing all of them on every page
view gets slow, so ``refresh`` folds new events into ``ops_turns`` (one row per user
message with what the bot did about it) and ``ops_conversations`` (one row per
sender), keeping a watermark on ``events.id``. A sender with new events is rebuilt
from all its events: a turn's answer arrives after its user event, and a whole
conversation is small, so rebuilding is simpler and safer than patching.

Known limit: on PostgreSQL with several writers, an event committed late with an id
below the watermark would be missed until that sender's next event.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bot.categories import FALLBACK_INTENT, OTHER, Channel, UnknownIntent, category_of, main_topic
from bot.clock import TAIPEI
from bot.ops.failures import Failure, failures, kinds_text
from bot.ops.schema import DERIVED_WATERMARK, conversations, events, state, turns
from bot.ops.synthetic import event_kind, sender_kind

logger = logging.getLogger(__name__)

# Our fallback: the FallbackClassifier's intent leads to action_clarify_topic
# (actions/fallback.py); the RulePolicy's core fallback is Rasa's default action.
FALLBACK_ACTIONS = frozenset({"action_default_fallback", "action_clarify_topic", "action_two_stage_fallback"})
HANDOFF_FORMS = frozenset({"handoff_form", "disaster_report_form"})
TICKET_WITHOUT_PAUSE = frozenset({"action_create_disaster_report"})
WATERMARK = DERIVED_WATERMARK


class HandoffReason:
    """Why a conversation went to a person (values stored in ops_conversations)."""

    ASKED = "asked"
    COMPLAINT = "complaint"
    AFTER_FALLBACK = "after_fallback"
    URGENT = "urgent"
    DISASTER_REPORT = "disaster_report"

    LABELS = {
        ASKED: "使用者主動要求",
        COMPLAINT: "抱怨或不滿",
        AFTER_FALLBACK: "機器人聽不懂後轉接",
        URGENT: "緊急狀況",
        DISASTER_REPORT: "災情通報",
    }


@dataclass(slots=True)
class Turn:
    """A user message and what the bot did about it, until the next user message."""

    event_id: int
    sender_id: str
    seq: int
    ts: float
    channel: str
    text: str
    intent: str | None
    confidence: float | None
    entities: list[dict[str, Any]]
    form_answer: bool
    actions: list[str] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    handoff: bool = False
    rating: int | None = None
    scheme: str | None = None
    tapped: str | None = None  # the title of the button the caller tapped (the text is its payload)
    synthetic: str | None = None  # the kind of synthetic traffic the message's metadata marks (bot/ops/synthetic.py)
    failed_as: set[Failure] = field(default_factory=set)  # set by derive_turns (bot/ops/failures.py)

    @property
    def category(self) -> str:
        return category_value(self.intent)

    @property
    def fell_back(self) -> bool:
        """The bot did not understand: low-confidence intent or a fallback action (not inside a form)."""
        if self.form_answer:
            return False
        return self.intent == FALLBACK_INTENT or any(a in FALLBACK_ACTIONS for a in self.actions)

    @property
    def is_payload(self) -> bool:
        return self.text.startswith("/")

    @property
    def starts_handoff(self) -> bool:
        return not self.form_answer and any(a in HANDOFF_FORMS for a in self.actions)

    def responses(self) -> set[str]:
        return {str(r.get("response")) for r in self.replies if r.get("response")}

    def row(self) -> dict[str, Any]:
        local = dt.datetime.fromtimestamp(self.ts, TAIPEI)
        return {
            "event_id": self.event_id,
            "sender_id": self.sender_id,
            "seq": self.seq,
            "ts": self.ts,
            "day": local.date().isoformat(),
            "hour": local.hour,
            "channel": self.channel,
            "text": self.text,
            "intent": self.intent,
            "confidence": self.confidence,
            "entities": json.dumps(self.entities, ensure_ascii=False),
            "category": self.category,
            "form_answer": self.form_answer,
            "actions": json.dumps(self.actions),
            "replies": json.dumps(self.replies, ensure_ascii=False),
            "answer": "\n".join(r["text"] for r in self.replies if r.get("who") == "bot"),
            "fell_back": self.fell_back,
            "handoff": self.handoff,
            "rating": self.rating,
            "scheme": self.scheme,
            "failed": bool(self.failed_as),
            "failure": kinds_text(self.failed_as),
            "tapped": self.tapped,
        }


def category_value(intent: str | None) -> str:
    try:
        return category_of(intent or "").value
    except UnknownIntent:
        return OTHER


def derive_turns(sender_id: str, rows: Iterable[tuple[int, Mapping[str, Any]]]) -> list[Turn]:
    """Turns of one sender from its events (``(events.id, event JSON)``, oldest first)."""
    result: list[Turn] = []
    in_form = False
    offered: dict[str, str] = {}  # payload -> title of the latest buttons the bot showed
    for event_id, event in rows:
        kind = event.get("event")
        current = result[-1] if result else None
        if kind == "user":
            turn = _user_turn(sender_id, len(result) + 1, event_id, event, in_form)
            turn.tapped = offered.get(turn.text) if turn.is_payload else None
            result.append(turn)
        elif kind == "active_loop":
            in_form = bool(event.get("name"))
        elif current is None:
            continue
        elif kind == "action" and event.get("name") and event["name"] != "action_listen":
            current.actions.append(str(event["name"]))
            current.handoff = current.handoff or event["name"] in TICKET_WITHOUT_PAUSE
        elif kind == "bot" and (event.get("text") or (event.get("data") or {}).get("buttons")):
            current.replies.append(_reply(event))
            buttons = (event.get("data") or {}).get("buttons") or []
            if buttons:
                offered = {str(b.get("payload")): str(b.get("title")) for b in buttons}
        elif kind == "pause":
            current.handoff = True
        elif kind == "slot" and event.get("name") == "scheme" and event.get("value"):
            current.scheme = str(event["value"])
    for turn, kinds in zip(result, failures(result)):
        turn.failed_as = kinds
    return result


def _user_turn(sender_id: str, seq: int, event_id: int, event: Mapping[str, Any], in_form: bool) -> Turn:
    parse = event.get("parse_data") or {}
    intent = parse.get("intent") or {}
    text = str(event.get("text") or "")
    entities = []
    for e in parse.get("entities") or []:
        start, end = e.get("start"), e.get("end")
        span = text[start:end] if isinstance(start, int) and isinstance(end, int) else None
        entities.append({"entity": e.get("entity"), "value": e.get("value"), "start": start, "end": end, "text": span})
    turn = Turn(
        event_id=event_id,
        sender_id=sender_id,
        seq=seq,
        ts=float(event.get("timestamp") or 0),
        channel=str(event.get("input_channel") or Channel.REST.value),
        text=text,
        intent=intent.get("name"),
        confidence=float(intent["confidence"]) if intent.get("confidence") is not None else None,
        entities=entities,
        form_answer=in_form,
        synthetic=event_kind(event),
    )
    if turn.intent == "handoff_rate":
        turn.rating = _rating(entities, text)
    return turn


def _rating(entities: list[dict[str, Any]], text: str) -> int | None:
    candidates = [str(e.get("value")) for e in entities if e.get("entity") == "rating"] + list(text)
    for candidate in candidates:
        if candidate.isdigit() and 1 <= int(candidate) <= 5:
            return int(candidate)
    return None


def _reply(event: Mapping[str, Any]) -> dict[str, Any]:
    meta = event.get("metadata") or {}
    buttons = [str(b.get("title")) for b in (event.get("data") or {}).get("buttons") or []]
    if meta.get("staff"):
        return {"who": "staff", "text": str(event.get("text") or ""), "staff": str(meta["staff"])}
    reply: dict[str, Any] = {"who": "bot", "text": str(event.get("text") or "")}
    if meta.get("utter_action"):
        reply["response"] = str(meta["utter_action"])
    if buttons:
        reply["buttons"] = buttons
    return reply


@dataclass(frozen=True, slots=True)
class Conversation:
    sender_id: str
    channel: str
    started_at: float
    last_at: float
    questions: int
    messages: int
    category: str
    first_text: str
    min_confidence: float | None
    fallbacks: int
    handed_off: bool
    handoff_reason: str | None
    rating: int | None
    failures: int  # the caller's messages that failed (bot/ops/failures.py)
    failure_kinds: str
    synthetic: str | None  # kind of synthetic traffic (bot/ops/synthetic.py), None for callers

    def row(self) -> dict[str, Any]:
        return asdict(self)


def summarise(turns_: list[Turn]) -> Conversation:
    """One conversation's figures; ``turns_`` is non-empty and in order."""
    asked = [t for t in turns_ if not t.form_answer]
    # Up to the handoff, as the ticket's category is (one rule: bot.categories.main_topic).
    handed = next((i for i, t in enumerate(asked) if t.handoff or t.starts_handoff), len(asked) - 1)
    category = main_topic([t.category for t in asked[: handed + 1]]) or main_topic([t.category for t in asked]) or OTHER
    failed = [t for t in asked if t.failed_as]
    typed = [t for t in asked if not t.is_payload]
    confidences = [t.confidence for t in typed if t.confidence is not None]
    ratings = [t.rating for t in turns_ if t.rating is not None]
    return Conversation(
        sender_id=turns_[0].sender_id,
        channel=turns_[0].channel,
        started_at=turns_[0].ts,
        last_at=turns_[-1].ts,
        questions=len(asked),
        messages=len(turns_),
        category=category,
        first_text=(typed or asked or turns_)[0].text[:200],
        min_confidence=min(confidences) if confidences else None,
        fallbacks=sum(t.fell_back for t in asked),
        handed_off=any(t.handoff for t in turns_),
        handoff_reason=handoff_reason(turns_),
        rating=ratings[-1] if ratings else None,
        failures=len(failed),
        failure_kinds=kinds_text(set().union(*(t.failed_as for t in failed))),
        synthetic=sender_kind(turns_[0].sender_id) or next((t.synthetic for t in turns_ if t.synthetic), None),
    )


def handoff_reason(turns_: list[Turn]) -> str | None:
    """Why the first ticket of the conversation was opened, from the turn that started the form."""
    reason = None
    for index, turn in enumerate(turns_):
        if turn.starts_handoff:
            before = turns_[index - 1] if index else None
            reason = _start_reason(turn, before)
        if turn.handoff:
            return reason or HandoffReason.ASKED
    return None


def _start_reason(turn: Turn, before: Turn | None) -> str:
    if turn.intent == "disaster_report" or "disaster_report_form" in turn.actions:
        return HandoffReason.DISASTER_REPORT
    if turn.intent == "handoff_complaint":
        return HandoffReason.COMPLAINT
    if before is not None and (before.fell_back or "utter_clarify_offer_person" in before.responses()):
        return HandoffReason.AFTER_FALLBACK
    if before is not None and "utter_offer_person_urgent" in before.responses():
        return HandoffReason.URGENT
    return HandoffReason.ASKED


# --- incremental refresh --------------------------------------------------------------


def refresh(engine: Engine, chunk: int = 2000) -> int:
    """Fold events newer than the watermark into the derived tables; returns senders rebuilt.

    Each chunk is one short transaction that starts by moving the watermark with a
    conditional UPDATE, so two refreshes at once (two web workers, the CLI) never
    both rebuild the same events: the loser sees 0 rows updated and stops.
    """
    rebuilt = 0
    while True:
        mark = _watermark(engine)
        with engine.connect() as db:
            newest = db.execute(select(func.max(events.c.id))).scalar() or 0
        if newest <= mark:
            return rebuilt
        upto = min(newest, mark + chunk)
        with engine.begin() as db:
            moved = db.execute(
                update(state).where(state.c.name == WATERMARK, state.c.value == mark).values(value=upto)
            ).rowcount
            if moved != 1:
                return rebuilt
            senders = [
                s
                for (s,) in db.execute(
                    select(events.c.sender_id).distinct().where(events.c.id > mark, events.c.id <= upto)
                )
                if s is not None
            ]
            rebuild_senders(db, senders, upto)
            rebuilt += len(senders)


def _watermark(engine: Engine) -> int:
    with engine.connect() as db:
        value = db.execute(select(state.c.value).where(state.c.name == WATERMARK)).scalar()
    if value is not None:
        return int(value)
    try:
        with engine.begin() as db:
            db.execute(insert(state).values(name=WATERMARK, value=0))
    except IntegrityError:  # another process created it first
        return _watermark(engine)
    return 0


def rebuild_senders(db: Connection, senders: list[str], upto: int, batch: int = 500) -> None:
    """Replace these senders' turns and conversation rows with ones derived from their events (ids <= ``upto``).

    In batches: one query for the events of many senders (index ``ops_events_sender``),
    one delete and one bulk insert per table.
    """
    for start in range(0, len(senders), batch):
        group = senders[start : start + batch]
        by_sender: dict[str, list[tuple[int, Any]]] = {s: [] for s in group}
        query = (
            select(events.c.id, events.c.sender_id, events.c.data)
            .where(events.c.sender_id.in_(group), events.c.id <= upto)
            .order_by(events.c.id)
        )
        for event_id, sender, data in db.execute(query):
            try:
                by_sender[sender].append((int(event_id), json.loads(data)))
            except (TypeError, ValueError):
                logger.warning("event %s of a conversation is not JSON; skipped", event_id)
        derived = [t for t in (derive_turns(s, rows) for s, rows in by_sender.items()) if t]
        db.execute(delete(turns).where(turns.c.sender_id.in_(group)))
        db.execute(delete(conversations).where(conversations.c.sender_id.in_(group)))
        if derived:
            db.execute(insert(turns), [t.row() for found in derived for t in found])
            db.execute(insert(conversations), [summarise(found).row() for found in derived])


def rebuild_all(engine: Engine) -> int:
    """Forget the derived tables and fold every event again (after a code change in this module)."""
    with engine.begin() as db:
        db.execute(delete(turns))
        db.execute(delete(conversations))
        db.execute(delete(state).where(state.c.name == WATERMARK))
    return refresh(engine)
