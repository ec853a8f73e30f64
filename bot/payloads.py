"""Button payloads: the ``/intent{"entity":"value"}`` text a button sends as the caller's message.

Rasa reads a message starting with ``/`` as that intent with those entities, skipping the
classifier. The text is built here only, one way: compact JSON, non-ASCII kept as is,
because the payloads are stored in trackers and the ops database, counted by the LINE
channel's postback limit, and matched against what earlier buttons offered
(bot/ops/events.py); two spellings of one button would be two buttons there.
"""

from __future__ import annotations

import json


def intent_payload(intent: str, **entities: str) -> str:
    """``/loan_ask{"scheme":"micro_loan","attribute":"interest_rate"}``, or ``/policy_ask`` with no entities."""
    if not entities:
        return f"/{intent}"
    return f"/{intent}" + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))
