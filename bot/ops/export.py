"""Corrections as Rasa NLU training data (YAML 3.1), ready to add to ``data/nlu/``.

What is left out, and why (each skipped text is reported with its reason):
- intents not in ``domain.yml`` (training would fail);
- texts already in ``data/nlu/`` (``rasa data validate`` warns on repeats, and a text
  under two intents is a conflict to settle by hand);
- texts of the held-out set (``tests/heldout/``): it measures the model and must
  never be trained on;
- one text corrected to two different intents (ask a colleague, then correct again).

Brackets typed by users are written full-width (``［］｛｝``) so Rasa does not read
them as entity markup; the NLU normaliser turns them back (NFKC) at run time.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.clock import SystemClock
from bot.ops.domain import domain_intents
from bot.ops.review import Correction
from bot.settings import ROOT

TRAINING = ROOT / "data" / "nlu"
HELDOUT = ROOT / "tests" / "heldout"
MARKUP = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
FULL_WIDTH = str.maketrans({"[": "［", "]": "］", "{": "｛", "}": "｝"})


class InvalidExport(ValueError):
    """The generated YAML did not read back as the corrections (a bug, never shipped)."""


@dataclass(frozen=True, slots=True)
class Export:
    yaml: str
    included: list[Correction]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (text, zh-TW reason)


def example_texts(folder: Path) -> set[str]:
    """Plain texts of every NLU example under ``folder`` (entity markup removed)."""
    return {text for path in sorted(folder.rglob("*.yml")) for found in nlu_examples(path).values() for text in found}


def nlu_examples(path: Path) -> dict[str, list[str]]:
    """Intent → plain texts of its examples (entity markup removed) in one NLU YAML file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    examples: dict[str, list[str]] = {}
    for item in data.get("nlu") or []:
        lines = [
            line.strip()[2:] for line in str(item.get("examples") or "").splitlines() if line.strip().startswith("- ")
        ]
        examples.setdefault(str(item.get("intent")), []).extend(plain(MARKUP.sub(r"\1", line)) for line in lines)
    return examples


def plain(text: str) -> str:
    return " ".join(text.split())


def build_export(
    items: Iterable[Correction],
    intents: Iterable[str] | None = None,
    training: set[str] | None = None,
    heldout: set[str] | None = None,
    today: dt.date | None = None,
) -> Export:
    """The YAML for ``items`` (latest correction of a text wins), validated by reading it back."""
    known = set(domain_intents() if intents is None else intents)
    training = example_texts(TRAINING) if training is None else training
    heldout = example_texts(HELDOUT) if heldout is None else heldout
    chosen: dict[str, Correction] = {}
    skipped: list[tuple[str, str]] = []
    conflicts: set[str] = set()
    for item in items:
        text = plain(item.text)
        reason = _reason(text, item.intent, known, training, heldout)
        if reason:
            skipped.append((text, reason))
        elif text in chosen and chosen[text].intent != item.intent:
            conflicts.add(text)
        else:
            chosen[text] = item
    for text in conflicts:
        chosen.pop(text, None)
        skipped.append((text, "同一句被標成不同意圖，請確認後再修正一次"))
    included = list(chosen.values())
    document = render(included, today or SystemClock().today())
    validate(document, included)
    return Export(document, included, skipped)


def _reason(text: str, intent: str, known: set[str], training: set[str], heldout: set[str]) -> str | None:
    if not text or text.startswith("/"):
        return "空白或按鈕訊息"
    if intent not in known:
        return f"意圖 {intent} 不在 domain.yml"
    if text in heldout:
        return "屬於保留測試集（tests/heldout），不可拿來訓練"
    if text in training:
        return "已在 data/nlu 訓練資料中"
    return None


def render(items: list[Correction], today: dt.date) -> str:
    by_intent: dict[str, list[str]] = {}
    for item in items:
        by_intent.setdefault(item.intent, []).append(markup(plain(item.text), item.entities))
    lines = [
        'version: "3.1"',
        f"# Intent corrections from the ops review pages ({today.isoformat()}; python -m bot ops export-nlu).",
        "# Check them, then add this file to data/nlu/ and retrain (make train).",
        "nlu:",
    ]
    for intent in sorted(by_intent):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {example}" for example in by_intent[intent]]
    return "\n".join(lines) + "\n"


def markup(text: str, entities: list[dict[str, Any]]) -> str:
    """``text`` with entities in Rasa's markup: ``[piece](entity)`` or ``[piece]{"entity": .., "value": ..}``."""
    out, at = [], 0
    for e in sorted(entities, key=lambda e: int(e["start"])):
        start, end = int(e["start"]), int(e["end"])
        if start < at or text[start:end] != e["text"]:
            continue  # overlapping, or the text changed with whitespace clean-up: leave it out
        piece = text[start:end].translate(FULL_WIDTH)
        out.append(text[at:start].translate(FULL_WIDTH))
        if e.get("value") and e["value"] != e["text"]:
            out.append(f"[{piece}]" + json.dumps({"entity": e["entity"], "value": e["value"]}, ensure_ascii=False))
        else:
            out.append(f"[{piece}]({e['entity']})")
        at = end
    out.append(text[at:].translate(FULL_WIDTH))
    return "".join(out)


def validate(document: str, items: list[Correction]) -> None:
    """Read ``document`` with Rasa's own reader and check every example came back intact.

    Raises:
        InvalidExport: a text, intent or entity differs after reading back.
    """
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    read = RasaYAMLReader().reads(document)
    back = {(m.get("text"), m.get("intent")) for m in read.training_examples}
    expected = {(markup(plain(i.text), []), i.intent) for i in items}
    if back != expected:
        raise InvalidExport(f"read back {len(back)} examples, expected {len(expected)}")
