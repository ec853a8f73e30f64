"""Triage from the command line, as hotline staff and scripts use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_single_text_prints_category_intent_confidence_entities(model_path):
    result = run_cli("triage", "我們公司被美國關稅影響訂單掉了一半 台中工廠20個人")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "category:   us_tariff" in out
    assert "intent:     us_tariff_ask" in out
    assert "entity:     county = 臺中市" in out and "entity:     employees = 20" in out


def test_jsonl_answers_every_line_in_order_and_reports_bad_lines(model_path):
    lines = [
        json.dumps({"id": 1, "text": "青創貸款最多可以借多少"}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "x", "text": ""}),
        json.dumps([1, 2]),
        json.dumps({"id": 5, "text": "SBIR第一階段補助多少"}, ensure_ascii=False),
        "",
        json.dumps({"id": 7, "text": "今天天氣好嗎"}, ensure_ascii=False),
    ]
    result = run_cli("triage", "--jsonl", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o.get("id") for o in out] == [1, None, "x", None, 5, 7]
    assert out[0]["category"] == "loan" and out[0]["schemes"] == ["youth_startup_loan"]
    assert set(out[0]) == {"id", "text", "category", "intent", "confidence", "entities", "schemes"}
    assert "invalid JSON" in out[1]["error"] and out[1]["line"] == 2
    assert "non-empty" in out[2]["error"]
    assert "JSON object" in out[3]["error"]
    assert out[4]["category"] == "digital_rd" and out[4]["schemes"] == ["sbir"]
    assert out[5]["category"] == "out_of_scope"


def test_triage_needs_text_or_jsonl():
    result = run_cli("triage")
    assert result.returncode == 2
    assert "give a TEXT or --jsonl" in result.stderr
