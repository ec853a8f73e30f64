"""Sender ids for tests and benchmarks that can never be mistaken for personal data.

A sender id that masking would change (a run of digits reads as a phone or account
number) is stored as a keyed hash (``bot.channels.rest.conversation_id``), so a test
looking its rows up by the id it sent finds none. Random hex made that happen for about
one id in two hundred (``crash-281167949553``); letters only cannot.
"""

from __future__ import annotations

from bot.ops.synthetic import random_letters


def sender_id(prefix: str, length: int = 12) -> str:
    """``prefix-`` and ``length`` random lowercase letters (26**12 ≈ 10**17 ids)."""
    return f"{prefix}-{random_letters(length)}"
