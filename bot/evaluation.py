"""Held-out evaluation by category: precision, recall, F1, confusion matrix.

Scored at the category level because that is what changes the answer and the
hotline's statistics. A message the FallbackClassifier rejects counts as
``out_of_scope``: the bot did not understand it, whatever the true topic.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.categories import Category, category_of
from bot.triage import Parser


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str

    @property
    def category(self) -> str:
        return category_of(self.intent).value


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Report:
    per_category: dict[str, Scores]
    macro_f1: float
    accuracy: float
    intent_accuracy: float
    out_of_scope_recall: float
    confusion: dict[str, dict[str, int]]
    errors: list[dict[str, str]]
    total: int


def load_examples(path: Path) -> list[Example]:
    """Read Rasa NLU YAML (a file or a folder of them)."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [Example(m.get("text"), m.get("intent")) for m in data.intent_examples]


def score(pairs: list[tuple[str, str]], labels: list[str]) -> dict[str, Scores]:
    """Per-label scores from (true, predicted) pairs."""
    result = {}
    for label in labels:
        tp = sum(1 for t, p in pairs if t == label and p == label)
        predicted = sum(1 for _, p in pairs if p == label)
        actual = sum(1 for t, _ in pairs if t == label)
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        result[label] = Scores(round(precision, 4), round(recall, 4), round(f1, 4), actual)
    return result


def evaluate_parser(parser: Parser, examples: list[Example]) -> Report:
    pairs, intent_hits, errors = [], 0, []
    for example in examples:
        parse = parser.parse(example.text)
        pairs.append((example.category, parse.category))
        intent_hits += parse.intent == example.intent
        if parse.category != example.category:
            errors.append({"text": example.text, "expected": example.intent, "predicted": parse.intent,
                           "confidence": f"{parse.confidence:.2f}"})
    return build_report(pairs, intent_hits, errors)


def build_report(pairs: list[tuple[str, str]], intent_hits: int, errors: list[dict[str, str]]) -> Report:
    labels = [c.value for c in Category if any(t == c.value for t, _ in pairs)]
    per = score(pairs, labels)
    counts = Counter(pairs)
    confusion = {t: {p: counts[(t, p)] for p in [c.value for c in Category] if counts[(t, p)]} for t in labels}
    total = len(pairs)
    return Report(
        per_category=per,
        macro_f1=round(sum(s.f1 for s in per.values()) / len(per), 4) if per else 0.0,
        accuracy=round(sum(t == p for t, p in pairs) / total, 4) if total else 0.0,
        intent_accuracy=round(intent_hits / total, 4) if total else 0.0,
        out_of_scope_recall=per.get(Category.OUT_OF_SCOPE.value, Scores(0, 0, 0, 0)).recall,
        confusion=confusion, errors=errors, total=total,
    )


def render_markdown(report: Report) -> str:
    lines = [
        "# Held-out NLU evaluation (by category)", "",
        f"- examples: {report.total}",
        f"- macro-F1: **{report.macro_f1:.3f}** (target ≥ 0.92)",
        f"- out-of-scope recall: **{report.out_of_scope_recall:.3f}** (target ≥ 0.90)",
        f"- category accuracy: {report.accuracy:.3f}; intent accuracy: {report.intent_accuracy:.3f}", "",
        "| category | precision | recall | F1 | support |", "|---|---|---|---|---|",
    ]
    lines += [f"| {c} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.support} |" for c, s in report.per_category.items()]
    labels = list(report.per_category)
    lines += ["", "## Confusion matrix (rows: true, columns: predicted)", "",
              "| true \\ predicted | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    lines += [f"| {t} | " + " | ".join(str(report.confusion[t].get(p, 0)) for p in labels) + " |" for t in labels]
    lines += ["", "## Misclassified", "", "| text | expected | predicted | confidence |", "|---|---|---|---|"]
    lines += [f"| {e['text']} | {e['expected']} | {e['predicted']} | {e['confidence']} |" for e in report.errors]
    return "\n".join(lines) + "\n"


def write_report(report: Report, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "eval.json").write_text(json.dumps(asdict(report), ensure_ascii=False, indent=2), encoding="utf-8")
    md = folder / "eval.md"
    md.write_text(render_markdown(report), encoding="utf-8")
    return md
