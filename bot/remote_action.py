"""Action-server responses validated against Rasa's schema with a validator compiled once per schema.

Rasa 3.6's ``RemoteAction._validate_action_result`` calls ``jsonschema.validate(result,
schema)`` for every response of the action server. ``validate`` first checks the
*schema* against its draft's meta-schema and builds a new validator, every call: a
third of the Rasa server's time under load went there, none of it spent on our data.
Here the validator for a schema is built (and the schema checked) once, then reused;
each response is still validated in full and an invalid one is still refused with the
same ``jsonschema.ValidationError`` (the error jsonschema's own ``validate`` would pick,
with Rasa's hint appended).

:func:`install` replaces the method on ``RemoteAction`` (so every remote action Rasa
creates, whatever creates it, uses it). The masking tracker store installs it when the
Rasa server creates it (bot/privacy/stores.py), so it is in place in both profiles before
the first message; installing twice is harmless.

It also installs two other cuts of a turn's cost (issue #17), neither changing what a
turn does:

- **The slot-validation call only while paused.** Rasa ends slot extraction on every
  message with a call of the global ``action_validate_slot_mappings`` when the domain
  lists it, with a copy of the tracker replayed for it. This bot's
  (``actions/form_control.py`` ``ActionWhileWaiting``) answers nothing and sets nothing
  unless the conversation is paused (a ticket waiting for a person), so for any other
  turn the call is skipped and the extracted slots are kept, as Rasa keeps them when the
  action returns no events (:func:`validate_slots_while_paused`). One action-server
  round trip of two per answered question.
- **Kept-alive connections to the action server.** Rasa's ``EndpointConfig.request``
  opens a new ``aiohttp`` session, and so a new TCP connection, for each call; here the
  sessions share one connector per event loop (:func:`session`), which keeps idle
  connections for :data:`KEEP_ALIVE_SECONDS`, less than the action server's own
  keep-alive (Sanic's 5 s), so the client always drops an idle connection first and never
  sends on one the server is closing.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from jsonschema import ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import ActionExtractSlots, RemoteAction
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event, SlotSet
from rasa.utils.endpoints import EndpointConfig

_VALIDATORS: dict[str, Any] = {}
KEEP_ALIVE_SECONDS = 2.0
_CONNECTORS: dict[int, tuple[asyncio.AbstractEventLoop, aiohttp.TCPConnector]] = {}
_EXTRACT_SLOTS_VALIDATION = ActionExtractSlots._execute_validation_action


def validator(schema: dict[str, Any]) -> Any:
    """The validator of ``schema``, built and meta-checked on first use (keyed by the schema's JSON)."""
    key = json.dumps(schema, sort_keys=True)
    found = _VALIDATORS.get(key)
    if found is None:
        cls = validator_for(schema)
        cls.check_schema(schema)  # what jsonschema.validate does on every call, here once
        found = _VALIDATORS[key] = cls(schema)
    return found


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result`` with a cached validator; raises ``ValidationError``."""
    error = best_match(validator(self.action_response_format_spec()).iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the Action "
            f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


async def validate_slots_while_paused(
    self: ActionExtractSlots, extraction_events: list[Event], output_channel: Any, nlg: Any, tracker: Any, domain: Any
) -> list[Event]:
    """``ActionExtractSlots._execute_validation_action``, calling the action server only for a paused tracker.

    Unpaused, the result is what Rasa computes when the validation action returns no
    events: the extracted ``SlotSet`` events, unchanged.
    """
    if not tracker.is_paused():
        return [event for event in extraction_events if isinstance(event, SlotSet)]
    return await _EXTRACT_SLOTS_VALIDATION(self, extraction_events, output_channel, nlg, tracker, domain)


def connector() -> aiohttp.TCPConnector:
    """The running event loop's connector (made on first use; a closed loop's is dropped)."""
    loop = asyncio.get_running_loop()
    found = _CONNECTORS.get(id(loop))
    if found is None or found[0] is not loop or found[1].closed:
        for key, (other, _) in list(_CONNECTORS.items()):
            if other.is_closed():
                del _CONNECTORS[key]
        found = _CONNECTORS[id(loop)] = (loop, aiohttp.TCPConnector(keepalive_timeout=KEEP_ALIVE_SECONDS))
    return found[1]


def session(self: EndpointConfig) -> aiohttp.ClientSession:
    """``EndpointConfig.session`` (same headers, auth and timeout) on the shared connector, which outlives it."""
    auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
    return aiohttp.ClientSession(
        headers=self.headers,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        connector=connector(),
        connector_owner=False,
    )


def install() -> None:
    """Make every ``RemoteAction`` validate with the cached validator, skip the unpaused slot-validation
    call and keep connections to the action server alive."""
    # Rasa offers no hook for these: the methods are replaced on purpose, which mypy forbids by default.
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    ActionExtractSlots._execute_validation_action = validate_slots_while_paused  # type: ignore[method-assign]
    EndpointConfig.session = session  # type: ignore[method-assign]


__all__ = [
    "ValidationError",
    "connector",
    "install",
    "session",
    "validate_action_result",
    "validate_slots_while_paused",
    "validator",
]
