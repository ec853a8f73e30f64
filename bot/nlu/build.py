"""Build the NLU resources generated from knowledge/ and the gazetteers.

One source for every name: scheme names and aliases come from the knowledge
records, the rest from :mod:`bot.nlu.gazetteer`. Two outputs under ``var/nlu``:
the jieba user dictionary (so 「30人以下優惠貸款」 stays one token) and a blank
``zh`` spaCy pipeline with an entity ruler. Both are written to a temporary
folder first and swapped in, so a running server never sees half a build.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bot.nlu.gazetteer import GAZETTEERS

# High enough that jieba keeps a listed phrase whole in any context.
USER_DICT_FREQ = 20000


class Named(Protocol):
    """A record callers name: a scheme (``bot.kb.records.Scheme``), by its id and every name and alias."""

    @property
    def id(self) -> str: ...

    def names(self) -> tuple[str, ...]: ...


class Knowledge(Protocol):
    """What the build reads of the knowledge records (``bot.kb.records.Knowledge``): the schemes by id.

    A Protocol rather than the kb's own type: the knowledge base imports the NLU's text
    tools (normaliser, numerals, gazetteers), so the NLU must not import the knowledge base.
    """

    @property
    def schemes(self) -> Mapping[str, Named]: ...


@dataclass(frozen=True, slots=True)
class Term:
    """A surface form of an entity and the canonical value it stands for."""

    label: str
    surface: str
    value: str


def entity_terms(knowledge: Knowledge) -> list[Term]:
    """Every term the rule extractor knows, scheme names first."""
    terms = [Term("scheme", name, s.id) for s in knowledge.schemes.values() for name in s.names()]
    for label, table in GAZETTEERS.items():
        terms.extend(Term(label, surface, value) for value, surfaces in table.items() for surface in surfaces)
    return terms


def user_dictionary(terms: list[Term]) -> str:
    """jieba user dictionary text: one ``word freq`` line per distinct term."""
    words = sorted({t.surface for t in terms if " " not in t.surface})
    return "".join(f"{word} {USER_DICT_FREQ}\n" for word in words)


@dataclass(frozen=True, slots=True)
class NluPaths:
    folder: Path

    @property
    def userdict(self) -> Path:
        return self.folder / "jieba" / "userdict.txt"

    @property
    def spacy_model(self) -> Path:
        return self.folder / "spacy_zh"


def build_nlu_resources(knowledge: Knowledge, folder: Path) -> NluPaths:
    """Write the jieba dictionary and the spaCy pipeline under ``folder``."""
    import jieba
    import spacy

    terms = entity_terms(knowledge)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".nlu-", dir=folder.parent))
    paths = NluPaths(staging)
    paths.userdict.parent.mkdir(parents=True)
    paths.userdict.write_text(user_dictionary(terms), encoding="utf-8")
    jieba.load_userdict(str(paths.userdict))
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns([{"label": t.label, "pattern": t.surface, "id": t.value} for t in terms])
    nlp.to_disk(paths.spacy_model)
    if folder.exists():
        shutil.rmtree(folder)
    staging.rename(folder)
    return NluPaths(folder)
