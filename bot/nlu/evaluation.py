"""Held-out evaluation by category: precision, recall, F1, calibration, latency.

Scored at the category level because that is what changes the answer and the
hotline's statistics. A message the FallbackClassifier rejects counts as
``out_of_scope``: the bot did not understand it, whatever the true topic.

Two held-out sets are scored separately (``make eval``):

- ``tests/heldout/`` (Rasa NLU YAML, labelled by intent), written by this project;
- ``tests/heldout_external/external.yml`` (``categories: {<category>: [texts]}``),
  written by someone who saw only the category descriptions and the seeds.

Calibration is measured on the classifier's own belief, before the fallback: the
top category's probability (the sum of its intents' probabilities in the ranking)
against whether that category is right. Expected calibration error (ECE) is the
support-weighted mean gap between confidence and accuracy over ten equal-width
bins. "Confident errors" are final predictions (after the fallback) that are wrong
while the classifier's probability for them is above 0.95.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.categories import FALLBACK_INTENT, Category, category_of
from bot.nlu.parser import Parse, Parser

# The headline macro-F1 is over the nine categories other than dialogue
# (turn-taking replies have no topic of their own); the ten-category figure is shown too.
HEADLINE_EXCLUDED = (Category.DIALOGUE.value,)
CONFIDENT = 0.95
BINS = 10
# The two held-out sets, scored separately (paths relative to the repository).
DEFAULT_SETS = (Path("tests/heldout"), Path("tests/heldout_external/external.yml"))


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    intent: str  # "" when the set is labelled by category only
    label: str | None = None  # the category, when given directly

    @property
    def category(self) -> str:
        return self.label or category_of(self.intent).value


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Bin:
    low: float
    high: float
    count: int
    confidence: float
    accuracy: float


@dataclass(slots=True)
class Report:
    per_category: dict[str, Scores]
    macro_f1: float  # over the nine categories (all but dialogue) present in the set
    macro_f1_all: float  # over every category present
    accuracy: float
    intent_accuracy: float | None
    out_of_scope_recall: float
    out_of_scope_precision: float
    confusion: dict[str, dict[str, int]]
    errors: list[dict[str, str]]
    total: int
    ece: float = 0.0
    reliability: list[Bin] = field(default_factory=list)
    confident_errors: int = 0
    fallback_share: float = 0.0
    parse_p50_ms: float = 0.0
    parse_p95_ms: float = 0.0
    name: str = ""

    @property
    def confident_error_share(self) -> float:
        return self.confident_errors / self.total if self.total else 0.0


def load_examples(path: Path) -> list[Example]:
    """Read a held-out or training set: Rasa NLU YAML (a file or a folder) or the category format."""
    if path.is_file() and _is_category_format(path):
        return load_categories(path)
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [Example(m.get("text"), m.get("intent")) for m in data.intent_examples]


def _is_category_format(path: Path) -> bool:
    import yaml

    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return isinstance(document, dict) and isinstance(document.get("categories"), dict)


def load_categories(path: Path) -> list[Example]:
    """``categories: {<category id>: [texts]}`` (the external writer's format)."""
    import yaml

    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    known = {c.value for c in Category}
    examples = []
    for label, texts in document["categories"].items():
        if label not in known:
            raise ValueError(f"{path}: unknown category {label!r}")
        examples += [Example(str(text).strip(), "", label) for text in texts or [] if str(text).strip()]
    return examples


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


def belief(parse: Parse) -> tuple[str, float]:
    """The classifier's top category and its probability, before the fallback.

    The probability is the sum over the category's intents in the ranking, since
    the category is what is scored.
    """
    by_category: dict[str, float] = defaultdict(float)
    for intent, confidence in parse.ranking:
        if intent != FALLBACK_INTENT:
            by_category[category_of(intent).value] += confidence
    if not by_category:
        return parse.category, parse.confidence
    top = max(by_category, key=by_category.__getitem__)
    return top, min(1.0, by_category[top])


def reliability(points: list[tuple[float, bool]], bins: int = BINS) -> tuple[float, list[Bin]]:
    """(ECE, table) from (confidence, correct) points over equal-width bins."""
    grouped: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for confidence, correct in points:
        grouped[min(bins - 1, int(confidence * bins))].append((confidence, correct))
    table, ece = [], 0.0
    for index in range(bins):
        members = grouped.get(index, [])
        conf = sum(c for c, _ in members) / len(members) if members else 0.0
        acc = sum(ok for _, ok in members) / len(members) if members else 0.0
        ece += len(members) / len(points) * abs(conf - acc) if points else 0.0
        table.append(Bin(index / bins, (index + 1) / bins, len(members), round(conf, 4), round(acc, 4)))
    return round(ece, 4), table


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def evaluate_parser(parser: Parser, examples: list[Example], name: str = "") -> Report:
    pairs, intent_hits, errors, points, timings = [], 0, [], [], []
    confident_errors = fallbacks = 0
    labelled = [e for e in examples if e.intent]
    for example in examples:
        started = time.perf_counter()
        parse = parser.parse(example.text)
        timings.append((time.perf_counter() - started) * 1000)
        pairs.append((example.category, parse.category))
        intent_hits += bool(example.intent) and parse.intent == example.intent
        top, confidence = belief(parse)
        points.append((confidence, top == example.category))
        fallbacks += parse.intent == FALLBACK_INTENT
        if parse.category != example.category:
            wrong_confidence = confidence if top == parse.category else parse.confidence
            confident_errors += wrong_confidence > CONFIDENT
            errors.append(
                {
                    "text": example.text,
                    "expected": example.intent or example.category,
                    "predicted": parse.intent,
                    "confidence": f"{wrong_confidence:.2f}",
                }
            )
    report = build_report(pairs, intent_hits, errors, intent_total=len(labelled))
    report.ece, report.reliability = reliability(points)
    report.confident_errors = confident_errors
    report.fallback_share = round(fallbacks / len(examples), 4) if examples else 0.0
    report.parse_p50_ms = round(percentile(timings, 50), 2)
    report.parse_p95_ms = round(percentile(timings, 95), 2)
    report.name = name
    return report


def build_report(
    pairs: list[tuple[str, str]], intent_hits: int, errors: list[dict[str, str]], intent_total: int | None = None
) -> Report:
    labels = [c.value for c in Category if any(t == c.value for t, _ in pairs)]
    per = score(pairs, labels)
    counts = Counter(pairs)
    confusion = {t: {p: counts[(t, p)] for p in [c.value for c in Category] if counts[(t, p)]} for t in labels}
    total = len(pairs)
    intent_total = total if intent_total is None else intent_total
    headline = [s.f1 for c, s in per.items() if c not in HEADLINE_EXCLUDED]
    oos = per.get(Category.OUT_OF_SCOPE.value, Scores(0, 0, 0, 0))
    return Report(
        per_category=per,
        macro_f1=round(sum(headline) / len(headline), 4) if headline else 0.0,
        macro_f1_all=round(sum(s.f1 for s in per.values()) / len(per), 4) if per else 0.0,
        accuracy=round(sum(t == p for t, p in pairs) / total, 4) if total else 0.0,
        intent_accuracy=round(intent_hits / intent_total, 4) if intent_total else None,
        out_of_scope_recall=oos.recall,
        out_of_scope_precision=oos.precision,
        confusion=confusion,
        errors=errors,
        total=total,
    )


def render_summary(reports: list[Report]) -> list[str]:
    """One row per held-out set: the figures the issue's targets name."""
    lines = [
        "| set | n | macro-F1 (9, no dialogue) | macro-F1 (all) | OOS recall | OOS precision | ECE | "
        "wrong > 0.95 | fallback | parse p50 / p95 ms |",
        "|---" * 10 + "|",
    ]
    for r in reports:
        lines.append(
            f"| {r.name} | {r.total} | {r.macro_f1:.3f} | {r.macro_f1_all:.3f} | {r.out_of_scope_recall:.3f} | "
            f"{r.out_of_scope_precision:.3f} | {r.ece:.3f} | {r.confident_errors} ({r.confident_error_share:.1%}) | "
            f"{r.fallback_share:.1%} | {r.parse_p50_ms:.1f} / {r.parse_p95_ms:.1f} |"
        )
    return lines


def render_markdown(report: Report) -> str:
    intent = "—" if report.intent_accuracy is None else f"{report.intent_accuracy:.3f}"
    lines = [
        f"## {report.name or 'held-out set'}",
        "",
        f"- examples: {report.total}",
        f"- macro-F1 over the nine categories other than dialogue: **{report.macro_f1:.3f}** "
        f"(over all {len(report.per_category)} present: {report.macro_f1_all:.3f})",
        f"- out-of-scope recall **{report.out_of_scope_recall:.3f}**, precision **{report.out_of_scope_precision:.3f}** "
        "(fallbacks count as out of scope)",
        f"- expected calibration error (10 bins): **{report.ece:.3f}**; wrong with confidence > {CONFIDENT}: "
        f"**{report.confident_errors}** ({report.confident_error_share:.1%} of the set); fallback share {report.fallback_share:.1%}",
        f"- category accuracy: {report.accuracy:.3f}; intent accuracy: {intent}",
        f"- parse latency in-process: p50 {report.parse_p50_ms:.1f} ms, p95 {report.parse_p95_ms:.1f} ms",
        "",
        "| category | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {c} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.support} |"
        for c, s in report.per_category.items()
    ]
    lines += [
        "",
        "### Reliability (classifier's top category before the fallback)",
        "",
        "| confidence | n | mean confidence | accuracy | gap |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {b.low:.1f}–{b.high:.1f} | {b.count} | {b.confidence:.3f} | {b.accuracy:.3f} | "
        f"{b.confidence - b.accuracy:+.3f} |"
        for b in report.reliability
        if b.count
    ]
    labels = list(report.per_category)
    lines += [
        "",
        "### Confusion matrix (rows: true, columns: predicted)",
        "",
        "| true \\ predicted | " + " | ".join(labels) + " |",
        "|---" * (len(labels) + 1) + "|",
    ]
    lines += [f"| {t} | " + " | ".join(str(report.confusion[t].get(p, 0)) for p in labels) + " |" for t in labels]
    lines += ["", "### Misclassified", "", "| text | expected | predicted | confidence |", "|---|---|---|---|"]
    lines += [f"| {_cell(e['text'])} | {e['expected']} | {e['predicted']} | {e['confidence']} |" for e in report.errors]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "｜")


def render_all(reports: list[Report]) -> str:
    return "\n".join(
        [
            "# Held-out NLU evaluation (by category)",
            "",
            *render_summary(reports),
            "",
            *(render_markdown(r) for r in reports),
        ]
    )


def as_json(report: Report) -> dict[str, Any]:
    return {**asdict(report), "confident_error_share": round(report.confident_error_share, 4)}


def write_report(reports: list[Report] | Report, folder: Path) -> Path:
    reports = [reports] if isinstance(reports, Report) else reports
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "eval.json").write_text(
        json.dumps([as_json(r) for r in reports], ensure_ascii=False, indent=2), encoding="utf-8"
    )
    md = folder / "eval.md"
    md.write_text(render_all(reports), encoding="utf-8")
    return md
