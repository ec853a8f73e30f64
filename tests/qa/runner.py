"""`make eval-qa`: play tests/qa/qa.yml over REST against the real stack and write reports/qa.md.

Each case gets a fresh sender; each turn's replies (their texts) are matched against the
turn's expected facts. Matching ignores spaces, full/half width, simplified/traditional
characters and thousands separators.

Definitions (per case; a case is a 1-3 turn conversation):

- **right**: every turn has, for every ``expect`` group, one of its alternatives somewhere
  in that turn's replies, and none of its ``forbid`` texts.
- **answered directly**: right, and no turn's replies were a clarification (buttons
  offering schemes or topics, 「您是指…」, 「您是想問…」, a category list).
- **clarification**: some turn's reply was a clarification.
- **wrong figure**: a turn whose replies contain a forbidden text, or that answered
  without asking (no clarification, no 「目前資料沒有」) with a figure of the same kind
  (%, money, 成, duration, date, or the same counting word: 人, 家, 件, 歲…) as an expected
  figure that is missing: the bot
  gave a number as the answer and it is not the one the sources state (usually another
  scheme's). A reply with figures of other kinds only (the scheme's amounts when a
  count of approvals was asked) is a miss, not a wrong figure.

``--root`` runs another checkout with its own code, model and knowledge; ``--baseline`` runs
the starting commit's checkout for the "before" column and records its replies in
tests/qa/baseline.json, which later runs reuse (``--before-json``): the starting commit does
not change, so its answers need not be replayed each time.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.ids import sender_id

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
QA_SET = HERE / "qa.yml"
TODAY = "2026-12-01"  # the day the set was written; its "ended" cases are stated against it

_CLARIFY = re.compile(r"您是指|您是想問|請點選|不太確定您的意思|請問您想問哪一項|哪一項措施")
_ADMITS = re.compile(r"目前資料(?:沒有|無法)|目前資料未載明")


_UNITS = {
    "%": r"%|％|趴",
    "money": r"萬|万|億|亿|元",
    "ratio": r"成",
    "duration": r"年(?!\d+月)|個月|个月|天|週",
    "date": r"年\d+月\d+日|\d+/\d+/\d+",
    "people": r"人",
    "firms": r"家",
    "cases": r"件",
    "times": r"次",
    "points": r"點",
    "hours": r"小時",
    "credits": r"學分",
    "age": r"歲|岁",
}


def units(text: str, last_only: bool = False) -> set[str]:
    """The kinds of figure stated in ``text`` (a number followed by a unit): %, money, 成, duration, date, count.

    ``last_only``: the kind of the last figure only, an expected fact's own unit (「6萬5,420件」 is a count).
    """
    folded = fold(text)
    found: list[tuple[int, str]] = []
    for name, pattern in _UNITS.items():
        found += [(m.end(), name) for m in re.finditer(rf"\d(?:[\d.]*)\s*(?:{pattern})", folded)]
    if last_only:
        return {max(found)[1]} if found else set()
    return {name for _, name in found}


@functools.lru_cache(maxsize=1)
def _to_traditional():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("s2t")


@functools.lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Full/half width, simplified/traditional, no spaces, no thousands separators: 「3,500 萬」 → 「3500萬」.

    The set lists simplified spellings as alternatives (「四十五岁」); folding both sides to
    traditional characters lets 「四十五歲」 match them, as a reader would.
    """
    text = _to_traditional().convert(unicodedata.normalize("NFKC", text))
    text = re.sub(r"\s+", "", text)
    return re.sub(r"(?<=\d),(?=\d{3})", "", text)


@dataclass
class TurnResult:
    say: str
    reply: str
    buttons: list[str]
    right: bool
    clarified: bool
    wrong_figure: bool
    missing: list[list[str]] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)


@dataclass
class CaseResult:
    case: dict[str, Any]
    turns: list[TurnResult]

    @property
    def right(self) -> bool:
        return all(t.right for t in self.turns)

    @property
    def clarified(self) -> bool:
        return any(t.clarified for t in self.turns)

    @property
    def direct(self) -> bool:
        return self.right and not self.clarified

    @property
    def wrong_figures(self) -> int:
        return sum(t.wrong_figure for t in self.turns)

    @property
    def disputed(self) -> bool:
        return bool(self.case.get("disputed"))


def judge(turn: dict[str, Any], replies: list[dict[str, Any]]) -> TurnResult:
    texts = [r.get("text") or "" for r in replies]
    buttons = [b.get("title", "") for r in replies for b in r.get("buttons") or []]
    reply = "\n".join(texts)
    folded = fold(reply)
    missing = [group for group in turn.get("expect") or [] if not any(fold(str(alt)) in folded for alt in group)]
    forbidden = [str(f) for f in turn.get("forbid") or [] if fold(str(f)) in folded]
    clarified = bool(buttons) and bool(_CLARIFY.search(reply)) or bool(re.search(r"您是指|您是想問", reply))
    expected_units = {unit for g in missing for alt in g for unit in units(str(alt), last_only=True)}
    stated_units = units(reply)
    wrong = bool(forbidden) or (bool(expected_units & stated_units) and not clarified and not _ADMITS.search(reply))
    return TurnResult(turn["say"], reply, buttons, not missing and not forbidden, clarified, wrong, missing, forbidden)


def say(url: str, sender: str, text: str) -> list[dict[str, Any]]:
    body = json.dumps({"sender": sender, "message": text}, ensure_ascii=False).encode()
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as reply:
        return json.loads(reply.read() or b"[]")


def play(url: str, cases: list[dict[str, Any]]) -> list[CaseResult]:
    results = []
    for case in cases:
        sender = sender_id(f"qa-{case['id']}")
        results.append(CaseResult(case, [judge(turn, say(url, sender, turn["say"])) for turn in case["turns"]]))
    return results


def load_cases(path: Path = QA_SET) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)["cases"]


# --- the stack -----------------------------------------------------------------
def start(root: Path, folder: Path, today: str) -> tuple[str, list[subprocess.Popen[bytes]]]:
    """Action server and Rasa server of the checkout at ``root``, state in ``folder``.

    This checkout starts them as `make run` does (bot.supervisor); an older checkout
    without ``bot/launch.py`` (the baseline) with the plain `rasa run` command lines it used.
    """
    from bot import supervisor

    python = sys.executable
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "BOT_TODAY": today,
        "BOT_VAR_DIR": str(folder),
        "BOT_OFFICE_HOURS": "mon-sun 00:00-23:59",
        "BOT_RASA_TOKEN": "qa-" + uuid.uuid4().hex,
        "BOT_SESSION_SECRET": "session-" + uuid.uuid4().hex,
        "BOT_API_TOKEN": "api-" + uuid.uuid4().hex,
        "RASA_TELEMETRY_ENABLED": "false",
        # One client plays hundreds of conversations back to back: not a flood to slow down.
        "BOT_RATE_SENDER": "off",
        "BOT_RATE_ADDRESS": "off",
    }
    subprocess.run([python, "-m", "bot", "kb", "build"], cwd=root, env=env, check=True, capture_output=True)
    action_port, rasa_port = supervisor.free_port(), supervisor.free_port()
    action_url = f"http://127.0.0.1:{action_port}/webhook"
    current = (root / "bot" / "launch.py").exists()
    endpoints = folder / "endpoints.yml"
    endpoints.write_text(
        (supervisor.action_endpoint(action_url) if current else f"action_endpoint:\n  url: {action_url}\n")
        + f"tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: {folder / 'tracker.db'}\n",
        encoding="utf-8",
    )
    model = root / "models" / "hotline.tar.gz"
    if current:
        services = [
            (s.command, s.health_url, dict(s.env))
            for s in supervisor.services(python, model, env["BOT_RASA_TOKEN"], endpoints, rasa_port, action_port)
        ]
    else:
        rasa = str(Path(python).with_name("rasa"))
        services = [
            (
                (rasa, "run", "actions", "--actions", "actions", "--port", str(action_port)),
                f"http://127.0.0.1:{action_port}/health",
                {},
            ),
            (
                (
                    rasa,
                    "run",
                    "--model",
                    str(model),
                    "--enable-api",
                    "--auth-token",
                    env["BOT_RASA_TOKEN"],
                    "--interface",
                    "127.0.0.1",
                    "--port",
                    str(rasa_port),
                    "--credentials",
                    "credentials.yml",
                    "--endpoints",
                    str(endpoints),
                ),
                f"http://127.0.0.1:{rasa_port}/webhooks/rest/",
                {},
            ),
        ]
    processes = []
    for number, (command, health_url, extra) in enumerate(services):
        log = (folder / f"service-{number}.log").open("wb")
        process = subprocess.Popen(
            command, cwd=root, stdout=log, stderr=subprocess.STDOUT, env={**supervisor.quiet_env(env), **extra}
        )
        processes.append(process)
        if not supervisor.wait_ready(health_url, process, 300):
            stop(processes)
            raise RuntimeError(
                f"{command[:4]} did not start:\n" + (folder / f"service-{number}.log").read_text()[-3000:]
            )
    return f"http://127.0.0.1:{rasa_port}", processes


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    from bot import supervisor

    for process in reversed(processes):
        supervisor.stop(process)


def run(root: Path, cases: list[dict[str, Any]], today: str = TODAY) -> list[CaseResult]:
    with tempfile.TemporaryDirectory(prefix="qa-") as folder:
        url, processes = start(root, Path(folder), today)
        try:
            return play(url, cases)
        finally:
            stop(processes)


# --- resolver latency ----------------------------------------------------------
def resolver_latency(cases: list[dict[str, Any]], today: str = TODAY) -> Latency:
    """p50 and p95 (ms) of ranking every turn of the set with this checkout's resolver (warm)."""
    import datetime as dt

    from bot.clock import FixedClock
    from bot.kb.build import build_kb
    from bot.kb.query import KnowledgeBase
    from bot.kb.records import load_knowledge
    from bot.kb.resolve import Resolver

    with tempfile.TemporaryDirectory(prefix="qa-kb-") as folder:
        path = build_kb(load_knowledge(ROOT / "knowledge"), Path(folder) / "kb.db")
        resolver = Resolver(KnowledgeBase(path, FixedClock(dt.date.fromisoformat(today))))
        texts = [t["say"] for c in cases for t in c["turns"]]
        resolver.resolve(resolver.question(texts[0]))  # load records and jieba once
        wall, cpu = [], []
        for text in texts:
            started, started_cpu = time.perf_counter(), time.thread_time()
            resolver.resolve(resolver.question(text))
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - started_cpu) * 1000)
    return Latency(len(texts), *_p50_p95(wall), *_p50_p95(cpu))


@dataclass
class Latency:
    """The resolver's time per question: wall clock (includes waiting for a busy CPU) and CPU time."""

    turns: int
    wall_p50: float
    wall_p95: float
    cpu_p50: float
    cpu_p95: float


def _p50_p95(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


# --- the report ----------------------------------------------------------------
@dataclass
class Rates:
    cases: int
    right: int
    direct: int
    clarified: int
    wrong: int

    @classmethod
    def of(cls, results: list[CaseResult]) -> Rates:
        return cls(
            len(results),
            sum(r.right for r in results),
            sum(r.direct for r in results),
            sum(r.clarified for r in results),
            sum(r.wrong_figures for r in results),
        )

    def pct(self, n: int) -> str:
        return f"{100 * n / self.cases:.1f}%" if self.cases else "—"


def summary(results: list[CaseResult]) -> dict[str, Rates]:
    undisputed = [r for r in results if not r.disputed]
    return {"all": Rates.of(results), "undisputed": Rates.of(undisputed)}


def report(after: list[CaseResult], before: list[CaseResult] | None, latency: Latency | None) -> str:
    lines = [
        "# QA evaluation (tests/qa/qa.yml)",
        "",
        f"{len(after)} cases written apart from this project (seeds and sources only), played over REST "
        f"against the real stack (Rasa, action server, kb.db), a fresh sender per case, clock at {TODAY}. "
        "Definitions are in `tests/qa/runner.py`. `make eval-qa` regenerates this file.",
        "",
    ]
    columns = [("before (baseline)", before)] if before is not None else []
    columns.append(("after", after))
    disputed = [r for r in after if r.disputed]
    lines += [
        "| measure | "
        + " | ".join(f"{name}, all" + (f" | {name}, without disputed" if disputed else "") for name, _ in columns)
        + " |",
        "|---|" + "---|" * (len(columns) * (2 if disputed else 1)),
    ]
    rows = [("right answers", "right"), ("answered directly", "direct"), ("clarification", "clarified")]
    tables = [summary(results) for _, results in columns]
    for label, attribute in rows:
        cells = []
        for table in tables:
            for key in ("all", "undisputed") if disputed else ("all",):
                rates = table[key]
                cells.append(f"{rates.pct(getattr(rates, attribute))} ({getattr(rates, attribute)}/{rates.cases})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = [str(table[key].wrong) for table in tables for key in (("all", "undisputed") if disputed else ("all",))]
    lines.append("| wrong-figure turns | " + " | ".join(cells) + " |")
    if latency:
        lines += [
            "",
            f"Resolver latency over {latency.turns} turns (warm, in process; question parsing, ranking "
            f"and decision): CPU time p50 {latency.cpu_p50:.2f} ms, p95 {latency.cpu_p95:.2f} ms; wall clock "
            f"p50 {latency.wall_p50:.2f} ms, p95 {latency.wall_p95:.2f} ms (wall includes waiting for a "
            f"shared CPU: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when measured).",
        ]
    lines += [
        "",
        "## By category",
        "",
        "| category | cases | right | directly | clarification | wrong figures |"
        + (" before: right |" if before is not None else ""),
        "|---|---|---|---|---|---|" + ("---|" if before else ""),
    ]
    lines += _breakdown(after, before, "category")
    lines += [
        "",
        "## By kind",
        "",
        "| kind | cases | right | directly | clarification | wrong figures |"
        + (" before: right |" if before is not None else ""),
        "|---|---|---|---|---|---|" + ("---|" if before else ""),
    ]
    lines += _breakdown(after, before, "kind")
    if disputed:
        lines += ["", "## Disputed cases (kept, counted separately)", ""]
        lines += [f"- `{r.case['id']}`: {r.case['disputed']}" for r in disputed]
    lines += ["", "## Every failure", ""]
    for result in after:
        if result.right and not result.wrong_figures:
            continue
        lines.append(
            f"### {result.case['id']} ({result.case['category']}, {result.case['kind']})"
            + (" — disputed" if result.disputed else "")
        )
        for turn in result.turns:
            mark = "ok" if turn.right else "MISS"
            lines.append(f"- **{mark}** 「{turn.say}」")
            if not turn.right:
                if turn.missing:
                    lines.append("  - missing: " + "; ".join(" / ".join(map(str, g[:4])) for g in turn.missing))
                if turn.forbidden:
                    lines.append("  - forbidden present: " + "、".join(turn.forbidden))
                if turn.wrong_figure:
                    lines.append("  - counted as a wrong figure")
                reply = turn.reply.replace("\n", " ⏎ ")
                lines.append(
                    f"  - reply: {reply[:600]}" + (f" [buttons: {' | '.join(turn.buttons)}]" if turn.buttons else "")
                )
        lines.append("")
    return "\n".join(lines) + "\n"


def _breakdown(after: list[CaseResult], before: list[CaseResult] | None, key: str) -> list[str]:
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for result in after:
        groups[result.case[key]].append(result)
    earlier: dict[str, list[CaseResult]] = defaultdict(list)
    for result in before or []:
        earlier[result.case[key]].append(result)
    lines = []
    for name in sorted(groups):
        rates = Rates.of(groups[name])
        line = (
            f"| {name} | {rates.cases} | {rates.pct(rates.right)} | {rates.pct(rates.direct)} | "
            f"{rates.pct(rates.clarified)} | {rates.wrong} |"
        )
        if before is not None:
            old = Rates.of(earlier[name])
            line += f" {old.pct(old.right)} |"
        lines.append(line)
    return lines


def save(results: list[CaseResult], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)  # reports/ is not in a fresh clone
    path.write_text(
        json.dumps(
            [{"id": r.case["id"], "turns": [t.__dict__ for t in r.turns]} for r in results],
            ensure_ascii=False,
            indent=1,
        ),
        encoding="utf-8",
    )


def load(path: Path, cases: list[dict[str, Any]]) -> list[CaseResult]:
    """Saved replies, judged again with today's rules (so a changed definition applies to both columns)."""
    by_id = {c["id"]: c for c in cases}
    results = []
    for item in json.loads(path.read_text(encoding="utf-8")):
        case = by_id.get(item["id"])
        if case is None:
            continue
        turns = [
            judge(turn, [{"text": saved["reply"], "buttons": [{"title": b} for b in saved["buttons"]]}])
            for turn, saved in zip(case["turns"], item["turns"])
        ]
        results.append(CaseResult(case, turns))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to evaluate (default: this one)")
    parser.add_argument("--baseline", type=Path, help="also run this checkout for the 'before' column")
    parser.add_argument("--before-json", type=Path, help="reuse saved baseline results instead of running it")
    parser.add_argument("--only", help="regular expression over case ids (a quick look; no report written)")
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "qa.md")
    args = parser.parse_args(argv)
    cases = load_cases()
    if args.only:
        cases = [c for c in cases if re.search(args.only, c["id"])]
    before = None
    if args.before_json and args.before_json.exists():
        before = load(args.before_json, cases)
    elif args.baseline:
        before = run(args.baseline.resolve(), cases)
        save(before, HERE / "baseline.json")
    after = run(args.root.resolve(), cases)
    save(
        after, args.output.with_name("qa-after.json") if not args.only else Path(tempfile.gettempdir()) / "qa-only.json"
    )
    text = report(after, before, resolver_latency(cases) if args.root.resolve() == ROOT else None)
    if args.only:
        print(text)
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(text.split("## By category")[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
