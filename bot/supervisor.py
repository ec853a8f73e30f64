"""Start the bot's processes, report when each is ready, stop them all on Ctrl-C.

``make run`` calls :func:`run`. Each process is a subprocess with its own output
prefixed by its name; readiness is an HTTP health check, not a sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    command: tuple[str, ...]
    health_url: str


def services(python: str, model: Path, token: str, rasa_port: int = 5005, action_port: int = 5055) -> list[Service]:
    """The default profile: action server, then Rasa (REST channel and HTTP API)."""
    rasa = str(Path(python).with_name("rasa"))
    return [
        Service("actions", (rasa, "run", "actions", "--actions", "actions", "--port", str(action_port)),
                f"http://127.0.0.1:{action_port}/health"),
        Service("rasa", (rasa, "run", "--model", str(model), "--enable-api", "--auth-token", token,
                         "--interface", "127.0.0.1", "--port", str(rasa_port),
                         "--credentials", "credentials.yml", "--endpoints", "endpoints.yml"),
                f"http://127.0.0.1:{rasa_port}/webhooks/rest/"),
    ]


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


def _pipe(name: str, stream) -> None:  # type: ignore[no-untyped-def]
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"[{name}] {line.decode(errors='replace')}")
        sys.stdout.flush()


def run(all_services: list[Service], timeout: float = 300.0) -> int:
    """Start ``all_services`` in order; block until Ctrl-C or one exits."""
    started: list[tuple[Service, subprocess.Popen[bytes]]] = []

    def stop(*_: object) -> None:
        for service, process in reversed(started):
            if process.poll() is None:
                print(f"stopping {service.name} …", flush=True)
                process.terminate()
        for _, process in started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        for service in all_services:
            print(f"starting {service.name} …", flush=True)
            process = subprocess.Popen(service.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())
            started.append((service, process))
            threading.Thread(target=_pipe, args=(service.name, process.stdout), daemon=True).start()
            if not wait_ready(service.health_url, process, timeout):
                print(f"{service.name} did not become ready ({service.health_url}); stopping.", flush=True)
                stop()
                return 1
            print(f"{service.name} ready: {service.health_url}", flush=True)
        print("All services are up. REST: POST http://127.0.0.1:5005/webhooks/rest/webhook — Ctrl-C stops everything.", flush=True)
        while all(p.poll() is None for _, p in started):
            time.sleep(0.5)
        print("a service exited; stopping the others.", flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop()
