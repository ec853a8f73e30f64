"""Synthetic sender ids keep their mark: they are stored exactly as sent, never as a keyed hash."""

from __future__ import annotations

import pytest

from bot.channels.rest import conversation_id
from bot.ops.synthetic import KINDS, MaskedSender, sender_kind, synthetic_sender


def test_generated_sender_ids_are_stored_as_sent_and_keep_their_kind():
    for kind in KINDS:
        for _ in range(300):
            sender = synthetic_sender(kind)
            assert conversation_id(sender, "key") == sender
            assert sender_kind(sender) == kind


def test_a_suffix_that_reads_as_a_phone_number_is_refused():
    # A seed run drawn as hex once was all digits: its senders were stored as hashes and the
    # ops pages could not find one seeded conversation (CI of stop 23).
    assert conversation_id("seed-071140-000", "key").startswith("h-")
    with pytest.raises(MaskedSender):
        synthetic_sender("seed", "071140-000")
    assert synthetic_sender("seed", "qmzkat-000") == "seed-qmzkat-000"
