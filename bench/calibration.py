"""Choose the intent calibration (bot/nlu/ensemble.py) by cross-validation on data/nlu.

Usage: python -m bench.calibration [--folds 3] [--parts reports/cv_parts.json]
       [--diet epochs=30 ...] [--name SUFFIX]
       python -m bench.calibration --fit-temperature tests/heldout

``--fit-temperature`` keeps the trained model's DIET weight, clause weight and threshold and
sweeps only the temperature on a validation set written like callers write (the first
held-out set), since the folds above are heavy with deliberate hard negatives and make the
model look less sure than it is on real messages. It never reads the external set, which
stays the test of the choice (``make eval``).

Trains the pipeline of config.yml once per fold (DIET ranking every intent, the
calibration component reporting its parts), keeps each held-out fold message's
parts (DIET's distribution, the linear model's, the question clause's), then sweeps
DIET's weight, the temperature, the clause weight and the fallback threshold
offline with :func:`bot.nlu.ensemble.combine`, so one training per fold serves every
setting. Scores are by category with fallbacks counted as out of scope, as in
``make eval``. Writes reports/cv_calibration.md (and the parts, to re-sweep with
--parts without training). The held-out sets are never used here.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.common import ROOT, folds, train_nlu, write_nlu
from bot.categories import category_of
from bot.log import configure
from bot.nlu.ensemble import combine
from bot.nlu.evaluation import HEADLINE_EXCLUDED, reliability, score
from bot.privacy.masking import mask_text

COMPONENT = "bot.nlu.ensemble.CalibratedIntentClassifier"
WEIGHTS = (0.0, 0.25, 0.4, 0.5, 0.6, 0.75, 1.0)
TEMPERATURES = (0.4, 0.5, 0.6, 0.75, 0.9, 1.0, 1.25, 1.5)
CLAUSE_WEIGHTS = (0.0, 0.5)
THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55)
AMBIGUITIES = (0.0, 0.02, 0.05)


def cv_config(folder: Path, diet: dict | None = None) -> Path:
    """config.yml with DIET ranking every intent (and ``diet``'s settings, to compare a DIET
    variant) and the component reporting its parts."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    for component in config["pipeline"]:
        if component["name"] == "DIETClassifier":
            component.update(diet or {})
            component["ranking_length"] = 0
        if component["name"] == COMPONENT:
            component["report_parts"] = True
    path = folder / "cv_config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def collect(k: int, diet: dict | None = None) -> dict:
    from rasa.core.agent import Agent

    from bot.nlu.evaluation import load_examples

    examples = load_examples(ROOT / "data" / "nlu")
    rows, seconds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = cv_config(folder, diet)
        for index, (train, test) in enumerate(folds(examples, k)):
            data = write_nlu(train, folder / f"train{index}.yml")
            model, took = train_nlu(config, data, folder / "models", f"calib-{index}")
            seconds.append(took)
            agent, loop = Agent.load(str(model)), asyncio.new_event_loop()
            for example in test:
                parsed = loop.run_until_complete(agent.parse_message(example.text))
                parts = parsed.get("intent_parts")
                if parts:
                    rows.append({"text": example.text, "intent": example.intent, **parts})
            loop.close()
            print(f"fold {index}: trained in {took:.0f}s, {len(test)} messages", flush=True)
    return {"folds": k, "diet": diet or {}, "train_seconds": seconds, "rows": rows}


def evaluate(rows: list[dict], w: float, t: float, a: float, threshold: float, ambiguity: float = 0.05) -> dict:
    pairs, points, confident = [], [], 0
    for row in rows:
        p = combine(row["diet"], row["linear"], row["clause"], {"diet_weight": w, "temperature": t, "clause_weight": a})
        ranking = sorted(p.items(), key=lambda kv: -kv[1])
        truth = row.get("label") or category_of(row["intent"]).value
        by_category: dict[str, float] = {}
        for name, value in ranking:
            by_category[category_of(name).value] = by_category.get(category_of(name).value, 0.0) + value
        top = max(by_category, key=by_category.__getitem__)
        points.append((min(1.0, by_category[top]), top == truth))
        falls_back = ranking[0][1] < threshold or (len(ranking) > 1 and ranking[0][1] - ranking[1][1] < ambiguity)
        predicted = "out_of_scope" if falls_back else category_of(ranking[0][0]).value
        pairs.append((truth, predicted))
        confident += predicted != truth and not falls_back and by_category[predicted] > 0.95
    labels = sorted({t for t, _ in pairs})
    per = score(pairs, labels)
    headline = [s.f1 for c, s in per.items() if c not in HEADLINE_EXCLUDED]
    ece, _ = reliability(points)
    oos = per.get("out_of_scope")
    return {
        "w": w,
        "T": t,
        "a": a,
        "threshold": threshold,
        "ambiguity": ambiguity,
        "macro_f1": sum(headline) / len(headline),
        "ece": ece,
        "oos_recall": oos.recall if oos else 0.0,
        "oos_precision": oos.precision if oos else 0.0,
        "confident_errors": confident / len(rows),
    }


def sweep(parts: dict) -> list[dict]:
    rows = parts["rows"]
    return [
        evaluate(rows, w, t, a, th, am)
        for w, t, a, th, am in itertools.product(WEIGHTS, TEMPERATURES, CLAUSE_WEIGHTS, THRESHOLDS, AMBIGUITIES)
    ]


def choose(results: list[dict]) -> dict:
    """Lowest ECE among settings within 0.01 macro-F1 of the best with ≤ 2% confident errors."""
    best_f1 = max(r["macro_f1"] for r in results)
    ok = [r for r in results if r["macro_f1"] >= best_f1 - 0.01 and r["confident_errors"] <= 0.02] or results
    return min(ok, key=lambda r: (r["ece"], -r["macro_f1"]))


def render(parts: dict, results: list[dict], chosen: dict) -> str:
    def row(r: dict) -> str:
        return (
            f"| {r['w']:.2f} | {r['T']:.2f} | {r['a']:.2f} | {r['threshold']:.2f} / {r['ambiguity']:.2f} | {r['macro_f1']:.3f} | "
            f"{r['ece']:.3f} | {r['oos_recall']:.3f} | {r['oos_precision']:.3f} | {r['confident_errors']:.1%} |"
        )

    head = [
        "| DIET weight w | temperature T | clause weight | fallback threshold / ambiguity | macro-F1 (9) | ECE | OOS recall | "
        "OOS precision | wrong > 0.95 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    named = {
        "DIET alone (today's mechanism)": (1.0, 1.0, 0.0, 0.45, 0.05),
        "linear model alone": (0.0, 1.0, 0.0, 0.45, 0.05),
        "average, no temperature": (0.5, 1.0, 0.0, 0.45, 0.05),
    }
    lines = [
        f"# Calibration by {parts['folds']}-fold cross-validation on data/nlu",
        "",
        f"{len(parts['rows'])} messages; DIET settings changed from config.yml: {parts.get('diet') or 'none'}; "
        "training per fold: " + ", ".join(f"{s:.0f}s" for s in parts["train_seconds"]) + ".",
        "",
        "## Reference points",
        "",
        *head,
    ]
    for name, key in named.items():
        match = next(r for r in results if (r["w"], r["T"], r["a"], r["threshold"], r["ambiguity"]) == key)
        lines.append(row(match) + f" {name}")
    lines += [
        "",
        "## Chosen (lowest ECE within 0.01 macro-F1 of the best, ≤ 2% confident errors)",
        "",
        *head,
        row(chosen),
        "",
        "## Best 15 by macro-F1",
        "",
        *head,
    ]
    lines += [row(r) for r in sorted(results, key=lambda r: -r["macro_f1"])[:15]]
    return "\n".join(lines) + "\n"


def validation_rows(model: Path, path: Path) -> tuple[list[dict], dict]:
    """The calibration parts of every message of a held-out set, from the trained model."""
    from rasa.core.agent import Agent

    from bot.nlu.ensemble import CalibratedIntentClassifier
    from bot.nlu.evaluation import load_examples

    agent = Agent.load(str(model))
    nodes = agent.processor.graph_runner._instantiated_nodes.values()  # type: ignore[union-attr]
    component = next(n._component for n in nodes if isinstance(n._component, CalibratedIntentClassifier))
    component._config["report_parts"] = True
    loop, rows = asyncio.new_event_loop(), []
    for example in load_examples(path):
        parts = loop.run_until_complete(agent.parse_message(example.text)).get("intent_parts")
        if parts:  # button payloads and empty texts carry none
            rows.append({"text": example.text, "intent": example.intent, "label": example.label, **parts})
    loop.close()
    return rows, component._config


def fit_temperature(model: Path, path: Path) -> str:
    rows, config = validation_rows(model, path)
    w, a = float(config["diet_weight"]), float(config["clause_weight"])
    threshold = fallback_threshold()
    results = [evaluate(rows, w, t, a, threshold, 0.0) for t in TEMPERATURES + (0.55, 0.65, 0.7, 0.8)]
    ok = [r for r in results if r["confident_errors"] <= 0.02] or results
    chosen = min(ok, key=lambda r: (r["ece"], -r["macro_f1"]))
    lines = [
        f"# Temperature on {path} ({len(rows)} messages; w {w}, clause weight {a}, threshold {threshold})",
        "",
        "| temperature T | macro-F1 (9) | ECE | OOS recall | OOS precision | wrong > 0.95 |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: r["T"]):
        mark = " chosen (lowest ECE, ≤ 2% confident errors)" if r is chosen else ""
        lines.append(
            f"| {r['T']:.2f} | {r['macro_f1']:.3f} | {r['ece']:.3f} | {r['oos_recall']:.3f} | "
            f"{r['oos_precision']:.3f} | {r['confident_errors']:.1%} |{mark}"
        )
    return "\n".join(lines) + "\n"


def fallback_threshold() -> float:
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    return float(next(c for c in config["pipeline"] if c["name"] == "FallbackClassifier")["threshold"])


def main(argv: list[str]) -> int:
    configure(30, personal=mask_text)
    options = argparse.ArgumentParser()
    options.add_argument("--folds", type=int, default=3)
    options.add_argument("--parts", type=Path, help="Re-sweep saved parts instead of training.")
    options.add_argument(
        "--diet",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="Override one DIETClassifier setting of config.yml for this run (YAML value), e.g. epochs=30.",
    )
    options.add_argument(
        "--fit-temperature",
        type=Path,
        metavar="HELDOUT",
        help="Sweep only the temperature of models/hotline.tar.gz on this validation set; reports/temperature.md.",
    )
    options.add_argument("--name", default="", help="Suffix of the report and parts files, e.g. -epochs30.")
    args = options.parse_args(argv)
    diet = {key: yaml.safe_load(value) for key, _, value in (item.partition("=") for item in args.diet)}
    reports = ROOT / "reports"
    reports.mkdir(exist_ok=True)
    started = time.perf_counter()
    if args.fit_temperature:
        out = reports / "temperature.md"
        out.write_text(fit_temperature(ROOT / "models" / "hotline.tar.gz", args.fit_temperature), encoding="utf-8")
        print(out.read_text(encoding="utf-8"))
        return 0
    if args.parts:
        parts = json.loads(args.parts.read_text(encoding="utf-8"))
    else:
        parts = collect(args.folds, diet)
        (reports / f"cv_parts{args.name}.json").write_text(json.dumps(parts, ensure_ascii=False), encoding="utf-8")
    results = sweep(parts)
    chosen = choose(results)
    out = reports / f"cv_calibration{args.name}.md"
    out.write_text(render(parts, results, chosen), encoding="utf-8")
    print(out.read_text(encoding="utf-8"))
    print(f"took {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
