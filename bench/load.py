"""`make bench-load`: conversations on one Rasa server, then on two behind nginx.

One scaled-profile cluster on this machine (PostgreSQL, Redis, RabbitMQ, action server,
consumer, two Rasa servers, nginx). nginx first balances over one server, then over
both; at each concurrency step the same simulated callers hold conversations of 3–5
turns over the REST channel (asyncio + httpx on loopback). Throughput, latency
percentiles, errors and CPU (from /proc: each process's user+system seconds, and the
machine's busy share of all cores) go to reports/bench-load.md, with the
two-server/one-server throughput ratio per step, measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import ROOT
from bench.ids import sender_id
from bench.nlu import percentile
from bot.scaled import profile
from bot.scaled.cluster import Cluster, launch

# Caller questions across the hotline's topics, with follow-ups that need the conversation's context.
OPENERS = [
    "青創貸款利率大概多少",
    "SBIR最高補助多少",
    "雲市集可以拿多少點數",
    "小微貸款寬限期多久",
    "加薪信保手續費怎麼算",
    "外銷貸款保證加碼額度最高多少",
    "增僱員工減除的減除率是多少",
    "災害復工貸款要手續費嗎",
    "想了解一下青創貸款",
    "我們公司12個人 想借週轉金最多可以借多少",
    "被美國關稅影響訂單掉了一半",
    "工廠淹水了 有什麼補助",
]
FOLLOW_UPS = ["那利率呢", "要準備什麼文件", "截止日期呢", "額度多少", "要去哪裡申請", "謝謝"]


@dataclass(frozen=True, slots=True)
class Step:
    servers: int
    concurrency: int
    conversations: int
    turns: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    cpu_seconds: dict[str, float]
    machine_busy: float
    rasa_rss_mib: float = 0.0

    @property
    def throughput(self) -> float:
        return self.turns / self.seconds

    @property
    def stack_cpu_ms(self) -> float:
        """CPU milliseconds per turn of everything a turn needs (Rasa, actions, consumer, nginx, services)."""
        return 1000 * sum(v for k, v in self.cpu_seconds.items() if k != "client") / self.turns

    @property
    def stack_share(self) -> float:
        """The part of all cores' time the stack used; the rest of "machine busy" is other work (the load generator, other jobs)."""
        return sum(v for k, v in self.cpu_seconds.items() if k != "client") / (self.seconds * (os.cpu_count() or 1))


def conversation(rng: random.Random) -> list[str]:
    return [rng.choice(OPENERS)] + rng.sample(FOLLOW_UPS, rng.randint(2, 4))


async def run_step(
    url: str, concurrency: int, conversations: int, seed: int, acked: Counter[str] | None = None
) -> tuple[list[float], int, int, float]:
    """Run ``conversations`` with ``concurrency`` callers at once; returns latencies, turns, errors, seconds.

    ``acked`` counts, per conversation, the turns answered with HTTP 200 (for the ops-database tally).
    """
    rng = random.Random(seed)
    scripts = [conversation(rng) for _ in range(conversations)]
    queue: asyncio.Queue[list[str]] = asyncio.Queue()
    for script in scripts:
        queue.put_nowait(script)
    latencies: list[float] = []
    errors = 0

    async def caller(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while not queue.empty():
            script, sender = queue.get_nowait(), sender_id("load")
            for text in script:
                started = time.perf_counter()
                try:
                    reply = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
                    ok = reply.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok
                if acked is not None:
                    acked[sender] += ok

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(caller(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return latencies, len(latencies), errors, seconds


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_times() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


SERVICES = {"postgres": "postgres", "redis-server": "redis", "beam.smp": "rabbitmq"}


def groups(cluster: Cluster) -> dict[str, list[int]]:
    """Our processes by role, and the shared services' processes (PostgreSQL, Redis, RabbitMQ) by name."""
    by_group: dict[str, list[int]] = {"client": [os.getpid()]}
    for name, process in cluster.processes.items():
        by_group.setdefault("rasa" if name.startswith("rasa-") else name, []).append(process.pid)
    parents = {pid: group for group, members in by_group.items() for pid in members}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().split("(", 1)[1].rsplit(")", 1)
        except (OSError, ValueError):
            continue
        parent = int(tail.split()[1])
        if head in SERVICES:
            by_group.setdefault(SERVICES[head], []).append(int(stat.parent.name))
        elif parent in parents and parents[parent] != "client":  # nginx's worker
            by_group[parents[parent]].append(int(stat.parent.name))
    return by_group


def total_cpu(pids: list[int]) -> float:
    seconds = 0.0
    for pid in pids:
        try:
            seconds += cpu_seconds(pid)
        except (OSError, IndexError):  # a service's worker process ended meanwhile
            pass
    return seconds


def measure(
    cluster: Cluster, servers: int, concurrency: int, conversations: int, seed: int, acked: Counter[str] | None = None
) -> Step:
    pids = groups(cluster)
    before = {group: total_cpu(members) for group, members in pids.items()}
    busy0, total0 = machine_times()
    latencies, turns, errors, seconds = asyncio.run(
        run_step(cluster.nginx_url, concurrency, conversations, seed, acked)
    )
    busy1, total1 = machine_times()
    used = {group: total_cpu(members) - before[group] for group, members in pids.items()}
    rss = max(rss_mib(p.pid) for name, p in cluster.processes.items() if name.startswith("rasa-"))
    return Step(
        servers,
        concurrency,
        conversations,
        turns,
        errors,
        seconds,
        latencies,
        used,
        (busy1 - busy0) / max(1, total1 - total0),
        rss,
    )


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def ops_tally(cluster: Cluster, acked: Counter[str], wait: float = 60.0) -> dict[str, int]:
    """Acknowledged turns of the load steps against the user messages the consumer wrote to the ops database.

    Waits until the ops database stops growing (the consumer drained the queue). ``lost``: acknowledged
    turns the ops database lacks; ``doubled``: user messages beyond the turns sent; ``repeated rows``:
    identical event rows.
    """
    from bench.crash import duplicate_events, user_messages

    url = profile.ops_postgres_url(cluster.settings)
    deadline, last = time.monotonic() + wait, -1
    while time.monotonic() < deadline:
        stored = user_messages(url, table_has_type=False)
        if sum(stored.values()) == last:
            break
        last = sum(stored.values())
        time.sleep(2)
    return {
        "acknowledged": sum(acked.values()),
        "lost": sum(max(0, n - stored[s]) for s, n in acked.items()),
        "doubled": sum(max(0, stored[s] - n) for s, n in acked.items()),
        "repeated rows": duplicate_events(url),
    }


def kill_step(cluster: Cluster, callers: int = 8) -> dict[str, int]:
    """kill -9 one of two Rasa servers under load, the callers going on through nginx; counts what the ops database lost."""
    import signal

    from bench.crash import Callers, duplicate_events, user_messages

    cluster.balance(cluster.rasa_ports)
    load = Callers(cluster.nginx_url, callers).start()
    load.wait_for(60)
    victim = f"rasa-{cluster.rasa_ports[0]}"
    os.kill(cluster.processes[victim].pid, signal.SIGKILL)
    cluster.processes.pop(victim).wait()
    killed_at = sum(load.acked.values())
    load.wait_for(killed_at + 60, timeout=180)
    load.finish()
    url = profile.ops_postgres_url(cluster.settings)
    time.sleep(5)
    stored = user_messages(url, table_has_type=False)
    tracker = user_messages(profile.postgres_url(cluster.settings), table_has_type=True)
    return {
        "acknowledged": sum(load.acked.values()),
        "acknowledged before the kill": killed_at,
        "lost (ops)": sum(max(0, load.acked[s] - stored[s]) for s in load.attempted),
        "lost (tracker)": sum(max(0, load.acked[s] - tracker[s]) for s in load.attempted),
        "doubled (ops)": sum(max(0, stored[s] - load.attempted[s]) for s in load.attempted),
        "repeated rows (ops)": duplicate_events(url),
    }


def report(
    steps: list[Step], cores: int, tally: dict[str, int] | None = None, killed: dict[str, int] | None = None
) -> str:
    lines = [
        "# Load: one Rasa server vs two behind nginx (scaled profile)",
        "",
        f"Machine: {cores} cores, shared by every process below, the load generator and any other job. "
        "Conversations of 3–5 turns over REST through nginx; PostgreSQL tracker store (masking), Redis lock "
        "store, RabbitMQ event broker with the consumer writing the ops database.",
        "",
        "| Rasa servers | callers at once | conversations | turns | errors | turns/s | p50 ms | p95 ms | p99 ms "
        "| CPU ms/turn: rasa | actions | services | stack | load generator | stack share of cores | machine busy |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in steps:
        per_turn = {group: 1000 * seconds / s.turns for group, seconds in s.cpu_seconds.items()}
        services = sum(per_turn.get(g, 0) for g in ("postgres", "redis", "rabbitmq"))
        lines.append(
            f"| {s.servers} | {s.concurrency} | {s.conversations} | {s.turns} | {s.errors} | {s.throughput:.1f} "
            f"| {percentile(s.latencies_ms, 50):.0f} | {percentile(s.latencies_ms, 95):.0f} "
            f"| {percentile(s.latencies_ms, 99):.0f} | {per_turn.get('rasa', 0):.0f} | {per_turn.get('actions', 0):.0f} "
            f"| {services:.0f} | {s.stack_cpu_ms:.0f} | {per_turn.get('client', 0):.0f} | {s.stack_share:.0%} "
            f"| {s.machine_busy:.0%} |"
        )
    lines += [
        "",
        "| callers at once | turns/s, 1 server | turns/s, 2 servers | ratio 2/1 | p95 ratio 2/1 |",
        "|---|---|---|---|---|",
    ]
    for one in (s for s in steps if s.servers == 1):
        two = next(s for s in steps if s.servers == 2 and s.concurrency == one.concurrency)
        lines.append(
            f"| {one.concurrency} | {one.throughput:.1f} | {two.throughput:.1f} | "
            f"{two.throughput / one.throughput:.2f} | "
            f"{percentile(two.latencies_ms, 95) / percentile(one.latencies_ms, 95):.2f} |"
        )
    cost = sum(s.stack_cpu_ms * s.turns for s in steps) / sum(s.turns for s in steps)
    lines += [
        "",
        f"CPU per turn, whole stack, all steps: {cost:.0f} ms, so {cores} fully used cores carry at most "
        f"~{1000 * cores / cost:.0f} turns/s, whatever the number of Rasa servers; each more core adds "
        f"~{1000 / cost:.0f} turns/s while one Rasa server per core keeps the cores busy.",
        "",
        "| Rasa servers | best turns/s | turns/s per core used by the stack | Rasa RSS, largest (MiB) |",
        "|---|---|---|---|",
    ]
    for servers in sorted({s.servers for s in steps}):
        best = max((s for s in steps if s.servers == servers), key=lambda s: s.throughput)
        lines.append(
            f"| {servers} | {best.throughput:.1f} | {best.throughput / max(1e-9, best.stack_share * cores):.1f} "
            f"| {max(s.rasa_rss_mib for s in steps if s.servers == servers):.0f} |"
        )
    if tally:
        lines += [
            "",
            "Ops database after the load steps (the consumer drained the queue): "
            + ", ".join(f"{k}: {v}" for k, v in tally.items())
            + ".",
        ]
    if killed:
        lines += [
            "",
            "kill -9 of one of the two Rasa servers under 8 callers (nginx sends the rest to the other): "
            + ", ".join(f"{k}: {v}" for k, v in killed.items())
            + ".",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="4,16,32", help="Callers at once, comma-separated.")
    parser.add_argument(
        "--conversations",
        type=int,
        default=500,
        help="Conversations per step and server count (3 steps x 2 = 3,000 by default).",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "bench-load.md")
    parser.add_argument("--no-kill", action="store_true", help="Skip the kill -9 step.")
    args = parser.parse_args()
    steps_at = [int(v) for v in args.steps.split(",")]
    token = "bench-" + uuid.uuid4().hex
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "BOT_RASA_TOKEN": token,
        "BOT_RATE_SENDER": "off",
        "BOT_RATE_ADDRESS": "off",
        "BOT_TODAY": "2026-11-23",
    }
    results: list[Step] = []
    acked: Counter[str] = Counter()
    tally = killed = None
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        folder = Path(tmp)
        from bot.kb.build import build_kb
        from bot.kb.records import load_knowledge

        build_kb(load_knowledge(ROOT / "knowledge"), folder / "kb.db")
        print("starting the cluster (two Rasa servers load their model) …", flush=True)
        cluster = launch(ROOT / "models" / "hotline.tar.gz", folder, env)
        try:
            asyncio.run(run_step(cluster.nginx_url, 2, 4, seed=0))  # warm both servers
            for servers in (1, 2):
                cluster.balance(cluster.rasa_ports[:servers])
                for concurrency in steps_at:
                    step = measure(cluster, servers, concurrency, args.conversations, seed=concurrency, acked=acked)
                    results.append(step)
                    print(
                        f"{servers} server(s), {concurrency} callers: {step.throughput:.1f} turns/s, "
                        f"p95 {percentile(step.latencies_ms, 95):.0f} ms, errors {step.errors}; CPU ms/turn "
                        + ", ".join(f"{g} {1000 * v / step.turns:.1f}" for g, v in sorted(step.cpu_seconds.items())),
                        flush=True,
                    )
            tally = ops_tally(cluster, acked)
            print("ops database:", tally, flush=True)
            if not args.no_kill:
                killed = kill_step(cluster)
                print("kill -9:", killed, flush=True)
        finally:
            cluster.close()
    text = report(results, os.cpu_count() or 1, tally, killed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
