"""The project's parts agree: intents, categories, actions, responses, bubbles."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from bot.categories import CATEGORY_INFO, INTENT_CATEGORY, TOPIC_INTENT, Category

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
BUBBLE_MAX = 300


def training_intents(folder: Path) -> set[str]:
    intents = set()
    for path in folder.rglob("*.yml"):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" in block:
                intents.add(block["intent"])
    return intents


def test_every_domain_intent_has_exactly_one_category():
    assert set(DOMAIN["intents"]) == set(INTENT_CATEGORY)


def test_every_training_and_heldout_intent_is_in_the_domain():
    assert training_intents(ROOT / "data") == set(DOMAIN["intents"])
    assert training_intents(ROOT / "tests" / "heldout") == set(DOMAIN["intents"])


def test_every_category_has_display_text_and_topics_have_a_button_intent():
    assert set(CATEGORY_INFO) == set(Category)
    for category, intent in TOPIC_INTENT.items():
        assert INTENT_CATEGORY[intent] is category


def action_classes() -> dict[str, str]:
    names = {}
    for path in (ROOT / "actions").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name == "name":
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Constant):
                        names[ret.value.value] = path.name
    return names


def test_every_domain_action_has_a_class():
    assert set(DOMAIN["actions"]) <= set(action_classes())


def uttered_responses() -> set[str]:
    used = set()
    for path in list((ROOT / "data").rglob("*.yml")) + list((ROOT / "tests" / "stories").rglob("*.yml")):
        used |= set(re.findall(r"action:\s*(utter_\w+)", path.read_text(encoding="utf-8")))
    for path in (ROOT / "actions").glob("*.py"):
        used |= set(re.findall(r"response=\"(utter_\w+)\"", path.read_text(encoding="utf-8")))
    return used


def test_every_uttered_response_exists():
    assert uttered_responses() <= set(DOMAIN["responses"])


def test_every_bubble_fits_line_and_uses_full_width_punctuation():
    for name, variants in DOMAIN["responses"].items():
        for variant in variants:
            text = variant["text"]
            assert len(text) <= BUBBLE_MAX, name
            # ASCII , ? ! ; next to Chinese text is half-width punctuation in zh-TW copy
            assert not re.search(r"[\u4e00-\u9fff][,?!;:]|[,?!;:][\u4e00-\u9fff]", text), name
            for button in variant.get("buttons", []):
                assert len(button["title"]) <= 20, name
