"""The retrain loop (bot/retrain.py): the gate refuses a worse candidate, promotes an equal one, reports both.

The gate is the real one over bot/nlu/evaluation.py's reports. The end-to-end run scores
real models on a small held-out file; "training" there copies the live model (an
equal candidate) or is given precomputed worse scores, so the test stays small.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pytest

from bot import retrain
from bot.clock import TAIPEI
from bot.nlu.evaluation import build_report
from tests.conftest import ROOT

CORRECTIONS = 'version: "3.1"\nnlu:\n- intent: loan_ask\n  examples: |\n    - 麵包店想週轉一下利息大概多少\n'


def figures(pairs: list[tuple[str, str]], name: str = "heldout.yml") -> list[retrain.Figure]:
    return retrain.nlu_figures(name, build_report(pairs, sum(t == p for t, p in pairs), []))


def evaluation(loan_right: int, tariff_right: int = 20) -> list[tuple[str, str]]:
    """20 loan and 20 tariff questions, of which these many are classified right (the rest as out of scope)."""
    return (
        [("loan", "loan")] * loan_right
        + [("loan", "out_of_scope")] * (20 - loan_right)
        + [("us_tariff", "us_tariff")] * tariff_right
        + [("us_tariff", "out_of_scope")] * (20 - tariff_right)
        + [("out_of_scope", "out_of_scope")] * 10
    )


def test_gate_refuses_a_candidate_worse_beyond_noise_in_one_category():
    decision = retrain.gate(figures(evaluation(18)), figures(evaluation(15, tariff_right=20)))
    assert not decision.promote
    assert {c.name for c in decision.worse} >= {"F1 loan"}


def test_gate_refuses_a_loss_even_when_another_category_gains():
    decision = retrain.gate(figures(evaluation(18, tariff_right=15)), figures(evaluation(14, tariff_right=20)))
    assert not decision.promote and "F1 loan" in {c.name for c in decision.worse}


def test_gate_promotes_an_equal_or_better_candidate_and_one_flip_is_noise():
    live = figures(evaluation(18))
    assert retrain.gate(live, live).promote
    assert retrain.gate(live, figures(evaluation(20))).promote
    assert retrain.gate(live, figures(evaluation(17))).promote  # one of 20 loan questions: within 1/20


def test_gate_refuses_when_the_candidate_lacks_a_figure_or_a_set():
    live = figures(evaluation(18)) + figures(evaluation(18), "heldout_external.yml")
    decision = retrain.gate(live, figures(evaluation(18)))
    assert not decision.promote and all(c.set == "heldout_external.yml" for c in decision.worse)


@pytest.fixture
def paths(tmp_path, model_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy2(model_path, models / "hotline.tar.gz")
    heldout = tmp_path / "heldout"
    heldout.mkdir()
    (heldout / "small.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: loan_ask\n  examples: |\n    - 我想申請青創貸款\n    - 30人以下的優惠貸款額度多少\n'
        "- intent: us_tariff_ask\n  examples: |\n    - 美國關稅對我們出口有什麼補助\n"
        "- intent: out_of_scope\n  examples: |\n    - 推薦一部好看的電影\n",
        encoding="utf-8",
    )
    return retrain.Paths(
        ROOT / "data",
        ROOT / "config.yml",
        ROOT / "domain.yml",
        heldout,
        models,
        tmp_path / "work",
        tmp_path / "reports",
    )


def copy_live(data: Path, config: Path, domain: Path, out: Path) -> Path:
    """An equal candidate: the live model itself (training is what make retrain adds, not what is tested here)."""
    assert (data / "nlu" / "candidate_ops_corrections.yml").read_text(encoding="utf-8") == CORRECTIONS
    out.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(data.parent.parent.parent / "models" / "hotline.tar.gz", out / "candidate.tar.gz"))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_run_that_scores_no_worse_promotes_and_records_the_live_model(paths, tmp_path):
    nlu = tmp_path / "nlu"
    at = dt.datetime(2026, 12, 1, 18, 0, tzinfo=TAIPEI)
    outcome = retrain.retrain(
        paths,
        CORRECTIONS,
        [],
        lambda model: retrain.score_nlu(model, paths.heldout),
        trainer=copy_live,
        now=lambda: at,
        promote_into=nlu,
    )
    assert outcome.added == {"loan_ask": ["麵包店想週轉一下利息大概多少"]}
    assert outcome.decision is not None and outcome.decision.promote and outcome.promoted
    assert any(c.name == "F1 loan" for c in outcome.decision.comparisons)  # real scores of both models
    text = outcome.report.read_text(encoding="utf-8")
    assert (
        outcome.report.name == "retrain-2026-12-01.md"
        and "**PROMOTED" in text
        and "max(0.005, 1/support)" in text
        and "2/(k x smallest support)" in text
    )
    assert list(nlu.glob("ops_corrections_*.yml"))[0].read_text(encoding="utf-8") == CORRECTIONS
    assert list((paths.models / "previous").glob("hotline-*.tar.gz"))
    assert retrain.live_model(paths.models)["via"].startswith("修正後重訓")


def test_a_run_whose_candidate_is_worse_refuses_and_leaves_everything_as_it_was(paths, tmp_path):
    nlu = tmp_path / "nlu"
    before = digest(paths.live)
    live_scores, worse_scores = figures(evaluation(18)), figures(evaluation(12))

    def scorer(model: Path) -> list[retrain.Figure]:
        return live_scores if model == paths.live else worse_scores

    outcome = retrain.retrain(
        paths, CORRECTIONS, [("利息呢", "已在 data/nlu 訓練資料中")], scorer, trainer=copy_live, promote_into=nlu
    )
    assert not outcome.promoted and outcome.decision is not None and not outcome.decision.promote
    assert digest(paths.live) == before and not nlu.exists() and not (paths.models / "hotline.json").exists()
    text = outcome.report.read_text(encoding="utf-8")
    assert "**REFUSED" in text and "**worse**" in text and "F1 loan" in text and "利息呢" in text
    assert retrain.reports(paths.reports)[0]["promoted"] is False


def test_nothing_new_to_learn_trains_nothing(paths):
    def never(*_: object) -> Path:
        raise AssertionError("no training without new examples")

    already = (
        'version: "3.1"\nnlu:\n- intent: loan_ask\n  examples: |\n    - '
        + next(
            t
            for t in (ROOT / "data" / "nlu" / "loan.yml").read_text(encoding="utf-8").splitlines()
            if t.startswith("    - ") and "[" not in t
        ).strip()[2:]
        + "\n"
    )
    outcome = retrain.retrain(paths, already, [], lambda m: [], trainer=never)
    assert outcome.decision is None and not outcome.promoted and "不訓練" in outcome.report.read_text(encoding="utf-8")


def test_the_qa_set_is_played_against_the_model_given(model_path, tmp_path):
    """The QA runner (tests/qa) serves the model under test from a checkout of links; 40 cases keep it small."""
    import yaml

    cases = yaml.safe_load((ROOT / "tests" / "qa" / "qa.yml").read_text(encoding="utf-8"))["cases"]
    # A slice of the set; the full set from one address ran into the REST rate limit, which the scorer turns off.
    small = tmp_path / "qa.yml"
    small.write_text(yaml.safe_dump({"cases": cases[:40]}, allow_unicode=True), encoding="utf-8")
    found = {f.name: f for f in retrain.score_qa(model_path, small, ROOT)}
    assert found["right"].support == 40
    assert found["right"].value > 0  # the bot answered: a broken copy of the checkout would score 0


def test_a_promoted_model_is_loaded_into_the_running_server_without_a_restart(paths, model_path, tmp_path):
    """Rasa 3.6's PUT /model: the running server serves the promoted file; a server that is not up is told apart."""
    import httpx

    from bot import supervisor
    from tests.conftest import TODAY, start_stack

    started_with = tmp_path / "started" / "started-with.tar.gz"
    started_with.parent.mkdir()
    started_with.symlink_to(model_path)
    folder = tmp_path / "stack"
    folder.mkdir()
    stack, processes = start_stack(started_with, folder, TODAY)
    try:

        def status() -> dict:
            return httpx.get(f"{stack.rasa_url}/status", params={"token": stack.token}, timeout=30).json()

        assert status()["model_file"] == "started-with.tar.gz"
        equal = figures(evaluation(18))
        nobody = f"http://127.0.0.1:{supervisor.free_port()}"
        outcome = retrain.retrain(
            paths,
            CORRECTIONS,
            [],
            lambda model: equal,
            trainer=copy_live,
            promote_into=tmp_path / "nlu",
            reload=lambda model: retrain.load_into_servers(model, [stack.rasa_url, nobody], stack.token),
        )
        assert outcome.promoted
        assert status()["model_file"] == "hotline.tar.gz"  # the promoted file, with no restart
        text = outcome.report.read_text(encoding="utf-8")
        assert (
            f"Rasa at {stack.rasa_url} now serves the new model" in text
            and f"No Rasa server answered at {nobody}" in text
        )
        parsed = httpx.post(
            f"{stack.rasa_url}/model/parse",
            params={"token": stack.token},
            json={"text": "青創貸款利率多少"},
            timeout=60,
        ).json()
        assert parsed["intent"]["name"] == "loan_ask"  # and it answers with it
        refused = retrain.load_into_servers(paths.live, [stack.rasa_url], "wrong-token")
        assert "refused to load the new model (HTTP 401)" in refused[0] and "restart" in refused[0]
    finally:
        for process in reversed(processes):
            supervisor.stop(process)
