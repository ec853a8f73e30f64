"""LINE ``unsend``: the user took a message back, so its text leaves the tracker, the ops database and /ops.

LINE's rule for unsend events is that the service should stop showing the message
(Messaging API docs, "Unsend event"). The bot stored the text (masked) as a Rasa ``user``
event, with LINE's message id in its metadata (``metadata.line.message_id``, set by the
LINE channel); that event's text, parse data and entities are replaced by a note in:

- the tracker store (Rasa's ``events`` table), so the console's transcript no longer shows it;
- the ops database: the event broker's copy and the derived ``ops_turns`` row /ops lists;
- the tickets database: a ticket keeps the transcript it opened with, so a ticket opened
  before the unsend still holds the line. Ticket lines carry no LINE id; the line is the
  caller's one at the same second with the same text as the scrubbed event (the ticket may
  hold it unmasked, the stores masked), see :func:`same_message`.

The bot's own answers to it stay: they are the bot's words, not the user's.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bot.handoff.tickets import TicketStore

logger = logging.getLogger(__name__)

UNSENT = "（使用者已收回這則訊息）"


def scrubbed(data: dict[str, Any], message_id: str) -> dict[str, Any] | None:
    """A copy of a user event without the text of LINE message ``message_id``; ``None`` if it is another event."""
    line = (data.get("metadata") or {}).get("line") if isinstance(data.get("metadata"), dict) else None
    if data.get("event") != "user" or not isinstance(line, dict) or line.get("message_id") != message_id:
        return None
    parse = dict(data.get("parse_data") or {})
    parse.update(text=UNSENT, entities=[])
    return {**data, "text": UNSENT, "parse_data": parse, "metadata": {**data["metadata"], "unsent": True}}


def _scrub_rows(rows: Any, message_id: str) -> list[dict[str, Any]]:
    """Scrub the matching rows in place; the events as they were before."""
    originals = []
    for row in rows:
        try:
            data = json.loads(row.data)
        except (TypeError, ValueError):
            continue
        new = scrubbed(data, message_id)
        if new is not None:
            row.data = json.dumps(new, ensure_ascii=False)
            originals.append(data)
    return originals


def forget_in_tracker(tracker_store: Any, conversation_id: str, message_id: str) -> list[dict[str, Any]]:
    """Scrub the message in an SQL tracker store; returns the changed events as they were."""
    store = getattr(tracker_store, "_tracker_store", None) or getattr(tracker_store, "tracker_store", tracker_store)
    if not hasattr(store, "session_scope") or not hasattr(store, "SQLEvent"):
        logger.warning("unsend: the tracker store %s cannot be scrubbed", type(store).__name__)
        return []
    with store.session_scope() as session:
        rows = (
            session.query(store.SQLEvent)
            .filter(store.SQLEvent.sender_id == conversation_id, store.SQLEvent.type_name == "user")
            .all()
        )
        originals = _scrub_rows(rows, message_id)
        session.commit()
    return originals


def same_message(line: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether a ticket's transcript line is the caller's stored ``user`` event (before it was scrubbed).

    Same second in Taipei time (how transcripts write ``at``) and the same text, or text that
    masks to the stored one (the turn that opened the ticket reached the action server unmasked).
    """
    from bot.handoff.transcript import line_time
    from bot.privacy.masking import mask_text

    at = line_time(event)
    said, stored = str(line.get("text") or ""), str(event.get("text") or "")
    return line.get("at") == at and bool(stored) and (said == stored or mask_text(said) == stored)


def forget_in_tickets(tickets: TicketStore, conversation_id: str, originals: list[dict[str, Any]]) -> int:
    """Scrub the unsent message from the transcripts of the conversation's tickets; lines changed."""
    if not originals:
        return 0
    return tickets.forget_lines(conversation_id, lambda line: any(same_message(line, e) for e in originals), UNSENT)


def forget_in_ops(ops_url: str, conversation_id: str, message_id: str) -> list[dict[str, Any]]:
    """Scrub the message in the ops database (the broker's events and the derived turn); the events as they were."""
    import sqlalchemy as sa

    from bot.ops.schema import events, open_engine, turns

    engine = open_engine(ops_url)
    try:
        with engine.begin() as db:
            found = db.execute(
                sa.select(events.c.id, events.c.data).where(
                    events.c.sender_id == conversation_id, events.c.data.like(f"%{message_id}%")
                )
            )
            originals = []
            for event_id, data in list(found):
                try:
                    original = json.loads(data)
                    new = scrubbed(original, message_id)
                except (TypeError, ValueError):
                    continue
                if new is None:
                    continue
                db.execute(
                    sa.update(events).where(events.c.id == event_id).values(data=json.dumps(new, ensure_ascii=False))
                )
                db.execute(sa.update(turns).where(turns.c.event_id == event_id).values(text=UNSENT, entities="[]"))
                originals.append(original)
    finally:
        engine.dispose()
    return originals
