"""Action-server responses validated against Rasa's schema with a validator compiled once per schema.

Rasa 3.6's ``RemoteAction._validate_action_result`` calls ``jsonschema.validate(result,
schema)`` for every response of the action server. ``validate`` first checks the
*schema* against its draft's meta-schema and builds a new validator, every call: a
third of the Rasa server's time under load went there, none of it spent on our data.
Here the validator for a schema is built (and the schema checked) once, then reused;
each response is still validated in full and an invalid one is still refused with the
same ``jsonschema.ValidationError`` (the error jsonschema's own ``validate`` would pick,
with Rasa's hint appended).

Validating a whole response was still most of what is left of that cost: each event is
checked against the ``oneOf`` of every event type, and the same events (``action_listen``,
a slot set to the same value, the same answer) come back turn after turn. So a response
is validated part by part (:class:`ResponseValidator`): the envelope (the schema without
the events' item schema), then each event against the item schema, skipping an event
whose canonical JSON passed before (a bounded cache of BLAKE2b digests, so no caller's
text is kept). The parts are the whole: the response schema is ``{events: {type: array,
items: E}, responses: ...}`` with no references, so a response is valid exactly when its
envelope and each of its events are. When any part fails, the whole response is
validated as before and ``best_match`` picks the same error from the same errors.

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
import copy
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

from bot.lru import Lru, digest

_VALIDATORS: dict[str, Any] = {}
_RESPONSE_VALIDATORS: list[tuple[dict[str, Any], ResponseValidator]] = []
EVENT_CACHE_SIZE = 1024
_SPLIT_KEYS = frozenset({"type", "items"})  # the events schema's keywords, when the parts are the whole
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


def canonical_digest(value: Any) -> bytes | None:
    """A digest of ``value``'s canonical JSON, or None unless it holds only what JSON parsing makes.

    Only such values: a tuple dumps as a list but is no JSON array to jsonschema, so it
    must not share a list's verdict.
    """
    if not _plain(value):
        return None
    return digest(json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=True))


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return True
    if kind is list:
        return all(_plain(item) for item in value)
    if kind is dict:
        return all(type(key) is str and _plain(item) for key, item in value.items())
    return False


class ResponseValidator:
    """Validates action-server responses part by part, remembering events found valid (see the module doc)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.whole = validator(schema)
        self.envelope: Any = None
        self.event: Any = None
        self._valid: Lru[bytes, bool] = Lru(EVENT_CACHE_SIZE)
        events = (schema.get("properties") or {}).get("events")
        if isinstance(events, dict) and set(events) <= _SPLIT_KEYS and isinstance(events.get("items"), dict):
            if not any(key in json.dumps(schema) for key in ('"$ref"', '"$id"', '"$dynamicRef"', '"$anchor"')):
                cls = type(self.whole)
                envelope = copy.deepcopy(schema)
                del envelope["properties"]["events"]["items"]
                self.envelope, self.event = cls(envelope), cls(events["items"])

    def best_error(self, result: Any) -> ValidationError | None:
        """The error ``jsonschema.validate`` would raise for ``result``, or None when it is valid."""
        if self._parts_valid(result):
            return None
        return best_match(self.whole.iter_errors(result))

    def _parts_valid(self, result: Any) -> bool:
        if self.envelope is None or not self.envelope.is_valid(result):
            return False
        for event in result.get("events") or ():  # a list when present: the envelope says so
            key = canonical_digest(event)
            if key is not None and self._valid.get(key):
                continue
            if not self.event.is_valid(event):
                return False
            if key is not None:
                self._valid.put(key, True)
        return True


def response_validator(schema: dict[str, Any]) -> ResponseValidator:
    """The :class:`ResponseValidator` of ``schema``, made on first use.

    Found by comparing ``schema`` with a copy of each schema seen (``==``, 4 µs), not by
    its JSON (55 µs a response, half of what the validation costs now). Rasa builds one
    schema, from constants; ``==`` would only confuse two schemas differing in ``1`` against
    ``true`` alone, and a schema changed in place no longer equals its copy.
    """
    for seen, found in _RESPONSE_VALIDATORS:
        if seen == schema:
            return found
    found = ResponseValidator(schema)
    _RESPONSE_VALIDATORS.append((copy.deepcopy(schema), found))
    return found


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """``RemoteAction._validate_action_result``, part by part with cached validators; raises ``ValidationError``."""
    error = response_validator(self.action_response_format_spec()).best_error(result)
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
    "ResponseValidator",
    "ValidationError",
    "canonical_digest",
    "connector",
    "install",
    "response_validator",
    "session",
    "validate_action_result",
    "validate_slots_while_paused",
    "validator",
]
