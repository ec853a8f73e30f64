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
