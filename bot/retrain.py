"""Close the loop: corrections → candidate model → scored against the live one → promoted only if no worse.

``make retrain`` (``python -m bot retrain``) and the /ops/retrain page run the same steps:

1. take the corrections export (bot/ops/export.py: held-out texts and texts already in
   data/nlu are left out there) and show what it adds to ``data/nlu``;
2. train a candidate on ``data/`` plus the corrections (``rasa train``, in a work folder);
3. score the candidate and the live model on every held-out NLU set (``tests/heldout/*.yml``,
   with bot/nlu/evaluation.py's scoring) and, when it is there, the QA evaluation set
   (tests/qa, played over REST against each model);
4. promote the candidate only when **no figure gets worse beyond noise** (``gate``);
5. write ``reports/retrain-<date>.md`` and, on promotion, the corrections into data/nlu
   and ``models/hotline.json`` (what is live, when it was trained);
6. on promotion, ask each running Rasa server to load the new file (Rasa 3.6's
   ``PUT /model`` with the API token, :func:`load_into_servers`): a server keeps the model
   it started with otherwise. The report says which servers load it and which need a restart.

The gate rule (also written into every report): for each figure (per-category F1 and
each overall figure of each set), the candidate may be lower than the live model by at
most the noise of that figure, what one example more or less right moves it by:
``max(0.005, 1 / support)`` (accuracy over all examples, a category's F1 over its
examples); for macro-F1 over k categories, ``max(0.005, 2 / (k · smallest support))``
(one flip changes two categories' F1). A smaller drop cannot be told from chance; a
larger one is a real loss. A figure missing from the candidate's scores counts as
worse. Gains elsewhere never buy a loss.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.clock import TAIPEI

logger = logging.getLogger(__name__)

MIN_NOISE = 0.005
LIVE_NAME = "hotline.tar.gz"
META_NAME = "hotline.json"
CORRECTIONS_FILE = "ops_corrections.yml"


class RetrainFailed(RuntimeError):
    """Training or scoring did not finish (the message says which step)."""


# --- figures and the gate ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """One score of one evaluation set; higher is better. ``support``: the examples behind it."""

    set: str
    name: str
    value: float
    support: int
    spread: float = 1.0  # how many "1/support" one flipped example can move this figure by (macro-F1: 2/k)

    @property
    def key(self) -> tuple[str, str]:
        return (self.set, self.name)

    @property
    def noise(self) -> float:
        """How much this figure moves when one example flips; a smaller drop is chance."""
        return max(MIN_NOISE, self.spread / self.support) if self.support > 0 else 1.0


def nlu_figures(set_name: str, report: Any) -> list[Figure]:
    """Figures of one held-out set from bot.nlu.evaluation's Report: F1 per category, then overall figures."""
    found = [
        Figure(set_name, f"F1 {category}", scores.f1, scores.support)
        for category, scores in report.per_category.items()
        if scores.support
    ]
    oos = report.per_category.get("out_of_scope")
    supports = [s.support for s in report.per_category.values() if s.support]
    # One flipped example moves the F1 of two categories (its true and its predicted one) by about
    # 1/support each; macro-F1 averages k of them: 2/k of the smallest category's 1/support.
    if supports:
        found.append(Figure(set_name, "macro-F1", report.macro_f1, min(supports), 2 / len(supports)))
    found += [
        Figure(set_name, "category accuracy", report.accuracy, report.total),
        Figure(set_name, "intent accuracy", report.intent_accuracy, report.total),
    ]
    if oos is not None and oos.support:
        found.append(Figure(set_name, "out-of-scope recall", report.out_of_scope_recall, oos.support))
    return found


def qa_figures(results: Iterable[Any]) -> list[Figure]:
    """Figures of the QA set (tests/qa): share right per category and overall, share without a wrong figure."""
    by_category: dict[str, list[Any]] = {}
    everything = list(results)
    for result in everything:
        by_category.setdefault(str(result.case.get("category")), []).append(result)
    found = [
        Figure("qa", f"right {category}", sum(r.right for r in items) / len(items), len(items))
        for category, items in sorted(by_category.items())
    ]
    if everything:
        found += [
            Figure("qa", "right", sum(r.right for r in everything) / len(everything), len(everything)),
            Figure(
                "qa", "no wrong figure", sum(not r.wrong_figures for r in everything) / len(everything), len(everything)
            ),
        ]
    return found


@dataclass(frozen=True, slots=True)
class Comparison:
    set: str
    name: str
    live: float
    candidate: float | None
    tolerance: float

    @property
    def worse(self) -> bool:
        return self.candidate is None or self.candidate < self.live - self.tolerance

    @property
    def change(self) -> float | None:
        return None if self.candidate is None else self.candidate - self.live


@dataclass(frozen=True, slots=True)
class Decision:
    promote: bool
    comparisons: list[Comparison]

    @property
    def worse(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.worse]


def gate(live: list[Figure], candidate: list[Figure]) -> Decision:
    """Promote only when no figure of the live model gets worse beyond its noise (module docstring)."""
    ours = {f.key: f for f in candidate}
    comparisons = []
    for figure in live:
        other = ours.get(figure.key)
        comparisons.append(
            Comparison(figure.set, figure.name, figure.value, None if other is None else other.value, figure.noise)
        )
    return Decision(bool(comparisons) and not any(c.worse for c in comparisons), comparisons)


# --- the steps --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Paths:
    """Where a run reads and writes; defaults are the repository's (tests pass temporary ones)."""

    data: Path
    config: Path
    domain: Path
    heldout: Path
    models: Path
    work: Path
    reports: Path
    qa: Path | None = None

    @classmethod
    def of_repo(cls, root: Path, models: Path, var: Path) -> Paths:
        qa = root / "tests" / "qa" / "qa.yml"
        return cls(
            root / "data",
            root / "config.yml",
            root / "domain.yml",
            root / "tests" / "heldout",
            models,
            var / "retrain",
            root / "reports",
            qa if qa.exists() else None,
        )

    @property
    def live(self) -> Path:
        return self.models / LIVE_NAME


@dataclass
class Outcome:
    started: dt.datetime
    added: dict[str, list[str]]
    skipped: list[tuple[str, str]]
    decision: Decision | None = None
    candidate: Path | None = None
    promoted: bool = False
    report: Path | None = None
    notes: list[str] = field(default_factory=list)


def corrections_diff(yaml_text: str, training: Path) -> dict[str, list[str]]:
    """Intent → example texts the corrections add that ``training`` (data/nlu) does not hold yet."""
    import yaml

    from bot.ops.export import MARKUP, example_texts, plain

    known = example_texts(training)
    added: dict[str, list[str]] = {}
    for item in (yaml.safe_load(yaml_text) or {}).get("nlu") or []:
        for line in str(item.get("examples") or "").splitlines():
            text = line.strip()[2:] if line.strip().startswith("- ") else ""
            if text and plain(MARKUP.sub(r"\1", text)) not in known:
                added.setdefault(str(item.get("intent")), []).append(text)
    return added


def prepare_data(paths: Paths, yaml_text: str, folder: Path) -> Path:
    """A copy of data/ with the corrections beside the other NLU files; returns the copy."""
    target = folder / "data"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(paths.data, target)
    (target / "nlu").mkdir(exist_ok=True)
    (target / "nlu" / f"candidate_{CORRECTIONS_FILE}").write_text(yaml_text, encoding="utf-8")
    return target


def train_candidate(data: Path, config: Path, domain: Path, out: Path) -> Path:
    """``rasa train`` of the candidate into ``out`` (a few minutes on 2 cores; niced)."""
    out.mkdir(parents=True, exist_ok=True)
    rasa = Path(sys.executable).with_name("rasa")
    command = [
        "nice",
        "-n",
        "10",
        str(rasa),
        "train",
        "--data",
        str(data),
        "--config",
        str(config),
        "--domain",
        str(domain),
        "--out",
        str(out),
        "--fixed-model-name",
        "candidate",
        "--quiet",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    )
    model = out / "candidate.tar.gz"
    if done.returncode != 0 or not model.exists():
        raise RetrainFailed(f"training the candidate failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return model


def score_nlu(model: Path, heldout: Path) -> list[Figure]:
    """Every held-out set (``heldout/*.yml``) scored by bot.nlu.evaluation, one model loaded once."""
    from bot.nlu.evaluation import evaluate_parser, load_examples
    from bot.nlu.parser import RasaParser

    parser = RasaParser(model)
    try:
        return [
            figure
            for path in sorted(heldout.glob("*.yml"))
            for figure in nlu_figures(path.name, evaluate_parser(parser, load_examples(path)))
        ]
    finally:
        parser.close()


def score_qa(model: Path, qa_set: Path, root: Path) -> list[Figure]:
    """The QA set (tests/qa, the answers helper's runner) played over REST against ``model``.

    The runner starts the bot of a checkout with that checkout's models/hotline.tar.gz,
    so the model is served from a temporary checkout of links to this one.
    """
    import tempfile

    sys.path.insert(0, str(root))
    from tests.qa import runner

    # The runner turns the REST rate limits off for the servers it starts (tests/qa/runner.py).
    with tempfile.TemporaryDirectory(prefix="retrain-qa-") as folder:
        checkout = Path(folder)
        for entry in root.iterdir():
            if entry.name not in {"models", ".git"}:  # var/ too: the model reads var/nlu/spacy_zh from the cwd
                (checkout / entry.name).symlink_to(entry)
        (checkout / "models").mkdir()
        (checkout / "models" / LIVE_NAME).symlink_to(model.resolve())
        return qa_figures(runner.run(checkout, runner.load_cases(qa_set)))


Scorer = Callable[[Path], list[Figure]]
Trainer = Callable[[Path, Path, Path, Path], Path]
Reloader = Callable[[Path], list[str]]
# Loading a model takes a Rasa server tens of seconds on 2 cores (it answers nothing meanwhile).
LOAD_TIMEOUT = 600.0


def load_into_servers(
    model: Path, servers: Iterable[str], token: str | None, timeout: float = LOAD_TIMEOUT
) -> list[str]:
    """Have each Rasa server at ``servers`` serve ``model`` now; one report note per server.

    Rasa 3.6's HTTP API (``--enable-api``, token) loads a model file with ``PUT /model
    {"model_file": path}``: a new agent on the same endpoints (tracker store, lock store,
    action server), so conversations go on. The path must be one the server can read (the
    same machine or volume). A server that does not answer is not running (it loads the
    live file when it starts); one that refuses keeps its old model until restarted.
    """
    import httpx

    notes = []
    for url in (u.rstrip("/") for u in servers):
        try:
            reply = httpx.put(
                f"{url}/model",
                params={"token": token or ""},
                json={"model_file": str(model.resolve())},
                timeout=timeout,
            )
            status = (
                httpx.get(f"{url}/status", params={"token": token or ""}, timeout=30).json()
                if reply.status_code == 204
                else {}
            )
        except httpx.ConnectError:
            notes.append(f"No Rasa server answered at {url}: it serves the new model when it is next started.")
            continue
        except httpx.HTTPError as exc:
            notes.append(f"Rasa at {url} did not confirm loading the new model ({type(exc).__name__}): restart it.")
            continue
        if reply.status_code == 204:
            notes.append(
                f"Rasa at {url} now serves the new model (PUT /model; model {status.get('model_id')}, "
                f"{status.get('model_file')}): no restart needed."
            )
        else:
            notes.append(
                f"Rasa at {url} refused to load the new model (HTTP {reply.status_code}): restart it "
                "to serve the new model."
            )
    return notes


def retrain(
    paths: Paths,
    yaml_text: str,
    skipped: list[tuple[str, str]],
    scorer: Scorer,
    trainer: Trainer = train_candidate,
    now: Callable[[], dt.datetime] | None = None,
    promote_into: Path | None = None,
    notes: list[str] | None = None,
    reload: Reloader | None = None,
) -> Outcome:
    """One run: diff, train, score both, gate, promote or refuse, report (see the module docstring).

    ``promote_into`` is the data/nlu folder that receives the corrections on promotion
    (the repository's by default: the next ``make train`` then keeps them). ``notes`` go
    into the report, including any the scorer adds while it runs (the same list).
    ``reload`` loads a promoted model into the running servers and returns report notes
    (:func:`load_into_servers`); without it the report says to restart them.
    """
    started = (now or (lambda: dt.datetime.now(TAIPEI)))()
    outcome = Outcome(
        started, corrections_diff(yaml_text, paths.data / "nlu"), skipped, notes=notes if notes is not None else []
    )
    folder = paths.work / started.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    if not outcome.added:
        outcome.notes.append(
            "The corrections add nothing data/nlu lacks: nothing trained (不訓練), the live model stays."
        )
    elif not paths.live.exists():
        outcome.notes.append(
            f"No live model at {paths.live} (run make train first): nothing to compare, nothing promoted."
        )
    else:
        data = prepare_data(paths, yaml_text, folder)
        outcome.candidate = trainer(data, paths.config, paths.domain, folder)
        live, candidate = scorer(paths.live), scorer(outcome.candidate)
        outcome.decision = gate(live, candidate)
        if outcome.decision.promote:
            promote(paths, outcome.candidate, yaml_text, started, promote_into or paths.data / "nlu")
            outcome.promoted = True
            outcome.notes.extend(
                reload(paths.live)
                if reload is not None
                else ["No running server was asked to load it: restart the bot to serve the new model."]
            )
    outcome.report = write_report(paths.reports, outcome)
    return outcome


def promote(paths: Paths, candidate: Path, yaml_text: str, at: dt.datetime, nlu: Path) -> None:
    """Keep the live model as models/previous/, put the candidate in its place, record it, keep the data."""
    previous = paths.models / "previous"
    previous.mkdir(parents=True, exist_ok=True)
    if paths.live.exists():
        shutil.copy2(paths.live, previous / f"hotline-{at.strftime('%Y%m%d-%H%M%S')}.tar.gz")
    temporary = paths.models / (LIVE_NAME + ".new")
    shutil.copy2(candidate, temporary)
    os.replace(temporary, paths.live)  # atomic: a server starting now loads one model or the other
    name = f"ops_corrections_{at.strftime('%Y%m%d_%H%M%S')}.yml"
    nlu.mkdir(parents=True, exist_ok=True)
    (nlu / name).write_text(yaml_text, encoding="utf-8")
    (paths.models / META_NAME).write_text(
        json.dumps(
            {
                "model": LIVE_NAME,
                "trained_at": dt.datetime.fromtimestamp(candidate.stat().st_mtime, TAIPEI).isoformat(
                    timespec="seconds"
                ),
                "promoted_at": dt.datetime.now(TAIPEI).isoformat(timespec="seconds"),
                "via": "retrain",
                "training_data": f"data/nlu/{name}",
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )


def live_model(models: Path) -> dict[str, str] | None:
    """What is live: the model file, when it was trained (Taipei), and how it got there."""
    path = models / LIVE_NAME
    if not path.exists():
        return None
    meta_path = models / META_NAME
    meta: dict[str, str] = {}
    if meta_path.exists() and meta_path.stat().st_mtime >= path.stat().st_mtime - 5:
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError:
            meta = {}
    trained = meta.get("trained_at") or dt.datetime.fromtimestamp(path.stat().st_mtime, TAIPEI).isoformat(
        timespec="seconds"
    )
    return {
        "model": LIVE_NAME,
        "trained_at": trained[:16].replace("T", " "),
        "via": "修正後重訓（make retrain）" if meta.get("via") == "retrain" else "make train",
    }


# --- the report --------------------------------------------------------------------------

RULE = (
    "A figure (per-category F1 or an overall figure of a set) is worse when the candidate is below the "
    "live model by more than its noise, what one example flipping moves it by: max(0.005, 1/support) for "
    "accuracy, recall and a category's F1; max(0.005, 2/(k x smallest support)) for macro-F1 over k "
    "categories (one flip changes two categories' F1). The candidate is promoted only when no figure is "
    "worse; a figure the candidate lacks counts as worse; gains elsewhere never buy a loss."
)


def render_report(outcome: Outcome) -> str:
    started = outcome.started.strftime("%Y-%m-%d %H:%M")
    verdict = (
        "PROMOTED: the candidate is now models/hotline.tar.gz"
        if outcome.promoted
        else "REFUSED: the live model stays"
        if outcome.decision is not None
        else "NOT RUN"
    )
    lines = [f"# Retrain {started} (Asia/Taipei)", "", f"**{verdict}**", ""]
    lines += [f"- {note}" for note in outcome.notes]
    lines += ["", "## Gate rule", "", RULE, "", "## What the corrections add to data/nlu", ""]
    if outcome.added:
        lines += ["| intent | example |", "|---|---|"]
        lines += [f"| {intent} | {text} |" for intent, texts in sorted(outcome.added.items()) for text in texts]
    else:
        lines.append("(nothing new)")
    if outcome.skipped:
        lines += ["", "Left out of the export:", ""] + [f"- {text} — {reason}" for text, reason in outcome.skipped]
    if outcome.decision is not None:
        lines += [
            "",
            "## Scores: live vs candidate",
            "",
            "| set | figure | live | candidate | change | noise | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in outcome.decision.comparisons:
            candidate = "—" if c.candidate is None else f"{c.candidate:.3f}"
            change = "—" if c.change is None else f"{c.change:+.3f}"
            lines.append(
                f"| {c.set} | {c.name} | {c.live:.3f} | {candidate} | {change} | {c.tolerance:.3f} | "
                f"{'**worse**' if c.worse else 'ok'} |"
            )
        if outcome.decision.worse:
            lines += ["", "Worse beyond noise: " + "; ".join(f"{c.set} {c.name}" for c in outcome.decision.worse)]
    return "\n".join(lines) + "\n"


def write_report(folder: Path, outcome: Outcome) -> Path:
    """reports/retrain-<date>.md (a second run on the same day gets -2, -3...), plus the same as JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"retrain-{outcome.started.date().isoformat()}"
    path, number = folder / f"{stem}.md", 1
    while path.exists():
        number += 1
        path = folder / f"{stem}-{number}.md"
    path.write_text(render_report(outcome), encoding="utf-8")
    summary = {
        "started": outcome.started.isoformat(),
        "promoted": outcome.promoted,
        "added": outcome.added,
        "worse": [asdict(c) for c in outcome.decision.worse] if outcome.decision else None,
    }
    path.with_suffix(".json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def reports(folder: Path) -> list[dict[str, Any]]:
    """Earlier runs, newest first, for the /ops/retrain page."""
    found = []
    for path in sorted(folder.glob("retrain-*.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        found.append({**summary, "report": path.with_suffix(".md").name})
    return found
