"""The trained model seen as a parser: one text in, a :class:`Parse` (intent, confidence, entities) out.

:class:`RasaParser` loads the model in this process, once; the web app parses over
Rasa's HTTP API instead (``bot/web/rasa_client.py``), into the same :class:`Parse`.
:class:`Parser` is the small Protocol triage (``bot/triage.py``) and the evaluation
(``bot/nlu/evaluation.py``) take, so tests and tools can share one loaded model;
:class:`AsyncParser` is the web app's, which must not block its event loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from bot.categories import category_of


@dataclass(frozen=True, slots=True)
class Entity:
    entity: str
    value: Any
    text: str


@dataclass(frozen=True, slots=True)
class Parse:
    """What the NLU made of one text."""

    text: str
    intent: str
    confidence: float
    entities: tuple[Entity, ...]
    ranking: tuple[tuple[str, float], ...] = ()

    @property
    def category(self) -> str:
        return category_of(self.intent).value


@runtime_checkable
class Parser(Protocol):
    """Parses in this process, blocking (a loaded model: the CLI, evaluation, tests)."""

    def parse(self, text: str) -> Parse: ...


@runtime_checkable
class AsyncParser(Protocol):
    """Parses without blocking the event loop (the web app asks the Rasa server over HTTP)."""

    async def aparse(self, text: str) -> Parse: ...


class NoModel(FileNotFoundError):
    """No trained model was found."""


def latest_model(models_dir: Path) -> Path:
    """The newest ``*.tar.gz`` in ``models_dir``.

    Raises:
        NoModel: there is none (run ``make train``).
    """
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise NoModel(f"no trained model in {models_dir}: run `make train`")
    return models[-1]


def parse_from_rasa(text: str, data: dict[str, Any]) -> Parse:
    """Turn Rasa's parse dictionary into a :class:`Parse`."""
    intent = data.get("intent") or {}
    entities = tuple(
        Entity(e["entity"], e.get("value"), text[e["start"] : e["end"]] if "start" in e else str(e.get("value")))
        for e in data.get("entities", [])
    )
    ranking = tuple((r["name"], float(r["confidence"])) for r in data.get("intent_ranking", []))
    return Parse(text, intent.get("name") or "nlu_fallback", float(intent.get("confidence") or 0.0), entities, ranking)


class RasaParser:
    """Parses with a trained Rasa model loaded in this process (once)."""

    def __init__(self, model_path: Path) -> None:
        from rasa.core.agent import Agent

        self._loop = asyncio.new_event_loop()
        self._agent = Agent.load(str(model_path))

    def parse(self, text: str) -> Parse:
        data = self._loop.run_until_complete(self._agent.parse_message(text))
        return parse_from_rasa(text, data)

    def close(self) -> None:
        self._loop.close()
