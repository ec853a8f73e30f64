"""The Redis lock store on real Redis: tickets taken at the same moment by several servers."""

from __future__ import annotations

import os
import threading

import pytest
import redis

from bot.scaled.locks import AtomicRedisLockStore


@pytest.fixture
def prefix():
    name = "locktest" + os.urandom(4).hex()
    yield name
    client = redis.Redis(host="127.0.0.1", port=6379, db=1)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)


def test_tickets_issued_at_once_by_two_servers_are_all_distinct_and_kept(prefix):
    servers = [AtomicRedisLockStore(host="127.0.0.1", port=6379, db=1, key_prefix=prefix) for _ in range(2)]
    barrier, issued = threading.Barrier(20), []

    def take(index: int) -> None:
        barrier.wait()
        issued.append(servers[index % 2].issue_ticket("caller-1", 30))

    threads = [threading.Thread(target=take, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(issued) == list(range(20))  # Rasa's RedisLockStore hands out repeats here
    lock = servers[0].get_lock("caller-1")
    assert sorted(t.number for t in lock.tickets) == list(range(20))  # and loses some of them


def test_finishing_a_turn_keeps_the_tickets_of_those_waiting(prefix):
    first, second = (AtomicRedisLockStore(host="127.0.0.1", port=6379, db=1, key_prefix=prefix) for _ in range(2))
    mine = first.issue_ticket("caller-2", 30)
    waiting = second.issue_ticket("caller-2", 30)
    first.cleanup("caller-2", mine)
    lock = second.get_lock("caller-2")
    assert lock is not None and not lock.is_locked(waiting)  # the waiting message goes next


def test_a_message_waiting_behind_a_dead_servers_ticket_goes_once_that_ticket_expires(prefix):
    """Rasa's loop waits for ever here: its own ticket expires together with the dead one."""
    import asyncio

    store = AtomicRedisLockStore(host="127.0.0.1", port=6379, db=1, key_prefix=prefix)
    store.issue_ticket("caller-3", 1)  # taken by a server that then died, never released

    async def next_message() -> int:
        async with store.lock("caller-3", lock_lifetime=1, wait_time_in_seconds=0.05) as lock:
            return lock.now_serving

    assert asyncio.run(asyncio.wait_for(next_message(), 10)) == 1


def test_a_turn_holds_the_lock_in_three_redis_round_trips_and_leaves_nothing_behind(prefix):
    """Each change is one atomic script: issue, acquire, clean up (Rasa's mutexed read-modify-write took 13)."""
    import asyncio

    store = AtomicRedisLockStore(host="127.0.0.1", port=6379, db=1, key_prefix=prefix)

    async def turn() -> None:
        async with store.lock("caller-4", wait_time_in_seconds=0.05):
            pass

    asyncio.run(turn())  # loads the scripts into Redis
    commands = []
    execute = store.red.execute_command

    def counted(*args, **kwargs):
        commands.append(args[0])
        return execute(*args, **kwargs)

    store.red.execute_command = counted
    asyncio.run(turn())
    assert commands == ["EVALSHA", "EVALSHA", "EVALSHA"]
    assert store.get_lock("caller-4") is None  # no one waits: the queue is gone
