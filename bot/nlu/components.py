"""Rasa graph components of our NLU pipeline (referenced from config.yml).

- :class:`TextNormaliser` rewrites the message text (簡→繁, width, whitespace) before
  any tokenizer sees it, in training and at run time alike.
- :class:`ZhSpacyNLP` loads our blank ``zh`` spaCy pipeline (jieba segmenter plus an
  entity ruler, built by ``python -m bot nlu build``) after loading the generated
  jieba user dictionary, so the ruler's phrases and the text split into the same
  tokens. Rasa's SpacyNLP cannot do that: spaCy's jieba segmenter has no user
  dictionary setting, and jieba's dictionary is process-wide. At run time it adds no
  spaCy doc to messages: nothing in our pipeline reads one.
- :class:`ZhRuleEntityExtractor` is SpacyEntityExtractor with one change: the value
  is the pattern id (scheme id, canonical county), so 「青創」 fills the slot with
  the scheme id instead of the caller's spelling.
- :class:`ZhNumberExtractor` finds employee counts and amounts (see numerals.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.nlu.extractors.spacy_entity_extractor import SpacyEntityExtractor
from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.normaliser import normalise
from bot.nlu.numerals import find_numbers

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class TextNormaliser(GraphComponent):
    """Normalises message text before tokenising (see bot.nlu.normaliser)."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TextNormaliser:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str) and not text.startswith("/"):
                message.set(TEXT, normalise(text))
        return messages


def load_user_dictionary(path: str | None) -> None:
    """Load our generated jieba user dictionary into jieba's process-wide tokenizer."""
    if not path:
        return
    import jieba

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"jieba user dictionary {file} is missing: run `python -m bot nlu build`")
    jieba.load_userdict(str(file))


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MODEL_LOADER, DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER],
    is_trainable=False,
    model_from="ZhSpacyNLP",
)
class ZhSpacyNLP(SpacyNLP):
    """SpacyNLP that first loads the jieba user dictionary named by ``userdict``, and parses no message.

    Rasa's SpacyNLP runs the whole spaCy pipeline (jieba, the entity ruler) on the
    lower-cased text of every message to attach a doc that only SpacyTokenizer and
    SpacyFeaturizer read. Our pipeline (config.yml) has neither: JiebaTokenizer makes the
    tokens, the count vectorisers and DIET read tokens, and ZhRuleEntityExtractor, like
    Rasa's SpacyEntityExtractor, runs the model on the original text itself (a lower-cased
    doc would be wrong for the ruler). So at run time the doc was built and thrown away,
    one spaCy parse of two per message; :meth:`process` now adds none (issue #17).
    Training still adds docs as Rasa does. tests/nlu/test_components.py checks that parses
    are unchanged and that config.yml names no component that reads the doc.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**SpacyNLP.get_default_config(), "userdict": None}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ZhSpacyNLP:
        load_user_dictionary(config.get("userdict"))
        # SpacyNLP.create returns cls(...) but is annotated as returning a SpacyNLP.
        return cast(ZhSpacyNLP, super().create(config, model_storage, resource, execution_context))

    def process(self, messages: list[Message], model: SpacyModel) -> list[Message]:
        """The messages, unchanged: no component of the pipeline reads a spaCy doc (see the class docstring)."""
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False, model_from="ZhSpacyNLP")
class ZhRuleEntityExtractor(SpacyEntityExtractor):
    """Entity ruler matches with canonical values (pattern ids)."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [ZhSpacyNLP]

    def process(self, messages: list[Message], model: SpacyModel) -> list[Message]:
        return super().process(messages, model)

    @staticmethod
    def _extract_entities(doc: Any) -> list[dict[str, Any]]:
        return [
            {
                "entity": ent.label_,
                "value": ent.ent_id_ or ent.text,
                "start": ent.start_char,
                "end": ent.end_char,
                "confidence": None,
            }
            for ent in doc.ents
        ]


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class ZhNumberExtractor(GraphComponent, EntityExtractorMixin):
    """Extracts ``employees`` and ``amount`` with integer values."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ZhNumberExtractor:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            found = [
                {"entity": m.entity, "value": m.value, "start": m.start, "end": m.end, "confidence": None}
                for m in find_numbers(text)
            ]
            if found:
                message.set(ENTITIES, message.get(ENTITIES, []) + self.add_extractor_name(found), add_to_output=True)
        return messages
