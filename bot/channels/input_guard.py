"""Checks on user text and metadata shared by every channel, before they reach the bot.

Empty, over-long and text-free messages (emoji or punctuation only) are answered
politely here; the NLU would only guess at them. Control characters are removed.

Metadata rides along with every message into the tracker store, the event broker and
masking, and is reloaded with the tracker on every later turn, so it is capped in size
and depth (security review H1): a client sends a few keys, never a document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot import messages
from bot.nlu.normaliser import strip_controls

# Letters, digits or CJK ideographs: something a person wrote in words.
_WORDLIKE = re.compile(r"[0-9A-Za-z\u3400-\u9fff\uf900-\ufaff\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


@dataclass(frozen=True, slots=True)
class Checked:
    """Either cleaned ``text`` for the bot, or a ``reply`` to send instead."""

    text: str | None = None
    reply: str | None = None


def check_text(raw: str, max_chars: int) -> Checked:
    """Clean ``raw`` or decide the polite reply for it."""
    if len(raw) > max_chars * 4:  # do not even clean megabytes
        return Checked(reply=messages.too_long(max_chars))
    text = strip_controls(raw)
    if not text:
        return Checked(reply=messages.EMPTY_MESSAGE)
    if len(text) > max_chars:
        return Checked(reply=messages.too_long(max_chars))
    if not text.startswith("/") and not _WORDLIKE.search(text):
        return Checked(reply=messages.NO_TEXT)
    return Checked(text=text)


MAX_METADATA_BYTES = 2048
MAX_METADATA_DEPTH = 4


@dataclass(frozen=True, slots=True)
class MetadataProblem:
    """Why metadata is refused: ``code``, a zh-TW ``reason`` and the HTTP ``status`` (413 or 400)."""

    code: str
    reason: str
    status: int


def metadata_problem(
    metadata: Any, max_bytes: int = MAX_METADATA_BYTES, max_depth: int = MAX_METADATA_DEPTH
) -> MetadataProblem | None:
    """``None`` when ``metadata`` (a parsed JSON value) is small and shallow enough.

    Walks the value without recursion and stops as soon as a limit is passed, so a
    100,000-deep or megabyte-sized value costs no more than the limit itself.
    Sizes are counted in UTF-8 bytes of keys and strings, plus a few bytes per item.
    """
    size, stack = 0, [(metadata, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > max_depth:
                return MetadataProblem("metadata_too_deep", messages.metadata_too_deep(max_depth), 400)
            items = value.items() if isinstance(value, dict) else ((None, v) for v in value)
            for key, item in items:
                size += 2 + (len(key.encode("utf-8", "replace")) if isinstance(key, str) else 0)
                if size > max_bytes:
                    return MetadataProblem("metadata_too_large", messages.metadata_too_large(max_bytes), 413)
                stack.append((item, depth + 1))
        elif isinstance(value, str):
            size += len(value.encode("utf-8", "replace"))
        else:
            size += 8
        if size > max_bytes:
            return MetadataProblem("metadata_too_large", messages.metadata_too_large(max_bytes), 413)
    return None
