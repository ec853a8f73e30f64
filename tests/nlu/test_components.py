"""Our NLU components with the trained model: ZhSpacyNLP adds no spaCy doc at run time, and parses (intent
ranking, entities, confidences) are exactly what they were when it did."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from rasa.nlu.utils.spacy_utils import SpacyNLP
from spacy.language import Language

from bot.nlu.components import ZhSpacyNLP
from bot.nlu.evaluation import load_examples
from bot.settings import ROOT

# Rasa's components that read the doc SpacyNLP attaches (rasa/nlu: SPACY_DOCS); ZhRuleEntityExtractor,
# like SpacyEntityExtractor, parses the original text itself.
DOC_READERS = {"SpacyTokenizer", "SpacyFeaturizer"}


def messages(limit: int = 300) -> list[str]:
    """Every other held-out message of both sets (ours and the external one), up to ``limit``."""
    sets = (ROOT / "tests" / "heldout", ROOT / "tests" / "heldout_external" / "external.yml")
    texts = [e.text for path in sets for e in load_examples(path)]
    return sorted(set(texts))[::2][:limit]


def parses(parser: Any, texts: list[str]) -> list[dict[str, Any]]:
    return [parser._loop.run_until_complete(parser._agent.parse_message(text)) for text in texts]


@pytest.fixture
def spacy_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The texts our spaCy pipeline is run on."""
    calls: list[str] = []
    run = Language.__call__

    def counted(self: Language, text: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(text)
        return run(self, text, *args, **kwargs)

    monkeypatch.setattr(Language, "__call__", counted)
    yield calls


def test_parses_are_the_same_as_with_rasas_spacy_docs(parser, monkeypatch):
    texts = messages()
    assert len(texts) >= 250
    ours = parses(parser, texts)
    monkeypatch.setattr(ZhSpacyNLP, "process", SpacyNLP.process)  # Rasa's: a lower-cased doc per message
    with_docs = parses(parser, texts)
    assert sum(bool(p["entities"]) for p in ours) >= 20
    for text, got, expected in zip(texts, ours, with_docs, strict=True):
        assert got == expected, text


def test_a_message_is_run_through_spacy_once_for_its_entities(parser, spacy_calls):
    found = parses(parser, ["請問青創貸款在台中可以借多少"])
    assert spacy_calls == ["請問青創貸款在台中可以借多少"]  # the entity ruler's run, on the original text
    assert {e["entity"] for e in found[0]["entities"]} >= {"scheme"}


def test_no_component_of_the_pipeline_reads_the_spacy_doc():
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    names = {component["name"].rsplit(".", 1)[-1] for component in config["pipeline"]}
    assert "ZhSpacyNLP" in names and not names & DOC_READERS
