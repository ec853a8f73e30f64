"""Start the bot's processes, report when each is ready, stop them all on Ctrl-C.

``make run`` calls :func:`run`; tests and benchmarks use :func:`start` and
:func:`stop` to get the same processes on free ports. Readiness is an HTTP health
check, not a sleep.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Service:
    """One process: its command line, its readiness URL and the variables only it gets.

    Secrets go in ``env``, never in ``command``: every local account can read a process's
    arguments (``ps``), only its owner its environment (security review M3).
    """

    name: str
    command: tuple[str, ...]
    health_url: str
    env: tuple[tuple[str, str], ...] = ()


def action_endpoint(url: str) -> str:
    """The ``action_endpoint`` block of an endpoints file: Rasa sends the action server's shared secret.

    ``${BOT_ACTION_TOKEN}`` is filled by Rasa from its environment (:func:`services` sets it).
    """
    return f"action_endpoint:\n  url: {url}\n  headers:\n    X-Action-Token: ${{BOT_ACTION_TOKEN}}\n"


def free_port() -> int:
    """A free TCP port on the loopback interface (for tests and benchmarks)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServiceFailed(RuntimeError):
    """A service exited or did not become ready in time."""


def services(
    python: str,
    model: Path,
    token: str,
    endpoints: Path = Path("endpoints.yml"),
    rasa_port: int = 5005,
    action_port: int = 5055,
    web_port: int | None = None,
    action_token: str | None = None,
) -> list[Service]:
    """The default profile: action server, Rasa (REST channel and HTTP API), and the web app when given a port.

    Rasa and the action server start through ``bot.launch`` (private files, secrets checked,
    the token out of the command line, the action server on 127.0.0.1 behind a shared
    secret). Without ``action_token`` each start draws a random one: only these two
    processes need to know it.
    """
    shared = ("BOT_ACTION_TOKEN", action_token or secrets.token_hex(24))
    web = [
        Service(
            "web",
            (
                python,
                "-m",
                "uvicorn",
                "bot.web.app:app_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(web_port),
                "--no-access-log",
                "--ws",
                "none",
                # X-Forwarded-For only from BOT_TRUSTED_PROXIES (bot.web.security), never from any loopback client
                "--no-proxy-headers",
                "--limit-concurrency",
                "200",
                "--http",
                "bot.web.slow_clients:HeadTimeoutProtocol",
                "--timeout-keep-alive",
                "5",
            ),
            f"http://127.0.0.1:{web_port}/healthz",
        )
    ]
    return [
        Service(
            "actions",
            (python, "-m", "bot.launch", "actions", "--actions", "actions", "--port", str(action_port)),
            f"http://127.0.0.1:{action_port}/health",
            (shared,),
        ),
        Service(
            "rasa",
            (
                python,
                "-m",
                "bot.launch",
                "rasa",
                "--model",
                str(model),
                "--enable-api",
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
            (shared, ("BOT_RASA_TOKEN", token)),
        ),
    ] + (web if web_port else [])


def credential_defaults() -> dict[str, str]:
    """Values for the ``${BOT_LINE_…}`` in credentials.yml and the database URLs in endpoints.yml.

    Rasa refuses to start when one is unset.
    """
    from bot.settings import SETTINGS

    return {
        spec.env: spec.default or ""
        for spec in SETTINGS
        if spec.env.startswith("BOT_LINE_") or spec.env in ("BOT_TRACKER_DB_URL", "BOT_OPS_DB_URL")
    }


def scaled_services(
    python: str,
    model: Path,
    token: str,
    endpoints: Path,
    rasa_ports: list[int],
    action_port: int,
    web_port: int | None,
    consumer_port: int,
    nginx: tuple[Path, Path, int] | None = None,
) -> list[Service]:
    """The scaled profile: action server, event consumer, N Rasa servers, web app, nginx.

    Rasa servers are the default profile's Rasa service on consecutive ports (they differ
    only in the endpoints file); ``nginx`` is (prefix, config, port) of the balancer.
    """
    default = services(python, model, token, endpoints, rasa_ports[0], action_port, web_port)
    by_name = {service.name: service for service in default}
    rasa = [
        dataclasses.replace(
            by_name["rasa"],
            name=f"rasa-{port}",
            command=_with_port(by_name["rasa"].command, port),
            health_url=f"http://127.0.0.1:{port}/webhooks/rest/",
        )
        for port in rasa_ports
    ]
    consumer = Service(
        "consumer",
        (python, "-m", "bot", "consume", "--health-port", str(consumer_port)),
        f"http://127.0.0.1:{consumer_port}/health",
    )
    balancer = []
    if nginx:
        prefix, conf, port = nginx
        balancer = [
            Service(
                "nginx",
                ("nginx", "-e", str(prefix / "error.log"), "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"),
                f"http://127.0.0.1:{port}/nginx-health",
            )
        ]
    web = [by_name["web"]] if "web" in by_name else []
    return [by_name["actions"], consumer, *rasa, *web, *balancer]


def _with_port(command: tuple[str, ...], port: int) -> tuple[str, ...]:
    at = command.index("--port") + 1
    return (*command[:at], str(port), *command[at + 1 :])


def start_together(
    group: list[Service], logs: Path, env: dict[str, str], timeout: float = 300.0
) -> list[subprocess.Popen[bytes]]:
    """Start ``group`` at once (Rasa servers load their model in parallel) and wait until all are ready.

    Raises:
        ServiceFailed: one exited or stayed unready; all of the group are stopped.
    """
    processes = []
    for service in group:
        with (logs / f"{service.name}.log").open("wb") as log:
            processes.append(spawn(service, log, env))
    for service, process in zip(group, processes):
        if not wait_ready(service.health_url, process, timeout):
            for started in processes:
                stop(started)
            raise ServiceFailed(f"{service.name} did not become ready ({service.health_url})")
    return processes


def spawn(service: Service, output: IO[bytes] | int, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``service`` from the project root, output and errors to ``output``, quiet environment."""
    return subprocess.Popen(
        service.command,
        cwd=ROOT,
        stdout=output,
        stderr=subprocess.STDOUT,
        env={**quiet_env(env or os.environ.copy()), **dict(service.env)},
    )


def quiet_env(env: dict[str, str]) -> dict[str, str]:
    """No Rasa telemetry or error reports: this machine talks to no one but itself."""
    return {**credential_defaults(), **env, "RASA_TELEMETRY_ENABLED": "false"}


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    return False


def start(
    service: Service, output: IO[bytes] | int, env: dict[str, str] | None = None, timeout: float = 240.0
) -> subprocess.Popen[bytes]:
    """Start ``service`` from the project root and wait until its health URL answers.

    Raises:
        ServiceFailed: it exited or stayed unready; the process is killed.
    """
    process = spawn(service, output, env)
    if not wait_ready(service.health_url, process, timeout):
        process.kill()
        raise ServiceFailed(f"{service.name} did not become ready ({service.health_url})")
    return process


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def _pipe(name: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"[{name}] {line.decode(errors='replace')}")
        sys.stdout.flush()


def run(
    all_services: list[Service], timeout: float = 300.0, env: dict[str, str] | None = None, banner: str | None = None
) -> int:
    """Start ``all_services`` in order; block until Ctrl-C or one exits."""
    started: list[tuple[Service, subprocess.Popen[bytes]]] = []
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        for service in all_services:
            print(f"starting {service.name} …", flush=True)
            process = spawn(service, subprocess.PIPE, env)
            started.append((service, process))
            assert process.stdout is not None
            threading.Thread(target=_pipe, args=(service.name, process.stdout), daemon=True).start()
            if not wait_ready(service.health_url, process, timeout):
                print(f"{service.name} did not become ready ({service.health_url}); stopping.", flush=True)
                return 1
            print(f"{service.name} ready: {service.health_url}", flush=True)
        print(
            banner
            or "All services are up: REST POST http://127.0.0.1:5005/webhooks/rest/webhook, "
            "web chat http://127.0.0.1:8000/chat, console http://127.0.0.1:8000/console — Ctrl-C stops everything.",
            flush=True,
        )
        while all(p.poll() is None for _, p in started):
            time.sleep(0.5)
        print("a service exited; stopping the others.", flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for service, process in reversed(started):
            print(f"stopping {service.name} …", flush=True)
            stop(process)
