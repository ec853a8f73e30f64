"""`make bench` anchor: our bot's REST turn against a bare Rasa bot, in one interleaved run.

The anchor is Rasa 3.6 with nothing of ours (bench/configs/bare.yml): trained on
data/nlu, one ``utter_`` response per intent, in-memory tracker store, no action
server, no event broker. It is trained once and cached by a hash of its inputs
(var/bench/). Both servers run at once on free loopback ports; the same fact
questions (tests/e2e/test_knowledge.FACTS) go to both, alternating which goes first,
so machine noise hits both alike and only the ratios are read. Then:

- turns/s of each server at 8 concurrent callers (conversations of 5 turns);
- one long conversation: the latency of turns 1, 50 and 500 (median of 5 turns around each);
- a py-spy profile of our Rasa server under the 8-caller load (not counted in turns/s),
  summarised by where the samples are (jsonschema, tracker store, broker, NLU, …);
- the Rasa server's resident memory.

``--root`` benchmarks another checkout (e.g. a pristine copy of an older commit) with
this script; it needs that checkout's models/hotline.tar.gz and var/kb.db. The result
goes to reports/bench-anchor.md (or ``--out``) and into a section of reports/bench.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from bench.common import RASA, ROOT
from bench.ids import sender_id
from bot import supervisor

CONFIG = ROOT / "bench" / "configs" / "bare.yml"
CACHE = ROOT / "var" / "bench"
LONG_MARKS = (1, 50, 500)
SECTION = ("<!-- anchor:start -->", "<!-- anchor:end -->")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# --- the bare bot ---------------------------------------------------------------------


def intents(nlu: Path) -> list[str]:
    names = set()
    for path in sorted(nlu.rglob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" in item:
                names.add(item["intent"])
    return sorted(names)


# Rasa's default intents that its own rules answer (``restart`` → action_restart, which utters
# ``utter_restart``): a rule of ours for them would contradict Rasa's and fail the training.
DEFAULT_RULED_INTENTS = ("restart", "back", "session_start")


def bare_project(nlu: Path, folder: Path) -> tuple[Path, Path]:
    """A domain with one response per intent and the rules that give it; returns (domain, rules)."""
    names = intents(nlu) + ["nlu_fallback"]
    domain = {
        "version": "3.1",
        "intents": [n for n in names if n != "nlu_fallback"],
        "responses": {f"utter_{n}": [{"text": f"（{n}）"}] for n in names},
        "session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True},
    }
    rules = {
        "version": "3.1",
        "rules": [
            {"rule": f"answer {n}", "steps": [{"intent": n}, {"action": f"utter_{n}"}]}
            for n in names
            if n not in DEFAULT_RULED_INTENTS
        ],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "domain.yml").write_text(yaml.safe_dump(domain, allow_unicode=True), encoding="utf-8")
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "rules.yml").write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    return folder / "domain.yml", folder / "data" / "rules.yml"


def data_hash(nlu: Path) -> str:
    digest = hashlib.sha256(CONFIG.read_bytes())
    for path in sorted(nlu.rglob("*.yml")):
        digest.update(path.relative_to(nlu).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def bare_model(nlu: Path) -> Path:
    """The anchor's model, trained only when data/nlu or its config changed."""
    model = CACHE / f"bare-{data_hash(nlu)}.tar.gz"
    if model.exists():
        return model
    print(f"training the bare anchor bot ({model.name}) …", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-bare-") as tmp:
        domain, rules = bare_project(nlu, Path(tmp))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"}
        subprocess.run(
            [
                str(RASA),
                "train",
                "--data",
                str(nlu),
                str(rules.parent),
                "--config",
                str(CONFIG),
                "--domain",
                str(domain),
                "--out",
                str(CACHE),
                "--fixed-model-name",
                model.name[:-7],
                "--quiet",
            ],
            cwd=tmp,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return model


# --- servers ------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    processes: list[subprocess.Popen[bytes]]

    @property
    def pid(self) -> int:
        return self.processes[-1].pid

    def stop(self) -> None:
        for process in reversed(self.processes):
            supervisor.stop(process)


def _start(service: supervisor.Service, cwd: Path, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            service.command,
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**supervisor.quiet_env(env), **dict(getattr(service, "env", ()))},
        )
    if not supervisor.wait_ready(service.health_url, process, 300):
        process.kill()
        tail = log.read_text(errors="replace")[-3000:]
        raise supervisor.ServiceFailed(f"{service.name} did not become ready:\n{tail}")
    return process


def start_bare(model: Path, folder: Path) -> Server:
    """``rasa run`` in an empty folder: REST channel only, no endpoints (in-memory tracker store)."""
    home = folder / "bare"
    home.mkdir()
    (home / "credentials.yml").write_text("rest:\n", encoding="utf-8")
    port = supervisor.free_port()
    service = supervisor.Service(
        "bare",
        (
            str(RASA),
            "run",
            "--model",
            str(model),
            "--interface",
            "127.0.0.1",
            "--port",
            str(port),
            "--credentials",
            "credentials.yml",
        ),
        f"http://127.0.0.1:{port}/webhooks/rest/",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH="")
    return Server("bare Rasa", f"http://127.0.0.1:{port}", [_start(service, home, folder / "bare.log", env)])


def start_stack(root: Path, folder: Path) -> Server:
    """Action server and Rasa server of ``root`` as `make run` starts them (default profile, SQLite).

    State goes to a fresh BOT_VAR_DIR (a copy of ``root``'s var/kb.db), so every run
    starts from empty tracker and ops databases.
    """
    var = folder / "var"
    var.mkdir()
    shutil.copy(root / "var" / "kb.db", var / "kb.db")
    rasa_port, action_port = supervisor.free_port(), supervisor.free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "BOT_VAR_DIR": str(var),
        "BOT_ACTION_URL": f"http://127.0.0.1:{action_port}/webhook",
        "BOT_TRACKER_DB_URL": "",
        "BOT_OPS_DB_URL": "",
        "BOT_TODAY": "2026-11-23",
        "BOT_RASA_TOKEN": "bench-" + uuid.uuid4().hex,
        "BOT_RATE_SENDER": "off",
        "BOT_RATE_ADDRESS": "off",
    }  # a benchmark is one fast client
    group = root_services(root, env, rasa_port, action_port)
    processes = []
    try:
        for service in group:
            processes.append(_start(service, root, folder / f"{service.name}.log", env))
    except supervisor.ServiceFailed:
        for process in processes:
            supervisor.stop(process)
        raise
    return Server("our bot", f"http://127.0.0.1:{rasa_port}", processes)


def root_services(root: Path, env: dict[str, str], rasa_port: int, action_port: int) -> list[supervisor.Service]:
    """The action and Rasa services exactly as ``root``'s own ``bot.supervisor.services`` starts them.

    Asked in a subprocess on ``root``'s code, so an older checkout is started the way it was then.
    """
    code = (
        "import json, sys; from pathlib import Path; from bot import supervisor as s; "
        "print(json.dumps([[x.name, list(x.command), x.health_url, [list(p) for p in getattr(x, 'env', ())]] "
        f"for x in s.services(sys.executable, Path({str(root / 'models' / 'hotline.tar.gz')!r}), "
        f"{env['BOT_RASA_TOKEN']!r}, Path({str(root / 'endpoints.yml')!r}), {rasa_port}, {action_port})]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        env={**env, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [
        supervisor.Service(name, tuple(command), health, *([tuple(tuple(p) for p in extra)] if extra else []))
        for name, command, health, extra in json.loads(out.strip().splitlines()[-1])
    ]


# --- load ---------------------------------------------------------------------------


def turn(client: httpx.Client, server: Server, sender: str, text: str) -> float:
    started = time.perf_counter()
    reply = client.post(server.url + "/webhooks/rest/webhook", json={"sender": sender, "message": text})
    elapsed = (time.perf_counter() - started) * 1000
    reply.raise_for_status()
    if not reply.json():
        raise RuntimeError(f"{server.name} gave no reply to {text!r}")
    return elapsed


def interleaved(servers: list[Server], questions: list[str]) -> dict[str, list[float]]:
    """Each question to every server, a new conversation each time, the order alternating."""
    timings: dict[str, list[float]] = {s.name: [] for s in servers}
    with httpx.Client(timeout=60) as client:
        for server in servers:  # warm up: first model call, first database connection
            for text in questions[:3]:
                turn(client, server, sender_id("warm"), text)
        for i, text in enumerate(questions):
            for server in servers if i % 2 == 0 else servers[::-1]:
                timings[server.name].append(turn(client, server, sender_id("bench"), text))
    return timings


def long_conversation(
    servers: list[Server], questions: list[str], marks: tuple[int, ...]
) -> dict[str, dict[int, float]]:
    """One conversation per server of max(marks)+2 turns; median latency of the 5 turns around each mark."""
    last = max(marks) + 2
    timings: dict[str, list[float]] = {s.name: [] for s in servers}
    senders = {s.name: sender_id("long") for s in servers}
    with httpx.Client(timeout=120) as client:
        for i in range(last):
            text = questions[i % len(questions)]
            for server in servers if i % 2 == 0 else servers[::-1]:
                timings[server.name].append(turn(client, server, senders[server.name], text))
    return {name: {m: statistics.median(t[max(0, m - 3) : m + 2]) for m in marks} for name, t in timings.items()}


async def _callers(
    server: Server, questions: list[str], callers: int, turns: int, until: float | None = None
) -> tuple[float, int]:
    """``turns`` turns (or until ``until``, a monotonic time) from ``callers`` concurrent callers in 5-turn
    conversations; returns (seconds, errors)."""
    remaining = turns
    errors = 0

    async def caller(client: httpx.AsyncClient, offset: int) -> None:
        nonlocal remaining, errors
        i = offset
        sender = ""
        while remaining > 0 and (until is None or time.monotonic() < until):
            remaining -= 1
            if i % 5 == offset % 5:
                sender = sender_id("load")
            try:
                reply = await client.post(
                    "/webhooks/rest/webhook", json={"sender": sender, "message": questions[i % len(questions)]}
                )
                errors += reply.status_code != 200 or not reply.json()
            except httpx.HTTPError:
                errors += 1
            i += 1

    limits = httpx.Limits(max_connections=callers, max_keepalive_connections=callers)
    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(caller(client, k * 7) for k in range(callers)))
        return time.perf_counter() - started, errors


def throughput(server: Server, questions: list[str], callers: int, turns: int) -> tuple[float, int]:
    seconds, errors = asyncio.run(_callers(server, questions, callers, turns))
    return turns / seconds, errors


# --- profile ------------------------------------------------------------------------

# Where a sample is, by the first pattern its stack contains (checked in this order).
AREAS = [
    ("jsonschema (action response validation)", ("jsonschema",)),
    ("event broker publish", ("brokers/sql.py", "broker.py", "brokers/pika.py", "publish_events", "_publish")),
    (
        "tracker store save",
        ("tracker_store.py:save", "stores.py:save", "tracker_store.py:_additional_events", "stores.py:_additional"),
    ),
    (
        "tracker store retrieve / replay",
        (
            "tracker_store.py:retrieve",
            "tracker_store.py:_retrieve",
            "stores.py:retrieve",
            "stores.py:_retrieve",
            "from_dict",
            "trackers.py:update",
        ),
    ),
    ("masking", ("masking.py",)),
    ("action server call", ("actions/action.py:run", "aiohttp")),
    ("NLU graph", ("rasa/nlu/", "nlu/components", "jieba", "tensorflow", "keras")),
    ("policies", ("rasa/core/policies", "featurizers")),
    ("logging", ("logging/__init__", "structlog")),
    ("Sanic / HTTP", ("sanic", "httptools", "uvloop")),
]


def start_profile(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy sampling ``pid`` for ``seconds`` into ``out`` (collapsed stacks); None without py-spy.

    py-spy is looked for beside the interpreter, then on PATH (a venv of its own keeps it out
    of the project's pinned one).
    """
    beside = Path(sys.executable).with_name("py-spy")
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if spy is None:
        return None
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            "100",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finish_profile(spy: subprocess.Popen[bytes] | None, out: Path) -> bool:
    if spy is None:
        return False
    _, errors = spy.communicate()
    if spy.returncode or not out.exists():
        print("py-spy failed:", errors.decode(errors="replace")[-500:], flush=True)
        return False
    return True


def _frames(stack: str) -> list[str]:
    """py-spy raw frames ``func (path/to/file.py:line)`` as ``file.py:func`` plus the path."""
    frames = []
    for frame in stack.split(";"):
        name, _, where = frame.partition(" (")
        path = where.rsplit(":", 1)[0].rstrip(")")
        frames.append(f"{path}:{name.strip()}")
    return frames


def summarise(raw: Path, top: int = 20) -> list[str]:
    """Markdown lines: samples by area, then the functions with the most samples inside them."""
    areas: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = _frames(stack)
        joined = ";".join(frames)
        areas[next((area for area, marks in AREAS if any(m in joined for m in marks)), "other")] += n
        for frame in set(frames):
            inclusive[frame] += n
        if frames:
            own[frames[-1]] += n
    if not total:
        return ["(no samples)"]
    lines = [f"{total} samples of the Rasa server under 8 callers.", "", "| where | share of samples |", "|---|---|"]
    lines += [f"| {area} | {n / total:.0%} |" for area, n in areas.most_common()]
    lines += ["", "| function | inclusive | self |", "|---|---|---|"]
    # The request path every sample shares (Sanic, the channel, handle_message) says nothing: show what is below it.
    shown = 0
    for frame, n in inclusive.most_common():
        if n / total > 0.9 or n / total < 0.02:
            continue
        path, _, func = frame.rpartition(":")
        short = "/".join(path.split("site-packages/")[-1].split("/")[-3:])
        lines.append(f"| `{func}` ({short}) | {n / total:.0%} | {own[frame] / total:.0%} |")
        shown += 1
        if shown == top:
            break
    return lines


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- report -------------------------------------------------------------------------


def report(
    root: Path,
    rounds: int,
    timings: dict[str, list[float]],
    rates: dict[str, tuple[float, int]],
    long: dict[str, dict[int, float]],
    rss: float,
    profile_lines: list[str],
) -> str:
    bare, ours = timings["bare Rasa"], timings["our bot"]
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    lines = [
        "## Anchor: our REST turn against a bare Rasa bot",
        "",
        f"Code: `{commit}` ({root}); machine: {os.cpu_count()} cores, shared with other work, so only the "
        f"ratios from this one run are meant to be read. {len(ours)} fact questions "
        f"(tests/e2e/test_knowledge.FACTS × {rounds}), each a new conversation, sent to both servers in "
        "alternating order. Bare Rasa: bench/configs/bare.yml, in-memory tracker, no action server. "
        "Ours: `make run`'s Rasa and action servers on SQLite (tracker store and event broker, masked).",
        "",
        "| measure | bare Rasa | our bot | ratio |",
        "|---|---|---|---|",
        f"| fact-question turn p50 (ms) | {percentile(bare, 50):.1f} | {percentile(ours, 50):.1f} "
        f"| {percentile(ours, 50) / percentile(bare, 50):.2f}× |",
        f"| fact-question turn p95 (ms) | {percentile(bare, 95):.1f} | {percentile(ours, 95):.1f} "
        f"| {percentile(ours, 95) / percentile(bare, 95):.2f}× |",
        f"| turns/s of one server, 8 callers | {rates['bare Rasa'][0]:.1f} | {rates['our bot'][0]:.1f} "
        f"| {rates['our bot'][0] / rates['bare Rasa'][0]:.2f} |",
        f"| errors at 8 callers | {rates['bare Rasa'][1]} | {rates['our bot'][1]} | |",
    ]
    for mark in LONG_MARKS[1:]:
        lines.append(
            f"| turn {mark} ÷ turn 1 of one conversation | {long['bare Rasa'][mark] / long['bare Rasa'][1]:.2f} "
            f"| {long['our bot'][mark] / long['our bot'][1]:.2f} | |"
        )
    lines += [
        "",
        "| one conversation (median of 5 turns around) | " + " | ".join(f"turn {m} (ms)" for m in LONG_MARKS) + " |",
        "|---|" + "---|" * len(LONG_MARKS),
    ]
    for name in ("bare Rasa", "our bot"):
        lines.append(f"| {name} | " + " | ".join(f"{long[name][m]:.1f}" for m in LONG_MARKS) + " |")
    lines += [
        "",
        f"Our Rasa server's resident memory after the run: {rss:.0f} MiB.",
        "",
        "### Profile of our Rasa server (py-spy, 8 callers)",
        "",
    ] + profile_lines
    return "\n".join(lines) + "\n"


def merge_into(bench_md: Path, section: str) -> None:
    """Put ``section`` between the anchor markers of reports/bench.md (appended if absent)."""
    start, end = SECTION
    text = bench_md.read_text(encoding="utf-8") if bench_md.exists() else "# Benchmarks\n"
    block = f"{start}\n{section}{end}\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    bench_md.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="Checkout whose bot is measured (default: this one).")
    parser.add_argument("--rounds", type=int, default=3, help="Times each fact question is asked (per server).")
    parser.add_argument("--load-turns", type=int, default=240, help="Turns per server at 8 callers.")
    parser.add_argument("--long", type=int, default=500, help="Length of the long conversation (turn N is timed).")
    parser.add_argument("--profile-seconds", type=int, default=15)
    parser.add_argument("--bare-model", type=Path, help="Use this anchor model (e.g. the one a before-run used).")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench-anchor.md")
    args = parser.parse_args()
    root = args.root.resolve()
    marks = tuple(sorted({1, min(50, args.long), args.long}))
    global LONG_MARKS
    LONG_MARKS = marks
    from tests.e2e.test_knowledge import FACTS

    questions = [q for q, _ in FACTS]
    model = args.bare_model.resolve() if args.bare_model else bare_model(ROOT / "data" / "nlu")
    with tempfile.TemporaryDirectory(prefix="bench-anchor-") as tmp:
        folder = Path(tmp)
        print("starting the bare bot and our bot …", flush=True)
        bare = start_bare(model, folder)
        try:
            ours = start_stack(root, folder)
        except supervisor.ServiceFailed:
            bare.stop()
            raise
        servers = [bare, ours]
        try:
            print("interleaved fact questions …", flush=True)
            timings = interleaved(servers, questions * args.rounds)
            print("8 callers …", flush=True)
            rates = {s.name: throughput(s, questions, 8, args.load_turns) for s in servers}
            print(f"long conversation ({args.long} turns) …", flush=True)
            long = long_conversation(servers, questions, marks)
            print("profiling our Rasa server under 8 callers …", flush=True)
            raw = folder / "profile.txt"
            spy = start_profile(ours.pid, args.profile_seconds, raw)
            asyncio.run(_callers(ours, questions, 8, 10**6, until=time.monotonic() + args.profile_seconds + 1))
            got = finish_profile(spy, raw)
            profile_lines = summarise(raw) if got else ["(py-spy unavailable)"]
            if got:
                keep = args.out.with_suffix(".profile.txt")
                keep.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(raw, keep)
            rss = rss_mib(ours.pid)
        except Exception:
            logs = args.out.parent / "bench-anchor-logs"
            logs.mkdir(parents=True, exist_ok=True)
            for log in folder.glob("*.log"):
                shutil.copy(log, logs / log.name)
            print(f"failed; server logs in {logs}", flush=True)
            raise
        finally:
            for server in servers:
                server.stop()
    text = report(root, args.rounds, timings, rates, long, rss, profile_lines)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    if args.root.resolve() == ROOT:
        merge_into(ROOT / "reports" / "bench.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
