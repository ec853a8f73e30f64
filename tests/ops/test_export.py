"""Intent corrections on seeded conversations, exported as NLU YAML that Rasa accepts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.ops.export import build_export, example_texts, markup
from bot.ops.review import BadCorrection, Correction, UnknownConversation
from tests.conftest import ROOT

RASA = Path(sys.executable).with_name("rasa")


def find_turn(review, sender_ids, check):  # type: ignore[no-untyped-def]
    for sender in sender_ids:
        for turn in review.conversation(sender).turns:
            if check(turn):
                return turn
    raise AssertionError("the seed has no such message")


@pytest.fixture(scope="module")
def corrected(ops_copy, seeded_ops):  # type: ignore[no-untyped-def]
    """Staff corrections of the kinds the review page makes, on real seeded turns."""
    review, senders = ops_copy.review, seeded_ops.summary["senders"]
    training = example_texts(ROOT / "data" / "nlu")
    heldout = example_texts(ROOT / "tests" / "heldout")
    follow_ups = ("要準備哪些文件", "那額度是多少", "要去哪裡申請")
    # A vague opener of the seed (bot/ops/seed.py UNCLEAR), typed by the caller; whether it falls back depends on
    # the model, so any typed turn outside the training and held-out data will do.
    unclear = find_turn(
        review,
        senders,
        lambda t: (
            not t["form_answer"]
            and not t["text"].startswith("/")
            and t["text"] not in training | heldout
            and t["text"] not in follow_ups
        ),
    )
    follow_up = find_turn(review, senders, lambda t: t["text"] in follow_ups)
    from_heldout = find_turn(review, senders, lambda t: t["text"] in heldout and not t["form_answer"])
    review.correct(unclear["event_id"], "dialogue_followup", [], "lin")
    attribute = "額度" if "額度" in follow_up["text"] else ("文件" if "文件" in follow_up["text"] else "申請")
    review.correct(
        follow_up["event_id"],
        "dialogue_followup",
        [{"entity": "attribute", "text": attribute, "value": "max_amount" if attribute == "額度" else None}],
        "lin",
    )
    review.correct(
        from_heldout["event_id"],
        from_heldout["intent"] if from_heldout["intent"] != "nlu_fallback" else "loan_ask",
        [],
        "lin",
    )
    return {"unclear": unclear, "follow_up": follow_up, "heldout": from_heldout, "attribute": attribute}


def test_export_holds_the_corrections_and_skips_held_out_texts(ops_copy, corrected):
    export = build_export(ops_copy.review.corrections())
    data = yaml.safe_load(export.yaml)
    assert data["version"] == "3.1"
    examples = {item["intent"]: item["examples"] for item in data["nlu"]}
    assert corrected["unclear"]["text"] in examples["dialogue_followup"]
    assert f"[{corrected['attribute']}]" in examples["dialogue_followup"]  # the entity in Rasa's markup
    assert corrected["heldout"]["text"] not in export.yaml
    assert any("保留測試集" in reason for text, reason in export.skipped if text == corrected["heldout"]["text"])


def test_a_new_correction_of_the_same_message_replaces_the_old(ops_copy, corrected):
    review, event_id = ops_copy.review, corrected["unclear"]["event_id"]
    review.correct(event_id, "chitchat_capabilities", [], "chen")
    assert [c.intent for c in review.corrections() if c.event_id == event_id] == ["chitchat_capabilities"]
    review.correct(event_id, "dialogue_followup", [], "lin")


@pytest.mark.parametrize(
    ("intent", "entities", "reason"),
    [
        ("weather_ask", [], "意圖"),
        ("loan_ask", [{"entity": "scheme", "text": "不在句子裡的字"}], "不在這句話裡"),
        ("loan_ask", [{"entity": "favourite_colour", "text": "要"}], "實體類型"),
    ],
)
def test_bad_corrections_are_refused_with_a_reason(ops_copy, corrected, intent, entities, reason):
    with pytest.raises(BadCorrection, match=reason):
        ops_copy.review.correct(corrected["follow_up"]["event_id"], intent, entities, "lin")


def test_buttons_and_form_answers_cannot_become_training_data(ops_copy, seeded_ops):
    review, senders = ops_copy.review, seeded_ops.summary["senders"]
    button = find_turn(review, senders, lambda t: t["text"].startswith("/"))
    form = find_turn(review, senders, lambda t: t["form_answer"])
    with pytest.raises(BadCorrection, match="按鈕"):
        review.correct(button["event_id"], "loan_ask", [], "lin")
    with pytest.raises(BadCorrection, match="表單"):
        review.correct(form["event_id"], "loan_ask", [], "lin")
    with pytest.raises(UnknownConversation):
        review.correct(10**9, "loan_ask", [], "lin")


def test_rasa_data_validate_accepts_the_export_added_to_the_training_data(ops_copy, corrected, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_OPS_DB_URL": ops_copy.url}
    out = tmp_path / "project" / "data" / "nlu" / "ops_corrections.yml"
    shutil.copytree(ROOT / "data", tmp_path / "project" / "data")
    for name in ("domain.yml", "config.yml"):
        shutil.copy(ROOT / name, tmp_path / "project" / name)
    (tmp_path / "project" / "var").symlink_to(ROOT / "var")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ops", "export-nlu", "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 2 examples" in done.stderr and "skipped" in done.stderr
    validate = [
        str(RASA),
        "data",
        "validate",
        "--data",
        "data",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--fail-on-warnings",
    ]
    checked = subprocess.run(
        validate,
        capture_output=True,
        text=True,
        cwd=tmp_path / "project",
        timeout=300,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
    )
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    # The same check fails on a file Rasa cannot train on (so passing means something).
    out.write_text(out.read_text(encoding="utf-8").replace("dialogue_followup", "weather_ask"), encoding="utf-8")
    broken = subprocess.run(
        validate,
        capture_output=True,
        text=True,
        cwd=tmp_path / "project",
        timeout=300,
        env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
    )
    assert broken.returncode != 0


def correction(text: str, intent: str, entities=None, event_id: int = 1) -> Correction:  # type: ignore[no-untyped-def]
    return Correction(event_id, "s", event_id, text, intent, entities or [], "lin", 0.0)


def test_export_keeps_user_brackets_as_text_and_drops_conflicts():
    export = build_export(
        [
            correction("請問[青創](scheme)那個{表}怎麼填", "loan_ask", event_id=1),
            correction("想問 補助\n細節", "policy_ask", event_id=2),
            correction("同一句", "loan_ask", event_id=3),
            correction("同一句", "policy_ask", event_id=4),
            correction("/loan_ask", "loan_ask", event_id=5),
            correction("   ", "loan_ask", event_id=6),
        ],
        intents=["loan_ask", "policy_ask"],
        training=set(),
        heldout=set(),
    )
    assert "- 請問［青創］(scheme)那個｛表｝怎麼填" in export.yaml  # not read as entity markup
    assert "- 想問 補助 細節" in export.yaml  # one line per example
    assert "同一句" not in export.yaml and any("不同意圖" in r for _, r in export.skipped)
    assert len(export.included) == 2 and len(export.skipped) == 3


def test_entity_markup_uses_the_canonical_value_when_it_differs():
    text = "青創貸款利率多少"
    entities = [
        {"entity": "scheme", "text": "青創貸款", "start": 0, "end": 4, "value": "youth_startup_loan"},
        {"entity": "attribute", "text": "利率", "start": 4, "end": 6, "value": "利率"},
    ]
    assert (
        markup(text, entities) == '[青創貸款]{"entity": "scheme", "value": "youth_startup_loan"}[利率](attribute)多少'
    )
