"""Action-server responses are still validated, with the schema compiled once (bot/remote_action.py)."""

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
    from rasa.utils.endpoints import EndpointConfig

    from bot.ops.stores import MaskingSQLTrackerStore  # installs the validator as the Rasa server does
    from rasa.shared.core.trackers import DialogueStateTracker

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
        return await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses),
                                tracker, domain)
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
    monkeypatch.setattr(draft, "check_schema",
                        classmethod(lambda cls, schema, **kw: checks.append(1) or original(cls, schema, **kw)))
    from bot import remote_action

    remote_action._VALIDATORS.clear()
    for _ in range(3):
        events = asyncio.run(run_remote_action(VALID))
        assert [e.type_name for e in events] == ["bot", "slot"]
    assert len(checks) == 1  # jsonschema.validate would check the schema on each of the 3 responses
