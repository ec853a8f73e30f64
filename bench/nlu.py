"""`make bench`: our pipeline against Rasa's default pipeline and TF-IDF + logistic regression.

All three train on data/nlu and are scored on the held-out set in the same run, so
the ratios compare like with like on this machine. Then our model is timed per
message in-process and per REST turn through the real servers, and the Rasa
server's resident memory is read from /proc. Writes reports/bench.md.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, score, train_nlu
from bench.ids import sender_id
from bot import supervisor
from bot.log import configure
from bot.nlu.evaluation import DEFAULT_SETS, Example, build_report, load_examples
from bot.nlu.normaliser import normalise
from bot.nlu.parser import RasaParser
from bot.privacy.masking import mask_text


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def tfidf_baseline(train: list[Example], test: list[Example]) -> tuple[float, float]:
    """TF-IDF over character 1-3-grams of normalised text + logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    started = time.perf_counter()
    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=10),
    )
    model.fit([normalise(e.text) for e in train], [e.intent for e in train])
    seconds = time.perf_counter() - started
    predicted = model.predict([normalise(e.text) for e in test])
    from bot.categories import category_of

    pairs = [(e.category, category_of(p).value) for e, p in zip(test, predicted)]
    report = build_report(pairs, sum(e.intent == p for e, p in zip(test, predicted)), [])
    return report.macro_f1, report.out_of_scope_recall, seconds


def parse_latency(model: Path, texts: list[str], rounds: int = 3) -> list[float]:
    parser = RasaParser(model)
    parser.parse("暖機")
    timings = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            parser.parse(text)
            timings.append((time.perf_counter() - started) * 1000)
    parser.close()
    return timings


def rest_turns(model: Path, batches: dict[str, list[str]], folder: Path) -> tuple[dict[str, list[float]], int]:
    """Time REST turns through the real servers, per batch; returns (ms per turn, Rasa RSS in KiB)."""
    import urllib.request

    action_port, rasa_port = supervisor.free_port(), supervisor.free_port()
    endpoints = folder / "endpoints.yml"
    endpoints.write_text(supervisor.action_endpoint(f"http://127.0.0.1:{action_port}/webhook"), encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "BOT_RATE_SENDER": "off",
        "BOT_RATE_ADDRESS": "off",
    }
    processes = []
    try:
        for service in supervisor.services(
            sys.executable, model, os.urandom(24).hex(), endpoints, rasa_port, action_port
        ):
            with (folder / f"{service.name}.log").open("wb") as log:
                processes.append(supervisor.start(service, log, env))
        url = f"http://127.0.0.1:{rasa_port}/webhooks/rest/webhook"
        timings: dict[str, list[float]] = {}
        for name, texts in batches.items():
            for text in texts:
                body = json.dumps({"sender": sender_id("bench"), "message": text}).encode()
                request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
                started = time.perf_counter()
                with urllib.request.urlopen(request, timeout=60) as reply:
                    reply.read()
                timings.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        rss = _rss_kib(processes[-1].pid)
        return timings, rss
    finally:
        for process in reversed(processes):
            supervisor.stop(process)


def knowledge_latency(texts: list[str], rounds: int = 5) -> list[float]:
    """kb.search per question on var/kb.db (connection per call, as the actions use it)."""
    import datetime as dt

    from bot.clock import FixedClock
    from bot.kb.query import KnowledgeBase

    kb = KnowledgeBase(ROOT / "var" / "kb.db", FixedClock(dt.date(2026, 11, 23)))
    kb.search("暖機")
    timings = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            kb.search(text)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> int:
    configure(30, personal=mask_text)
    train = load_examples(ROOT / "data" / "nlu")
    # Both held-out sets (bot.nlu.evaluation.DEFAULT_SETS), scored separately.
    sets = {path.parent.name if path.is_file() else path.name: load_examples(ROOT / path) for path in DEFAULT_SETS}
    test = sets["heldout"]
    rows: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, config in (
            ("ours", ROOT / "config.yml"),
            ("rasa_default", ROOT / "bench" / "configs" / "rasa_default.yml"),
        ):
            print(f"training {name} …", flush=True)
            model, seconds = train_nlu(config, ROOT / "data" / "nlu", folder / "models", name)
            for set_name, examples in sets.items():
                report = score(model, examples)
                rows[f"{name} ({set_name})"] = (report.macro_f1, report.out_of_scope_recall, seconds)
        for set_name, examples in sets.items():
            f1, oos, seconds = tfidf_baseline(train, examples)
            rows[f"tfidf_logreg ({set_name})"] = (f1, oos, seconds)
        ours = folder / "models" / "ours.tar.gz"
        texts = [e.text for e in test]
        parse_ms = parse_latency(ours, texts)
        kb_ms = knowledge_latency(texts)
        print("timing REST turns …", flush=True)
        from tests.e2e.test_knowledge import FACTS

        full_model = ROOT / "models" / "hotline.tar.gz"
        rest, rss = rest_turns(full_model, {"any": texts[:150], "fact": [q for q, _ in FACTS] * 2}, folder)
    sizes = ", ".join(f"{name} {len(examples)}" for name, examples in sets.items())
    lines = [
        "# NLU benchmark",
        "",
        f"Held-out sets (messages): {sizes}; training data: {len(train)} examples; "
        f"machine: {os.cpu_count()} cores. Ratios are against Rasa's default pipeline on the same set in the same run; "
        "macro-F1 over the nine categories other than dialogue.",
        "",
        "| pipeline (held-out set) | macro-F1 | F1 ratio | OOS recall | train s | train-time ratio |",
        "|---|---|---|---|---|---|",
    ]
    for name, (f1, oos, seconds) in rows.items():
        base_f1, _, base_s = rows[f"rasa_default ({name.split('(')[1].rstrip(')')})"]
        oos_text = "—" if oos != oos else f"{oos:.3f}"
        lines.append(
            f"| {name} | {f1:.3f} | {f1 / base_f1:.2f} | {oos_text} | {seconds:.1f} | {seconds / base_s:.2f} |"
        )
    lines += [
        "",
        "| measure (ours) | p50 | p95 |",
        "|---|---|---|",
        f"| parse latency per message, in-process (ms) | {percentile(parse_ms, 50):.1f} | {percentile(parse_ms, 95):.1f} |",
        f"| knowledge query (kb.search), in-process (ms) | {percentile(kb_ms, 50):.2f} | {percentile(kb_ms, 95):.2f} |",
        f"| REST turn, held-out messages, real servers (ms) | {percentile(rest['any'], 50):.1f} | {percentile(rest['any'], 95):.1f} |",
        f"| REST turn, fact question answered by an action (ms) | {percentile(rest['fact'], 50):.1f} | {percentile(rest['fact'], 95):.1f} |",
        "",
        f"Rasa server resident memory after the REST run: {rss / 1024:.0f} MiB",
        "",
    ]
    out = ROOT / "reports" / "bench.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    print(out.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
