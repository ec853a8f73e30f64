"""Rasa's calls of the action server (bot/remote_action.py): responses still validated, with the schema
compiled once; slot validation called only while paused; connections kept alive, and still working
after the action server restarts."""

from __future__ import annotations

import asyncio

import jsonschema
import pytest
from aiohttp import web

from bot.settings import ROOT

VALID = {"events": [{"event": "slot", "name": "scheme", "value": "sbir"}], "responses": [{"text": "好的"}]}
INVALID = {"events": [{"event": "slot", "name": "scheme", "value": "sbir"}], "responses": "not a list"}


async def run_remote_action(body: dict) -> list:
    """RemoteAction.run against a real HTTP action endpoint that answers ``body``."""
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from bot.privacy.stores import MaskingSQLTrackerStore  # installs the validator as the Rasa server does

    domain = Domain.load(str(ROOT / "domain.yml"))
    MaskingSQLTrackerStore(domain, db=":memory:")

    async def answer(_request: web.Request) -> web.Response:
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/webhook", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        action = RemoteAction("action_answer_knowledge", EndpointConfig(f"http://127.0.0.1:{port}/webhook"))
        tracker = DialogueStateTracker.from_events("remote-action", [ActionExecuted("action_listen")], domain.slots)
        return await action.run(
            CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses), tracker, domain
        )
    finally:
        await runner.cleanup()


def test_an_invalid_action_server_response_is_still_refused():
    with pytest.raises(jsonschema.ValidationError) as refused:
        asyncio.run(run_remote_action(INVALID))
    assert "Failed to validate Action server response" in refused.value.message


def test_a_valid_response_is_applied_and_the_schema_is_checked_once(monkeypatch):
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    draft = validator_for(RemoteAction.action_response_format_spec())
    checks = []
    original = draft.check_schema.__func__
    monkeypatch.setattr(
        draft, "check_schema", classmethod(lambda cls, schema, **kw: checks.append(1) or original(cls, schema, **kw))
    )
    from bot import remote_action

    remote_action._VALIDATORS.clear()
    remote_action._RESPONSE_VALIDATORS.clear()
    for _ in range(3):
        events = asyncio.run(run_remote_action(VALID))
        assert [e.type_name for e in events] == ["bot", "slot"]
    assert len(checks) == 1  # jsonschema.validate would check the schema on each of the 3 responses


async def serve(port: int, seen: list[str], body: dict | None = None):  # type: ignore[no-untyped-def]
    """A real HTTP action endpoint on ``port`` recording the action each call asked for."""

    async def answer(request: web.Request) -> web.Response:
        seen.append((await request.json())["next_action"])
        return web.json_response(body or {"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def extract_slots(port: int, paused: bool) -> list:
    """Rasa's action_extract_slots on a message, the conversation paused or not."""
    from rasa.core.actions.action import ActionExtractSlots
    from rasa.core.channels import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, ConversationPaused, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from bot.privacy.stores import MaskingSQLTrackerStore

    domain = Domain.load(str(ROOT / "domain.yml"))
    MaskingSQLTrackerStore(domain, db=":memory:")
    events = [
        ActionExecuted("action_listen"),
        *([ConversationPaused()] if paused else []),
        UserUttered("請問還要等多久", {"name": "dialogue_chitchat", "confidence": 0.9}),
    ]
    tracker = DialogueStateTracker.from_events("extract", events, domain.slots)
    action = ActionExtractSlots(EndpointConfig(f"http://127.0.0.1:{port}/webhook"))
    return await action.run(
        CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses), tracker, domain
    )


@pytest.mark.parametrize("paused", [False, True], ids=["talking", "paused"])
def test_slot_validation_reaches_the_action_server_only_while_paused(paused):
    from bot import supervisor

    async def main() -> list[str]:
        port, seen = supervisor.free_port(), []
        runner = await serve(port, seen)
        try:
            await extract_slots(port, paused)
        finally:
            await runner.cleanup()
        return seen

    assert asyncio.run(main()) == (["action_validate_slot_mappings"] if paused else [])


def test_calls_go_on_over_kept_connections_and_after_the_action_server_restarts():
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from bot import remote_action, supervisor
    from bot.privacy.stores import MaskingSQLTrackerStore

    domain = Domain.load(str(ROOT / "domain.yml"))
    MaskingSQLTrackerStore(domain, db=":memory:")

    async def main() -> tuple[list[str], int]:
        port, seen = supervisor.free_port(), []
        action = RemoteAction("action_answer_attribute", EndpointConfig(f"http://127.0.0.1:{port}/webhook"))
        tracker = DialogueStateTracker.from_events("kept", [ActionExecuted("action_listen")], domain.slots)
        nlg = TemplatedNaturalLanguageGenerator(domain.responses)
        runner = await serve(port, seen, VALID)
        for _ in range(3):
            await action.run(CollectingOutputChannel(), nlg, tracker, domain)
        kept = len(remote_action.connector()._conns)  # idle connections held for the next call
        await runner.cleanup()  # the action server goes away and comes back on the same port
        runner = await serve(port, seen, VALID)
        try:
            await action.run(CollectingOutputChannel(), nlg, tracker, domain)
        finally:
            await runner.cleanup()
        return seen, kept

    seen, kept = asyncio.run(main())
    assert seen == ["action_answer_attribute"] * 4
    assert kept == 1


# --- validated part by part ---------------------------------------------------------------

SLOT = {"event": "slot", "name": "scheme", "value": "sbir", "timestamp": None}
BOT = {"event": "bot", "text": "好的", "data": {"buttons": None}, "metadata": {}, "timestamp": 1.5}
USER = {
    "event": "user",
    "text": "青創貸款",
    "parse_data": {"intent": {"name": "loan_ask", "confidence": 0.9}, "entities": [{"entity": "s", "value": 1}]},
}
LISTEN = {"event": "action", "name": "action_listen", "policy": None, "confidence": None}


def response(*events: object, responses: object = ()) -> dict:
    return {"events": list(events), "responses": list(responses)}  # type: ignore[call-overload]


INVALID_RESPONSES = {
    # wrong type
    "events not a list": {"events": {"event": "slot"}, "responses": []},
    "responses not a list": response(SLOT, responses="not a list"),
    "a response not an object": response(SLOT, responses=["好的"]),
    "an event not an object": response(SLOT, "slot"),
    "slot name a number": response({**SLOT, "name": 5}),
    "timestamp a string": response({**BOT, "timestamp": "yesterday"}),
    "confidence a string": response({**LISTEN, "confidence": "high"}),
    "entity start a float string": response(
        {**USER, "parse_data": {"entities": [{"entity": "s", "value": 1, "start": "0"}]}}
    ),
    "response not an object": ["events"],
    # missing key
    "no event key": response({"name": "scheme", "value": "sbir"}),
    "slot without value": response({"event": "slot", "name": "scheme"}),
    "entity without value": response({**USER, "parse_data": {"entities": [{"entity": "s"}]}}),
    # extra nesting
    "events nested in a list": {"events": [[SLOT]], "responses": []},
    "event type nested": response({**SLOT, "event": {"event": "slot"}}),
    "intent nested in a list": response({**USER, "parse_data": {"intent": [{"name": "loan_ask"}]}}),
    "metadata nested in a list": response({**BOT, "metadata": [{}]}),
    # an unknown event
    "unknown event type": response({"event": "nonsense"}),
}


def our_error(result: object) -> jsonschema.ValidationError | None:
    from rasa.core.actions.action import RemoteAction

    from bot import remote_action

    action = RemoteAction("action_answer_knowledge", None)
    try:
        remote_action.validate_action_result(action, result)  # type: ignore[arg-type]
    except jsonschema.ValidationError as error:
        return error
    return None


def jsonschemas_error(result: object) -> jsonschema.ValidationError | None:
    """What Rasa's own ``_validate_action_result`` raises (``jsonschema.validate``), before the hint."""
    from rasa.core.actions.action import RemoteAction

    try:
        jsonschema.validate(result, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError as error:
        return error
    return None


def assert_same_verdict(result: object) -> None:
    ours, theirs = our_error(result), jsonschemas_error(result)
    if theirs is None:
        assert ours is None
        return
    assert ours is not None, "an invalid response was accepted"
    assert ours.message.startswith(theirs.message + ". Failed to validate Action server response")
    assert (list(ours.path), list(ours.schema_path), ours.validator) == (
        list(theirs.path),
        list(theirs.schema_path),
        theirs.validator,
    )


@pytest.mark.parametrize("result", list(INVALID_RESPONSES.values()), ids=list(INVALID_RESPONSES))
def test_an_invalid_response_is_refused_with_jsonschemas_own_error(result):
    assert jsonschemas_error(result) is not None
    assert_same_verdict(result)
    assert_same_verdict(response(SLOT, BOT, USER, LISTEN))  # its valid events were cached: refused again anyway
    assert_same_verdict(result)


WITH_EVENTS = {
    name: result
    for name, result in INVALID_RESPONSES.items()
    if isinstance(result, dict) and isinstance(result.get("events"), list) and result["events"]
}


@pytest.mark.parametrize("result", list(WITH_EVENTS.values()), ids=list(WITH_EVENTS))
def test_an_invalid_event_after_cached_valid_ones_is_refused(result):
    events = result["events"]
    assert our_error(response(SLOT, BOT, USER, LISTEN)) is None  # cached now
    assert_same_verdict({**result, "events": [SLOT, BOT, USER, LISTEN, *events]})
    assert_same_verdict({**result, "events": [*events, SLOT]})


def test_a_tuple_is_no_array_even_when_the_same_list_was_found_valid():
    listed = {**USER, "parse_data": {"entities": [{"entity": "s", "value": 1}]}}
    tupled = {**USER, "parse_data": {"entities": ({"entity": "s", "value": 1},)}}
    assert our_error(response(listed)) is None
    assert jsonschemas_error(response(tupled)) is not None
    assert_same_verdict(response(tupled))


def test_a_repeated_valid_event_is_not_validated_again_and_the_cache_is_bounded(monkeypatch):
    from rasa.core.actions.action import RemoteAction

    from bot import remote_action

    remote_action._RESPONSE_VALIDATORS.clear()
    checker = remote_action.response_validator(RemoteAction.action_response_format_spec())
    checked: list[object] = []
    is_valid = checker.event.is_valid
    monkeypatch.setattr(checker.event, "is_valid", lambda event: checked.append(event) or is_valid(event))
    for _ in range(3):
        assert our_error(response(SLOT, BOT, LISTEN)) is None
    assert checked == [SLOT, BOT, LISTEN]  # each validated once, then found in the cache
    for n in range(remote_action.EVENT_CACHE_SIZE + 10):
        assert our_error(response({**SLOT, "value": n})) is None
    assert len(checker._valid) == remote_action.EVENT_CACHE_SIZE


def json_values():  # type: ignore[no-untyped-def]
    from hypothesis import strategies as st

    scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-2, 2) | st.sampled_from(["", "slot", "好"])
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3)
    )


KEYS = ["event", "name", "value", "text", "timestamp", "metadata", "parse_data", "intent", "entities", "entity"]


def test_any_change_to_a_valid_event_gets_jsonschemas_verdict():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.sampled_from([SLOT, BOT, USER, LISTEN]),
        st.sampled_from(KEYS),
        json_values(),
        st.booleans(),
    )
    def check(event: dict, key: str, value: object, delete: bool) -> None:
        changed = dict(event)
        if delete:
            changed.pop(key, None)
        else:
            changed[key] = value
        assert_same_verdict(response(event, changed))
        assert_same_verdict(response(changed, event))

    check()
