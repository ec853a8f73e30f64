"""Triage: what a message is about, for hotline staff and other systems.

One :class:`Triage` classifies single texts or streams of JSON lines with a parser
(``bot/nlu/parser.py``: the model loaded once, or Rasa over HTTP), and names the
schemes each is about.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.categories import HOTLINE_VALUES
from bot.eligibility import Profile
from bot.kb.query import KnowledgeBase, Status, UnknownScheme
from bot.kb.resolve import Resolver
from bot.nlu.parser import AsyncParser, Parse, Parser

# The most texts one triage request holds (the console's pasted lines, the JSON API's items).
MAX_TRIAGE_LINES = 200

logger = logging.getLogger(__name__)


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

    def __init__(self, parser: Parser | AsyncParser, kb: KnowledgeBase | None = None, suggestions: int = 3) -> None:
        self._parser = parser
        self._resolver = Resolver(kb) if kb is not None else None
        self._suggestions = suggestions

    def schemes(self, parse: Parse) -> list[str]:
        named = list(dict.fromkeys(str(e.value) for e in parse.entities if e.entity == "scheme"))
        resolver = self._resolver
        if named or resolver is None or parse.category not in HOTLINE_VALUES:
            return named
        question = resolver.question(
            parse.text,
            attributes=tuple(str(e.value) for e in parse.entities if e.entity == "attribute"),
            profile=_profile(parse),
            category=parse.category,
        )
        ranked = [
            c
            for c in resolver.resolve(question, limit=12).candidates
            if c.kind == "scheme" and c.status == Status.OPEN.value
        ]
        ranked.sort(key=lambda c: (resolver.scheme(c.id).category != parse.category, -c.score))
        return [c.id for c in ranked[: self._suggestions]]

    def classify(self, text: str, id: Any = None) -> TriageResult:
        """Classify with a :class:`Parser`."""
        if not isinstance(self._parser, Parser):
            raise TypeError("classify needs a Parser; call aclassify with an AsyncParser")
        return self._result(self._parser.parse(text), id)

    async def aclassify(self, text: str, id: Any = None) -> TriageResult:
        """The same with an :class:`AsyncParser` (the web app asks Rasa over HTTP)."""
        if not isinstance(self._parser, AsyncParser):
            raise TypeError("aclassify needs an AsyncParser; call classify with a Parser")
        return self._result(await self._parser.aparse(text), id)

    def _result(self, parse: Parse, id: Any) -> TriageResult:
        text = parse.text
        schemes = self.schemes(parse)
        return TriageResult(
            id=id,
            text=text,
            category=parse.category,
            intent=parse.intent,
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


async def triage_results(parser: AsyncParser, kb: KnowledgeBase | None, lines: list[str]) -> list[dict[str, Any]]:
    """Each line triaged with ``parser.aparse`` (``id``: its number from 1), with the facts of the schemes named.

    The staff console's triage page and the JSON API show the same results: beside each
    suggested scheme id, its name and summary (``facts``), so neither caller looks them up.
    """
    engine = Triage(parser, kb)
    results = []
    for number, line in enumerate(lines, start=1):
        result = (await engine.aclassify(line, number)).as_dict()
        result["facts"] = []
        for scheme_id in result["schemes"]:
            try:
                scheme = kb.scheme(scheme_id) if kb else None
            except UnknownScheme:
                continue
            if scheme:
                result["facts"].append({"name": scheme.name, "summary": scheme.summary})
        results.append(result)
    return results


def _profile(parse: Parse) -> Profile:
    """What the caller said about the business, from the entities."""
    values = {e.entity: e.value for e in parse.entities}
    employees = values.get("employees")
    return Profile(
        employees=int(employees) if isinstance(employees, (int, float)) else None,
        industry=values.get("industry"),
        disaster_hit=True if values.get("disaster_type") else None,
    )


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
