"""A scaled-profile cluster on free loopback ports, for tests and the load benchmark.

It runs what ``make run-scaled`` runs (action server, event consumer, N Rasa servers,
nginx) but with its own PostgreSQL databases, Redis key prefix and RabbitMQ queue,
named from a random suffix, so it can run beside other clusters on the same services
and be removed completely afterwards.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bot import supervisor
from bot.scaled import profile
from bot.settings import Settings


@dataclass
class Cluster:
    folder: Path
    settings: Settings
    env: dict[str, str]
    services: dict[str, supervisor.Service]
    rasa_ports: list[int]
    nginx_port: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def rasa_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.rasa_ports]

    @property
    def nginx_url(self) -> str:
        return f"http://127.0.0.1:{self.nginx_port}"

    @property
    def pg_url(self) -> str:
        return profile.postgres_url(self.settings)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-4000:]

    def start(self, name: str, timeout: float = 120.0) -> None:
        with (self.folder / f"{name}.log").open("ab") as log:
            self.processes[name] = supervisor.start(self.services[name], log, self.env, timeout=timeout)

    def stop(self, name: str) -> None:
        supervisor.stop(self.processes.pop(name))

    def balance(self, ports: list[int]) -> None:
        """(Re)start nginx balancing across ``ports`` (a subset of the Rasa servers)."""
        if "nginx" in self.processes:
            self.stop("nginx")
        profile.write_nginx_conf(self.folder / "nginx", self.nginx_port, ports)
        self.start("nginx", timeout=30)

    def close(self) -> None:
        """Stop every process and remove the databases, the queue and the lock keys."""
        for name in reversed(list(self.processes)):
            self.stop(name)
        remove_queue(self.settings)
        remove_locks(self.settings)
        for url in profile.scaled_databases(self.settings):
            profile.drop_database(url)


def launch(model: Path, folder: Path, env: dict[str, str], rasa_servers: int = 2) -> Cluster:
    """Start a cluster with state in ``folder``; ``env`` carries tokens and other settings.

    Raises:
        supervisor.ServiceFailed: a process did not come up; everything started is stopped.
    """
    unique = os.urandom(4).hex()
    rasa_ports = [supervisor.free_port() for _ in range(rasa_servers)]
    action_port, consumer_port, nginx_port = supervisor.free_port(), supervisor.free_port(), supervisor.free_port()
    env = {
        "BOT_AMQP_PASSWORD": "guest",
        "BOT_REDIS_URL": "redis://127.0.0.1:6379/1",
        **env,
        "BOT_PG_URL": f"postgresql://postgres@127.0.0.1:5432/hotline_scale_{unique}",
        "BOT_TICKETS_DB_URL": "",
        "BOT_OPS_DB_URL": "",
        "BOT_REDIS_KEY_PREFIX": f"scale{unique}",
        "BOT_AMQP_QUEUE": f"scale_events_{unique}",
        "BOT_VAR_DIR": str(folder),
        "BOT_SCALED_PORT": str(nginx_port),
    }
    settings = Settings.from_env(env)
    env.update(profile.scaled_env(settings))
    env["BOT_ACTION_URL"] = f"http://127.0.0.1:{action_port}/webhook"
    profile.prepare_databases(settings)
    endpoints = profile.write_scaled_endpoints(settings)
    conf = profile.write_nginx_conf(folder / "nginx", nginx_port, rasa_ports)
    group = supervisor.scaled_services(
        sys.executable,
        model,
        settings.rasa_token or "",
        endpoints,
        rasa_ports,
        action_port,
        None,
        consumer_port,
        (folder / "nginx", conf, nginx_port),
    )
    cluster = Cluster(folder, settings, env, {s.name: s for s in group}, rasa_ports, nginx_port)
    try:
        cluster.start("actions")
        cluster.start("consumer")
        rasa = [cluster.services[f"rasa-{port}"] for port in rasa_ports]
        for service, process in zip(rasa, supervisor.start_together(rasa, folder, env)):
            cluster.processes[service.name] = process
        cluster.start("nginx", timeout=30)
    except supervisor.ServiceFailed:
        cluster.close()
        raise
    return cluster


def remove_queue(settings: Settings) -> None:
    import aio_pika

    async def remove() -> None:
        connection = await aio_pika.connect_robust(**profile.amqp_connection(settings))
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(settings.amqp_queue)
            await channel.exchange_delete(settings.amqp_queue)

    asyncio.run(remove())


def remove_locks(settings: Settings) -> None:
    import redis

    client = redis.Redis.from_url(settings.redis_url, password=settings.redis_password)
    for key in client.scan_iter(f"{settings.redis_key_prefix}:*"):
        client.delete(key)
