"""RulePolicy's candidate rules for the recent states, remembered instead of recomputed each prediction.

Rasa 3.6's ``RulePolicy._get_possible_keys(lookup, states)`` starts from every rule of
``lookup`` (242 rules and 54 unhappy-path rules in this bot's model) and, going back one
state at a time, keeps the rules whose state at that distance matches. It runs at least
twice per prediction (from the text, then from the intent), a prediction runs after
every action of a turn, and the answer depends only on the states: conversations keep
reaching the same few recent states (a question after the greeting, a question after an
answer), so the same filtering is done over and over (issue #17).

Here the filtering over the :data:`RECENT_STATES` most recent states is remembered, per
policy and per lookup, keyed by those states; older states still filter the remembered
candidates exactly as Rasa does, so the result is Rasa's whatever the conversation's
length (a rule longer than the remembered part is still checked against the states
before it). The remembered set is built by the same steps as Rasa's, so even a tie of
equally long rules (``max(rule_keys, key=len)`` takes the first in the set's order)
resolves as it would. It is immutable: no caller can change what the next prediction reads.

Not stale: a memo belongs to one lookup object of one policy instance (a new model
loads a new policy), and is dropped when the lookup's size changes (the only change Rasa
makes to a lookup after building it is removing contradicting rules while training).
Bounded: at most :data:`MEMO_SIZE` entries per lookup, least recently used dropped first.
States whose values cannot be hashed (not produced by Rasa's featurizer) are filtered
without the memo.

:func:`install` replaces the method on ``RulePolicy``; the masking tracker store installs
it with :mod:`bot.remote_action`'s patches when the Rasa server creates it. Installing
twice is harmless.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from rasa.core.policies.rule_policy import RulePolicy

from bot.lru import Lru

RECENT_STATES = 4  # the longest rule of the trained model has 4 states; older ones only narrow further
MEMO_SIZE = 1024
_MEMO_ATTRIBUTE = "_bot_possible_keys_memo"
_RASA_GET_POSSIBLE_KEYS = RulePolicy._get_possible_keys


class KeyMemo:
    """Remembered candidate rule keys of one lookup, by its recent states (least recently used dropped)."""

    def __init__(self, lookup: dict[str, str], size: int = MEMO_SIZE) -> None:
        self.lookup = lookup
        self.length = len(lookup)
        self.size = size
        self.entries: Lru[Hashable, frozenset[str]] = Lru(size)

    def get(self, key: Hashable) -> frozenset[str] | None:
        return self.entries.get(key)

    def put(self, key: Hashable, keys: frozenset[str]) -> None:
        self.entries.put(key, keys)


def frozen_state(state: dict[str, dict[str, Any]]) -> frozenset[tuple[str, frozenset[tuple[str, Any]]]]:
    """A state as a hashable value equal for equal states (raises ``TypeError`` for an unhashable value)."""
    frozen = frozenset((kind, frozenset(sub_state.items())) for kind, sub_state in state.items())
    hash(frozen)
    return frozen


def memo_for(policy: RulePolicy, lookup: dict[str, str]) -> KeyMemo:
    """``policy``'s memo of ``lookup``, new if there is none yet or the lookup changed size."""
    memos: dict[int, KeyMemo] = policy.__dict__.setdefault(_MEMO_ATTRIBUTE, {})
    memo = memos.get(id(lookup))
    if memo is None or memo.lookup is not lookup or memo.length != len(lookup):
        memo = memos[id(lookup)] = KeyMemo(lookup)
    return memo


def _narrowed(policy: RulePolicy, keys: Any, states: list[Any], first_index: int, build: type = set) -> Any:
    """Rasa's filtering step for each of ``states`` (newest first, from distance ``first_index``; at least one).

    The last step's set is made by ``build``: a ``frozenset`` made from the filter directly is laid out
    (and so iterates) exactly as Rasa's ``set``, which a frozenset copied from a set need not be.
    """
    for i, state in enumerate(states[:-1], start=first_index):
        keys = set(filter(lambda key: policy._is_rule_applicable(key, i, state), keys))
    last, last_state = first_index + len(states) - 1, states[-1]
    return build(filter(lambda key: policy._is_rule_applicable(key, last, last_state), keys))


def get_possible_keys(self: RulePolicy, lookup: dict[str, str], states: list[Any]) -> Any:
    """``RulePolicy._get_possible_keys``, the recent states' part remembered (see the module docstring)."""
    newest_first = list(reversed(states))
    recent, older = newest_first[:RECENT_STATES], newest_first[RECENT_STATES:]
    try:
        key = tuple(frozen_state(state) for state in recent)
    except (TypeError, AttributeError):
        return _RASA_GET_POSSIBLE_KEYS(self, lookup, states)
    memo = memo_for(self, lookup)
    candidates = memo.get(key)
    if candidates is None:
        # The steps Rasa takes: set(lookup.keys()), then one filtering per state.
        candidates = (
            _narrowed(self, set(lookup.keys()), recent, 0, build=frozenset) if recent else frozenset(lookup.keys())
        )
        memo.put(key, candidates)
    if not older:
        return candidates
    return _narrowed(self, candidates, older, RECENT_STATES)


def install() -> None:
    """Make every ``RulePolicy`` remember its candidate rules for recent states."""
    # Rasa offers no hook for this: the method is replaced on purpose, which mypy forbids by default.
    RulePolicy._get_possible_keys = get_possible_keys  # type: ignore[method-assign]


def uninstall() -> None:
    """Rasa's own ``_get_possible_keys`` again (for tests comparing both)."""
    RulePolicy._get_possible_keys = _RASA_GET_POSSIBLE_KEYS  # type: ignore[method-assign]


__all__ = ["MEMO_SIZE", "RECENT_STATES", "KeyMemo", "get_possible_keys", "install", "uninstall"]
