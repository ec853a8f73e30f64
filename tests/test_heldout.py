"""Regression floor on the held-out set (reports/eval.md has the full figures)."""

from __future__ import annotations

from pathlib import Path

from bot.evaluation import evaluate_parser, load_examples

ROOT = Path(__file__).resolve().parent.parent
# Floors sit a little under the figures we reach (see reports/eval.md and the README),
# so a change that makes understanding clearly worse fails here.
MACRO_F1_FLOOR = 0.90
OUT_OF_SCOPE_RECALL_FLOOR = 0.85


def test_heldout_is_not_in_the_training_data():
    training = {e.text for e in load_examples(ROOT / "data" / "nlu")}
    heldout = {e.text for e in load_examples(ROOT / "tests" / "heldout")}
    assert not training & heldout


def test_heldout_has_at_least_25_examples_per_hotline_category():
    from collections import Counter

    counts = Counter(e.category for e in load_examples(ROOT / "tests" / "heldout"))
    for category in ("loan", "us_tariff", "policy", "debt_negotiation", "digital_rd", "disaster",
                     "out_of_scope", "handoff", "chitchat", "dialogue"):
        assert counts[category] >= 25, category


def test_heldout_scores_stay_above_the_floor(parser, tmp_path):
    report = evaluate_parser(parser, load_examples(ROOT / "tests" / "heldout"))
    assert report.macro_f1 >= MACRO_F1_FLOOR, report.per_category
    assert report.out_of_scope_recall >= OUT_OF_SCOPE_RECALL_FLOOR, report.errors
