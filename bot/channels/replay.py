"""Idempotent retries on the REST channel: a message id seen before is answered, not re-run.

With several Rasa servers, a server can die after it stored a message but before it
answered; the client gets an error and sends the message again to another server. A
client that sends ``message_id`` with each message gets, for a repeat, the replies the
bot gave the first time, read from the shared tracker store, so the conversation holds
the message exactly once. The check runs before Rasa takes the conversation's lock:
it covers a retry after a failure, not two copies sent at once.
"""

from __future__ import annotations

from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel
from rasa.shared.core.events import BotUttered, UserUttered

from bot import messages


class BadMessageId(ValueError):
    """``message_id`` is not a string of 1 to 64 characters."""

    reason = messages.BAD_MESSAGE_ID


def message_id_of(data: dict[str, Any]) -> str | None:
    """The optional ``message_id`` of a request body parsed as a JSON object.

    Raises:
        BadMessageId: present but not a 1–64 character string.
    """
    value = data.get("message_id")
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise BadMessageId(messages.BAD_MESSAGE_ID)
    return value


async def earlier_replies(agent: Any, sender: str, message_id: str) -> list[dict[str, Any]] | None:
    """The bot's replies to the user message ``message_id``, or ``None`` if it was never stored."""
    tracker = await agent.tracker_store.retrieve(sender)
    if tracker is None:
        return None
    collector, found = CollectingOutputChannel(), False
    for event in tracker.events:
        if isinstance(event, UserUttered):
            if found:
                break
            found = event.message_id == message_id
        elif found and isinstance(event, BotUttered):
            await collector.send_response(sender, event.message())
    return collector.messages if found else None
