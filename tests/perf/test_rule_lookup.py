"""RulePolicy's remembered candidate rules (bot/rule_lookup.py): with the trained model, every prediction on
the story tests', stories' and rules' conversations is Rasa's own, the candidates even in Rasa's order; a
lookup changed since is not answered from the memo, and the memo stays bounded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.policies.rule_policy import RulePolicy

from bot import rule_lookup
from bot.settings import ROOT

STORY_FILES = [
    *sorted((ROOT / "tests" / "stories").glob("*.yml")),
    *sorted((ROOT / "data" / "stories").glob("*.yml")),
    *sorted((ROOT / "data" / "rules").glob("*.yml")),
]


@pytest.fixture
def rasa_keys() -> Iterator[None]:
    """Rasa's own ``_get_possible_keys`` during the test, whatever was installed before it."""
    installed = RulePolicy.__dict__["_get_possible_keys"]
    rule_lookup.uninstall()
    yield
    RulePolicy._get_possible_keys = installed  # type: ignore[method-assign]


def conversations(domain: Any) -> list[tuple[str, list[Any]]]:
    """(name, events) of every story and rule, and of all story tests as one long conversation."""
    from rasa.shared.core.constants import RULE_SNIPPET_ACTION_NAME
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

    found = []
    for path in STORY_FILES:
        for step in YAMLStoryReader(domain).read_from_file(str(path)):
            events = [e for e in step.events if getattr(e, "action_name", None) != RULE_SNIPPET_ACTION_NAME]
            found.append((f"{path.name}: {step.block_name}", [ActionExecuted("action_listen"), *events]))
    tests = [events for name, events in found if name.startswith("test_")]
    found.append(("all story tests in one conversation", [e for events in tests for e in events]))
    return found


def predictions(agent: Any, events: list[Any]) -> list[Any]:
    """The ensemble's prediction before each action of ``events`` (the model's policies, as a turn runs them)."""
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    processor = agent.processor
    tracker = DialogueStateTracker.from_events("rule-lookup", [], agent.domain.slots)
    found = []
    for event in events:
        if isinstance(event, ActionExecuted) and len(tracker.events):
            found.append(processor._predict_next_with_tracker(tracker.copy()))
        tracker.update(event)
    return found


def rule_policy(agent: Any) -> RulePolicy:
    """The model's RulePolicy (found through a prediction, the way Rasa calls it)."""
    seen: list[RulePolicy] = []
    rasa_method = RulePolicy.__dict__["_get_possible_keys"]

    def spy(self: RulePolicy, lookup: dict[str, str], states: list[Any]) -> Any:
        seen.append(self)
        return rasa_method(self, lookup, states)

    RulePolicy._get_possible_keys = spy  # type: ignore[method-assign]
    try:
        predictions(agent, conversations(agent.domain)[0][1][:3])
    finally:
        RulePolicy._get_possible_keys = rasa_method  # type: ignore[method-assign]
    return seen[0]


@pytest.fixture(scope="module")
def agent(parser: Any) -> Any:
    return parser._agent


def test_every_prediction_on_real_conversations_is_rasas_own(agent, rasa_keys):
    stories = conversations(agent.domain)
    assert len(stories) > 50 and max(len(events) for _, events in stories) > 40
    expected = {name: predictions(agent, events) for name, events in stories}
    rule_lookup.install()
    for _ in range(2):  # the second time from the memo
        for name, events in stories:
            assert predictions(agent, events) == expected[name], name


def test_candidate_rules_come_in_rasas_order_however_long_the_conversation(agent, rasa_keys):
    """The tie of equally long rules (``max(keys, key=len)``) is broken by the set's order: that is kept too."""
    policy = rule_policy(agent)
    checked = 0

    def both(self: RulePolicy, lookup: dict[str, str], states: list[Any]) -> Any:
        nonlocal checked
        ours = rule_lookup.get_possible_keys(self, lookup, states)
        assert list(ours) == list(rule_lookup._RASA_GET_POSSIBLE_KEYS(self, lookup, states))
        assert list(rule_lookup.get_possible_keys(self, lookup, states)) == list(ours)  # from the memo
        checked += 1
        return ours

    RulePolicy._get_possible_keys = both  # type: ignore[method-assign]
    for _, events in conversations(agent.domain):
        predictions(agent, events)
    assert checked > 200
    assert any(len(memo.entries) for memo in policy.__dict__[rule_lookup._MEMO_ATTRIBUTE].values())


def test_a_repeated_recent_state_is_not_filtered_again(agent, rasa_keys):
    policy = rule_policy(agent)
    policy.__dict__.pop(rule_lookup._MEMO_ATTRIBUTE, None)
    lookup = policy.lookup["rules"]
    states = [{"prev_action": {"action_name": "action_listen"}, "user": {"intent": "loan_ask"}}]
    calls = 0
    rasa_check = RulePolicy._is_rule_applicable

    def counted(self: RulePolicy, *args: Any) -> bool:
        nonlocal calls
        calls += 1
        return rasa_check(self, *args)

    RulePolicy._is_rule_applicable = counted  # type: ignore[method-assign]
    try:
        rule_lookup.get_possible_keys(policy, lookup, states)
        first, calls = calls, 0
        rule_lookup.get_possible_keys(policy, lookup, [dict(s) for s in states])
    finally:
        RulePolicy._is_rule_applicable = rasa_check  # type: ignore[method-assign]
    assert first >= len(lookup) and calls == 0


def test_a_lookup_that_lost_a_rule_is_not_answered_from_the_memo(agent, rasa_keys):
    policy = rule_policy(agent)
    lookup = dict(policy.lookup["rules"])
    states = [{"prev_action": {"action_name": "action_listen"}, "user": {"intent": "loan_ask"}}]
    before = rule_lookup.get_possible_keys(policy, lookup, states)
    assert before
    dropped = max(before, key=len)
    lookup.pop(dropped)  # as RulePolicy's training drops a contradicting rule
    after = rule_lookup.get_possible_keys(policy, lookup, states)
    assert dropped not in after and set(after) == set(rule_lookup._RASA_GET_POSSIBLE_KEYS(policy, lookup, states))


def test_the_memo_cannot_grow_without_bound(agent, rasa_keys):
    policy = rule_policy(agent)
    policy.__dict__.pop(rule_lookup._MEMO_ATTRIBUTE, None)
    lookup = policy.lookup["rules"]
    for i in range(rule_lookup.MEMO_SIZE + 100):
        rule_lookup.get_possible_keys(policy, lookup, [{"user": {"intent": f"unseen_{i}"}}])
    memo = rule_lookup.memo_for(policy, lookup)
    assert len(memo.entries) == rule_lookup.MEMO_SIZE
    assert (frozenset({("user", frozenset({("intent", f"unseen_{rule_lookup.MEMO_SIZE + 99}")}))}),) in memo.entries
    assert (frozenset({("user", frozenset({("intent", "unseen_0")}))}),) not in memo.entries


def test_states_that_cannot_be_hashed_get_rasas_answer(agent, rasa_keys):
    policy = rule_policy(agent)
    lookup = policy.lookup["rules"]
    states = [{"prev_action": {"action_name": "action_listen"}, "user": {"intent": "loan_ask", "entities": ["x"]}}]
    assert rule_lookup.get_possible_keys(policy, lookup, states) == rule_lookup._RASA_GET_POSSIBLE_KEYS(
        policy, lookup, states
    )
