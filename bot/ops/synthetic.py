"""Synthetic traffic: how evaluation, seeding, load tests and health checks mark their conversations.

The contract, for every tool that talks to the bot without being a caller:

- **sender id**: start it with ``<kind>-`` where kind is one of ``KINDS`` (``seed-``,
  ``eval-``, ``qa-``, ``load-``, ``bench-``, ``health-``); build it with ``synthetic_sender(kind)``.
- **or metadata**: send ``{"metadata": {"synthetic": "<kind>"}}`` with the REST message
  (Rasa stores it on the user event); use ``synthetic_metadata(kind)``.

Either is enough. The ops pages and metrics exclude such conversations by default and
include them with ``synthetic=yes``. The marker is set at the source, never guessed
from the text (a test that reads like a real question is still a test).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import Any

METADATA_KEY = "synthetic"
# kind -> what it is (the sender prefix is ``kind + "-"``)
KINDS = {
    "seed": "generated conversations for the ops pages (bot/ops/seed.py)",
    "eval": "evaluation runs (NLU evaluation runners and any other evaluation)",
    "qa": "the QA evaluation set's runs (tests/qa/runner.py names its senders qa-<case>-<id>)",
    "load": "load tests (bench/load.py)",
    "bench": "benchmarks (bench/)",
    "health": "health checks and smoke tests",
}


class UnknownKind(ValueError):
    """Not one of ``KINDS``."""


def _checked(kind: str) -> str:
    if kind not in KINDS:
        raise UnknownKind(f"synthetic traffic kind must be one of {sorted(KINDS)}, not {kind!r}")
    return kind


class MaskedSender(ValueError):
    """A sender id the masking would change: it would be stored as a keyed hash, without its mark."""


def random_letters(length: int = 8) -> str:
    """``length`` random lowercase letters: a suffix no masking rule reads as a phone or an account number.

    Random hex could (``seed-071140-000`` reads as a Kaohsiung phone number): the REST channel
    then stores the conversation under a keyed hash (``bot.channels.rest.conversation_id``),
    which drops the ``seed-`` mark and hides the conversation from whoever looks it up by its id.
    """
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(length))


def synthetic_sender(kind: str, suffix: str | None = None) -> str:
    """A sender id marked as ``kind`` traffic, e.g. ``eval-qmfzkatr``; stored exactly as it is.

    Raises:
        UnknownKind: ``kind`` is not one of ``KINDS``.
        MaskedSender: ``suffix`` holds something the masking replaces (a run of digits).
    """
    from bot.privacy.masking import mask_text

    sender = f"{_checked(kind)}-{suffix if suffix is not None else random_letters()}"
    if mask_text(sender) != sender:
        raise MaskedSender(f"sender id {sender!r} reads as personal data and would be stored as a hash")
    return sender


def synthetic_metadata(kind: str) -> dict[str, str]:
    """Message metadata marking ``kind`` traffic (for a sender id the tool does not choose)."""
    return {METADATA_KEY: _checked(kind)}


def sender_kind(sender_id: str | None) -> str | None:
    """The kind a sender id is marked with, if any."""
    prefix = (sender_id or "").split("-", 1)[0]
    return prefix if prefix in KINDS and "-" in (sender_id or "") else None


def event_kind(event: Mapping[str, Any]) -> str | None:
    """The kind a user event's metadata marks, if any."""
    value = (event.get("metadata") or {}).get(METADATA_KEY) if isinstance(event.get("metadata"), Mapping) else None
    return str(value) if value in KINDS else None
