"""The shape of a web chat message, shared by the socket.io channel and /chat/history.

Pure functions and no Rasa imports, so the web app can use them too. A bot message is
``{"who": "bot", "text", "quick_replies"?, "custom"?, "staff"?, "handoff"?, "timestamp"}``, with
quick replies in Rasa's socket.io shape (``content_type``, ``title``, ``payload``) so
other socket.io widgets read them as well.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

# Session ids are what Rasa's socket.io channel makes (uuid4().hex) or the page's own random 128 bits.
SESSION_ID = re.compile(r"[0-9a-f]{32}")


def valid_session_id(value: object) -> bool:
    return isinstance(value, str) and SESSION_ID.fullmatch(value) is not None


def bot_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A Rasa bot message (output channel dict or BotUttered data) in the page's shape."""
    out: dict[str, Any] = {"who": "bot", "text": message.get("text") or ""}
    buttons = message.get("quick_replies") or message.get("buttons") or []
    replies = [
        {"content_type": "text", "title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
        for b in buttons
        if isinstance(b, Mapping)
    ]
    if replies:
        out["quick_replies"] = replies
    custom = message.get("custom")
    if isinstance(custom, Mapping) and custom:
        out["custom"] = dict(custom)
    if message.get("staff"):
        out["staff"] = True
    handoff = message.get("handoff")
    if isinstance(handoff, Mapping) and handoff.get("state") in ("waiting", "withdrawn", "closed"):
        # The wait for a person (actions/form_control.py): the page shows or hides its banner.
        ticket = handoff.get("ticket")
        out["handoff"] = {"state": handoff["state"], "ticket": ticket if isinstance(ticket, int) else None}
    out["timestamp"] = float(message.get("timestamp") or time.time())
    return out


def has_content(message: Mapping[str, Any]) -> bool:
    return bool(message.get("text") or message.get("custom") or message.get("quick_replies"))


def history(events: Iterable[Mapping[str, Any]], limit: int = 200) -> list[dict[str, Any]]:
    """User and bot messages of a conversation's tracker events, as the page shows them.

    A quick-reply click reaches Rasa as its payload (``/intent{...}``); the page showed
    the button's title, so the history does too. A payload whose button is unknown
    is left out rather than shown as code.
    """
    lines: list[dict[str, Any]] = []
    titles: dict[str, str] = {}
    for event in events:
        kind = event.get("event")
        if kind == "bot":
            data = event.get("data") or {}
            message = bot_message(
                {
                    **data,
                    **(event.get("metadata") or {}),
                    "text": event.get("text"),
                    "timestamp": event.get("timestamp"),
                }
            )
            titles.update({r["payload"]: r["title"] for r in message.get("quick_replies", [])})
            if has_content(message):
                lines.append(message)
        elif kind == "user":
            text = str(event.get("text") or "")
            if text.startswith("/"):
                text = titles.get(text, "")
            if text:
                lines.append({"who": "user", "text": text, "timestamp": float(event.get("timestamp") or 0)})
    return lines[-limit:]
