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
Rasa server creates it (bot/ops/stores.py), so it is in place in both profiles before
the first message; installing twice is harmless.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_VALIDATORS: dict[str, Any] = {}


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
            f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions")
        raise error
    return True


def install() -> None:
    """Make every ``RemoteAction`` validate with the cached validator."""
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


__all__ = ["ValidationError", "install", "validate_action_result", "validator"]
