"""Triage: what a message is about, for hotline staff and other systems.

One :class:`Triage` loads the trained model once and classifies single texts or
streams of JSON lines. The parser is a small Protocol so tests and the web app can
share the same loaded model.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bot.categories import HOTLINE_VALUES, category_of
from bot.kb.query import KnowledgeBase, Profile, Status
from bot.kb.resolve import Resolver


logger = logging.getLogger(__name__)


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


class Parser(Protocol):
    def parse(self, text: str) -> Parse: ...


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
        Entity(e["entity"], e.get("value"), text[e["start"]:e["end"]] if "start" in e else str(e.get("value")))
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


@dataclass(frozen=True, slots=True)
class TriageResult:
    id: Any
    text: str
    category: str
    intent: str
    confidence: float
    entities: list[dict[str, Any]] = field(default_factory=list)
    schemes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Triage:
    """Classifies texts and names the schemes they are about.

    Schemes come from the one resolver (bot/kb/resolve.py), as the bot's answers do:
    those named first, then the best matches for the text, the attributes asked and the
    caller's facts (employees, industry), in the predicted category first; only open
    schemes are suggested unless the text names one. 「美國關稅 訂單掉一半」 gets
    「外銷貸款優惠保證加碼」, 「有沒有貸款可以撐過去」 gets loans first.
    """

    def __init__(self, parser: Parser, kb: KnowledgeBase | None = None, suggestions: int = 3) -> None:
        self._parser = parser
        self._resolver = Resolver(kb) if kb is not None else None
        self._suggestions = suggestions

    def schemes(self, parse: Parse) -> list[str]:
        named = list(dict.fromkeys(str(e.value) for e in parse.entities if e.entity == "scheme"))
        if named or self._resolver is None or parse.category not in HOTLINE_VALUES:
            return named
        question = self._resolver.question(
            parse.text, attributes=tuple(str(e.value) for e in parse.entities if e.entity == "attribute"),
            profile=_profile(parse), category=parse.category)
        ranked = [c for c in self._resolver.resolve(question, limit=12).candidates
                  if c.kind == "scheme" and c.status == Status.OPEN.value]
        ranked.sort(key=lambda c: (self._resolver.scheme(c.id).category != parse.category, -c.score))
        return [c.id for c in ranked[: self._suggestions]]

    def classify(self, text: str, id: Any = None) -> TriageResult:
        return self._result(self._parser.parse(text), id)

    async def aclassify(self, text: str, id: Any = None) -> TriageResult:
        """The same with an async parser (the web app asks Rasa over HTTP)."""
        return self._result(await self._parser.aparse(text), id)  # type: ignore[attr-defined]

    def _result(self, parse: Parse, id: Any) -> TriageResult:
        text = parse.text
        schemes = self.schemes(parse)
        return TriageResult(
            id=id, text=text, category=parse.category, intent=parse.intent,
            confidence=round(parse.confidence, 4),
            entities=[{"entity": e.entity, "value": e.value, "text": e.text} for e in parse.entities],
            schemes=schemes,
        )

    def classify_lines(self, lines: Iterable[str], max_chars: int) -> Iterator[dict[str, Any]]:
        """One output object per input line; a bad line yields an error object, not a crash."""
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            item, error = read_line(line, max_chars)
            if error:
                yield {"id": item.get("id") if item else None, "line": number, "error": error}
                continue
            assert item is not None
            yield self.classify(item["text"], item.get("id")).as_dict()


def _profile(parse: Parse) -> Profile:
    """What the caller said about the business, from the entities."""
    values = {e.entity: e.value for e in parse.entities}
    employees = values.get("employees")
    return Profile(employees=int(employees) if isinstance(employees, (int, float)) else None,
                   industry=values.get("industry"), disaster_hit=True if values.get("disaster_type") else None)


def read_line(line: str, max_chars: int) -> tuple[dict[str, Any] | None, str | None]:
    """Validate one JSON line ``{"id": ..., "text": ...}``; returns (item, error)."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg}"
    if not isinstance(item, dict):
        return None, "expected a JSON object with id and text"
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        return item, "text must be a non-empty string"
    if len(text) > max_chars:
        return item, f"text longer than {max_chars} characters"
    return item, None
