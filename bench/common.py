"""Shared by the cross-validation and benchmark scripts: folds, training, scoring."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bot.nlu.evaluation import Example, Report, evaluate_parser
from bot.nlu.parser import RasaParser

ROOT = Path(__file__).resolve().parent.parent
RASA = Path(sys.executable).with_name("rasa")


def write_nlu(examples: list[Example], path: Path) -> Path:
    """Write examples as Rasa NLU YAML (block scalars keep any punctuation safe)."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for example in examples:
        by_intent[example.intent].append(example.text)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in sorted(by_intent.items()):
        lines += [f"  - intent: {intent}", "    examples: |"]
        lines += [f"      - {' '.join(text.split())}" for text in texts]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def folds(examples: list[Example], k: int, seed: int = 7) -> list[tuple[list[Example], list[Example]]]:
    """Stratified k folds: each intent's examples are dealt round-robin after a seeded shuffle."""
    by_intent: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_intent[example.intent].append(example)
    assignment: list[list[Example]] = [[] for _ in range(k)]
    rng = random.Random(seed)
    for intent in sorted(by_intent):
        items = by_intent[intent][:]
        rng.shuffle(items)
        for index, example in enumerate(items):
            assignment[index % k].append(example)
    return [([e for j, part in enumerate(assignment) if j != i for e in part], assignment[i]) for i in range(k)]


def train_nlu(config: Path, data: Path, out: Path, name: str) -> tuple[Path, float]:
    """Train an NLU-only model with the Rasa CLI; returns (model, seconds).

    Each run gets an empty training cache: Rasa otherwise reuses components trained
    earlier (by `make train`), and the time would measure the cache, not training.
    """
    out.mkdir(parents=True, exist_ok=True)
    cache = tempfile.mkdtemp(prefix="rasa-cache-")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "RASA_TELEMETRY_ENABLED": "false",
        "RASA_CACHE_DIRECTORY": cache,
    }
    started = time.perf_counter()
    subprocess.run(
        [
            str(RASA),
            "train",
            "nlu",
            "--nlu",
            str(data),
            "--config",
            str(config),
            "--out",
            str(out),
            "--fixed-model-name",
            name,
            "--quiet",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    shutil.rmtree(cache, ignore_errors=True)
    return out / f"{name}.tar.gz", seconds


def score(model: Path, examples: list[Example]) -> Report:
    parser = RasaParser(model)
    try:
        return evaluate_parser(parser, examples)
    finally:
        parser.close()
