"""The scaled profile's generated files and the consumer's exactly-once writes (real PostgreSQL, real nginx)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import sqlalchemy as sa
import yaml

from bot.scaled import profile
from bot.scaled.consumer import Delivery, OpsEventWriter, decode, deliveries_of
from bot.settings import Settings


def settings(**env: str) -> Settings:
    return Settings.from_env({"BOT_AMQP_PASSWORD": "amqp-secret-1", **env})


def test_scaled_endpoints_name_the_shared_services_and_keep_passwords_out():
    text = profile.scaled_endpoints(settings(BOT_PG_PASSWORD="pg-secret-1", BOT_REDIS_URL="redis://10.0.0.5:6380/3"))
    assert "pg-secret-1" not in text and "amqp-secret-1" not in text
    config = yaml.safe_load(text)
    assert (
        config["tracker_store"]["dialect"] == "postgresql"
        and config["tracker_store"]["password"] == "${BOT_PG_PASSWORD}"
    )
    assert config["lock_store"] == {
        "type": "bot.scaled.locks.AtomicRedisLockStore",
        "url": "10.0.0.5",
        "port": 6380,
        "db": 3,
        "key_prefix": "hotline",
    }
    assert config["event_broker"]["queues"] == ["hotline_events"]
    assert config["event_broker"]["password"] == "${BOT_AMQP_PASSWORD}"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"BOT_AMQP_PASSWORD": ""}, "BOT_AMQP_PASSWORD"),
        ({"BOT_PG_URL": "postgresql://postgres:hunter2@db/hotline"}, "BOT_PG_PASSWORD"),
        ({"BOT_REDIS_URL": "redis://127.0.0.1:6379/locks"}, "BOT_REDIS_URL"),
    ],
)
def test_unusable_settings_stop_generation_naming_the_variable(env, variable):
    with pytest.raises(profile.ProfileError, match=variable):
        profile.scaled_endpoints(settings(**env))


def test_generated_nginx_config_is_accepted_by_nginx(tmp_path):
    conf = profile.write_nginx_conf(tmp_path / "nginx", 18080, [15005, 15006, 15007])
    result = subprocess.run(
        ["nginx", "-t", "-e", str(tmp_path / "nginx" / "error.log"), "-p", str(tmp_path / "nginx"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    text = conf.read_text()
    assert text.count("server 127.0.0.1:1500") == 9  # each server in the balanced, sticky and LINE upstreams
    assert text.count(" backup;") == 2  # LINE webhooks: one server at a time
    assert "hash $binary_remote_addr consistent" in text and "proxy_set_header Upgrade $http_upgrade" in text


def test_the_generated_nginx_cuts_off_slow_clients(tmp_path):
    """make run-scaled's nginx had no client_header_timeout (nginx's default is 60 s) unlike deploy/nginx.conf;
    a slow client is cut off after 10 s (security review L1)."""
    from bot import supervisor
    from tests.security.slowloris import slow_clients

    port = supervisor.free_port()
    conf = profile.write_nginx_conf(tmp_path / "nginx", port, [supervisor.free_port()])
    service = supervisor.Service(
        "nginx",
        (
            "nginx",
            "-e",
            str(tmp_path / "nginx" / "error.log"),
            "-p",
            str(tmp_path / "nginx"),
            "-c",
            str(conf),
            "-g",
            "daemon off;",
        ),
        f"http://127.0.0.1:{port}/nginx-health",
    )
    with (tmp_path / "nginx.log").open("wb") as log:
        process = supervisor.start(service, log, dict(os.environ), timeout=30)
    try:
        lasted = slow_clients(port, count=5, give_up=25)
    finally:
        supervisor.stop(process)
    assert None not in lasted, lasted


def events_in(url: str) -> list[dict]:
    engine = sa.create_engine(url)
    with engine.connect() as db:
        rows = [json.loads(r.data) for r in db.execute(sa.text("select data from events order by id"))]
    engine.dispose()
    return rows


def test_a_redelivered_batch_is_written_once(pg_database):
    writer = OpsEventWriter(pg_database)
    batch = [
        Delivery(f"m{i}", {"sender_id": "u1", "event": "user", "text": f"第{i}則", "timestamp": i}) for i in range(3)
    ]
    assert writer.write(batch) == 3
    assert writer.write(batch[1:] + [Delivery("m9", {"sender_id": "u1", "event": "bot", "timestamp": 9})]) == 1
    writer.close()
    assert [e["timestamp"] for e in events_in(pg_database)] == [0, 1, 2, 9]


def test_messages_without_an_id_are_told_apart_by_their_body():
    first, again, other = (
        decode(b'{"event": "user", "timestamp": 1}', None),
        decode(b'{"event": "user", "timestamp": 1}', ""),
        decode(b'{"event": "user", "timestamp": 2}', None),
    )
    assert first.message_id == again.message_id != other.message_id and len(first.message_id) <= 64
    for body in (b"not json", b"[1, 2]"):
        with pytest.raises(ValueError):
            decode(body, "m1")


def test_each_stored_message_id_names_its_own_event_and_a_batch_keeps_its_order(pg_database):
    writer = OpsEventWriter(pg_database)
    turns = [Delivery(f"t{i}", {"sender_id": f"u{i % 3}", "event": "user", "timestamp": i}) for i in range(40)]
    assert writer.write(turns[:25]) == 25
    assert writer.write(turns) == 15  # a redelivery plus new messages in one batch
    writer.close()
    assert [e["timestamp"] for e in events_in(pg_database)] == list(range(40))
    engine = sa.create_engine(pg_database)
    with engine.connect() as db:
        pairs = db.execute(
            sa.text("select m.message_id, e.data from broker_messages m join events e on e.id = m.event_id")
        ).all()
    engine.dispose()
    assert sorted((m, json.loads(d)["timestamp"]) for m, d in pairs) == sorted((f"t{i}", i) for i in range(40))


def test_a_turn_published_as_one_message_is_stored_event_by_event_once(pg_database):
    turn = [{"sender_id": "u1", "event": "user", "text": "手機0912345678", "timestamp": 1}]
    turn += [{"sender_id": "u1", "event": "bot", "text": "好的", "timestamp": 2}]
    body = json.dumps(turn).encode()
    writer = OpsEventWriter(pg_database)
    assert writer.write(deliveries_of(body, "turn1")) == 2
    assert writer.write(deliveries_of(body, "turn1")) == 0  # redelivered after a crash before the ack
    assert writer.write(deliveries_of(b'{"sender_id": "u1", "event": "action", "timestamp": 3}', "single")) == 1
    writer.close()
    stored = events_in(pg_database)
    assert [e["timestamp"] for e in stored] == [1, 2, 3]
    assert stored[0]["text"] == "手機[手機]"  # masked again by the consumer whatever published it
    for body in (b"[]", b'[{"event": "user"}, 2]', b'"text"'):
        with pytest.raises(ValueError):
            deliveries_of(body, "m1")
