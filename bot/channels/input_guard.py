"""Checks on user text shared by every channel, before it reaches the bot.

Empty, over-long and text-free messages (emoji or punctuation only) are answered
politely here; the NLU would only guess at them. Control characters are removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
