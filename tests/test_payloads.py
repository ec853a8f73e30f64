"""Button payloads keep one spelling (trackers, ops rows and trained rules hold them)."""

from __future__ import annotations

import pytest

from bot.payloads import intent_payload


@pytest.mark.parametrize(
    ("intent", "entities", "payload"),
    [
        ("policy_ask", {}, "/policy_ask"),
        ("handoff_rate", {"rating": "5"}, '/handoff_rate{"rating":"5"}'),
        (
            "loan_ask",
            {"scheme": "micro_loan", "attribute": "interest_rate,loan_term"},
            '/loan_ask{"scheme":"micro_loan","attribute":"interest_rate,loan_term"}',
        ),
        ("policy_ask", {"scheme": "s", "attribute": "補助"}, '/policy_ask{"scheme":"s","attribute":"補助"}'),
    ],
)
def test_a_payload_is_the_intent_then_compact_json_with_text_as_is(intent, entities, payload):
    assert intent_payload(intent, **entities) == payload
