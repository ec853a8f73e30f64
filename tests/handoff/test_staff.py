"""Staff accounts: scrypt hashes, wrong passwords, login back-off (never a lock-out), sessions, roles."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.handoff.staff import (
    ACCOUNT_FREE,
    FREE_TRIES,
    MAX_SHARED_WAIT,
    SESSION_IDLE,
    SESSION_LIFETIME,
    WINDOW,
    StaffError,
    StaffStore,
    backoff,
    check_password,
    hash_password,
)

START = dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def where(request, tmp_path):
    """The accounts' database: a SQLite file (default profile) or PostgreSQL (scaled profile, beside the tickets)."""
    return tmp_path / "s.db" if request.param == "sqlite" else request.getfixturevalue("pg_database")


def clocked(where):
    clock = [START]
    store = StaffStore(where, now=lambda: clock[0])
    store.add("chen", "a-long-password")
    return store, clock


def test_passwords_are_salted_scrypt_hashes():
    first, second = hash_password("a-long-password"), hash_password("a-long-password")
    assert first.startswith("scrypt$") and first != second
    assert check_password("a-long-password", first) and not check_password("a-long-passworD", first)


def test_accounts_need_a_sane_name_and_a_long_password(where):
    store = StaffStore(where)
    with pytest.raises(StaffError):
        store.add("x", "a-long-password")
    with pytest.raises(StaffError):
        store.add("chen", "short")
    store.add("chen", "a-long-password")
    assert store.usernames() == ["chen"]


def test_failures_slow_the_guesser_down_exponentially(where):
    store, clock = clocked(where)
    for _ in range(FREE_TRIES):
        assert store.retry_after("chen", "203.0.113.10") == 0
        assert not store.verify("chen", "wrong-password", "203.0.113.10")
    waits = []
    for _ in range(5):
        waits.append(store.retry_after("chen", "203.0.113.10"))
        clock[0] += dt.timedelta(seconds=waits[-1])
        assert store.retry_after("chen", "203.0.113.10") == 0
        assert not store.verify("chen", "wrong-password", "203.0.113.10")
    assert waits == [1, 2, 4, 8, 16]
    assert [backoff(n, 3, 900) for n in (0, 2, 3, 4, 12, 40)] == [0, 0, 1, 2, 512, 900]


def test_a_guesser_never_locks_the_owner_out(where):
    """Security review H3: five wrong passwords from other addresses locked the account even for its owner."""
    store, clock = clocked(where)
    for i in range(50):
        store.verify("chen", f"wrong-{i}", f"203.0.113.{i}")
    assert store.retry_after("chen", "192.0.2.99") == 0  # the owner's own desk
    assert store.verify("chen", "a-long-password", "192.0.2.99")


def test_many_addresses_on_one_account_each_wait_a_little(where):
    store, clock = clocked(where)
    for i in range(ACCOUNT_FREE + 10):
        store.verify("chen", "wrong-password", f"203.0.113.{i}")
    assert 0 < store.retry_after("chen", "203.0.113.1") <= MAX_SHARED_WAIT


def test_spraying_usernames_from_one_address_slows_that_address_only_a_little(where):
    """Behind one address (an office NAT) a sprayer must not lock every colleague out: at most 30 s."""
    store, clock = clocked(where)
    for i in range(40):
        store.verify(f"user{i}", "wrong-password", "198.51.100.7")
    store.verify("chen", "wrong-password", "198.51.100.7")
    assert 0 < store.retry_after("chen", "198.51.100.7") <= MAX_SHARED_WAIT
    clock[0] += dt.timedelta(seconds=MAX_SHARED_WAIT)
    assert store.retry_after("chen", "198.51.100.7") == 0
    assert store.verify("chen", "a-long-password", "198.51.100.7")


def test_old_failures_are_pruned(where):
    from sqlalchemy import text

    store, clock = clocked(where)
    for i in range(30):
        store.verify("ghost", "wrong-password", f"203.0.113.{i}")
    clock[0] += WINDOW + dt.timedelta(seconds=1)
    store.verify("ghost", "wrong-password", "203.0.113.200")
    with store.engine.connect() as db:
        assert db.execute(text("select count(*) from login_failures")).scalar() == 1


def test_sessions_end_at_logout_password_reset_removal_idle_and_lifetime(where):
    store, clock = clocked(where)
    first, second = store.open_session("chen"), store.open_session("chen")
    assert store.session_staff(first).username == "chen"
    store.end_session(first)
    assert store.session_staff(first) is None and store.session_staff(second) is not None
    store.add("chen", "another-long-password")  # a password reset ends every session
    assert store.session_staff(second) is None
    idle = store.open_session("chen")
    clock[0] += SESSION_IDLE + dt.timedelta(seconds=1)
    assert store.session_staff(idle) is None
    old = store.open_session("chen")
    for _ in range(int(SESSION_LIFETIME / dt.timedelta(hours=1)) + 1):
        clock[0] += dt.timedelta(hours=1)
        if clock[0] - START < SESSION_LIFETIME:
            assert store.session_staff(old) is not None
    assert store.session_staff(old) is None
    gone = store.open_session("chen")
    store.remove("chen")
    assert store.session_staff(gone) is None
    assert store.session_staff("made-up-session-id") is None


def test_roles_default_to_agent_and_survive_a_password_reset(where):
    store, _ = clocked(where)
    assert store.staff("chen").role == "agent" and not store.staff("chen").supervisor
    store.add("chen", "a-long-password", "supervisor")
    store.add("chen", "another-long-password")
    assert store.staff("chen").supervisor
    with pytest.raises(StaffError):
        store.add("chen", "a-long-password", "admin")


def test_the_access_log_keeps_who_opened_which_ticket(where):
    store, _ = clocked(where)
    store.log_access(7, "chen", "view")
    store.log_access(8, "lin", "reply")
    assert [(r["ticket_id"], r["username"], r["action"]) for r in store.access_log()] == [
        (8, "lin", "reply"),
        (7, "chen", "view"),
    ]
    assert [r["username"] for r in store.access_log(7)] == ["chen"]


def test_unknown_user_is_refused_like_a_wrong_password(where):
    store = StaffStore(where)
    assert not store.verify("nobody", "whatever-password", "127.0.0.1")


def test_accounts_live_where_the_tickets_are_so_web_replicas_share_sessions(tmp_path, pg_database):
    from bot.handoff.staff import open_staff_store
    from bot.handoff.tickets_sql import open_ticket_store
    from bot.settings import Settings

    default = Settings.from_env({"BOT_VAR_DIR": str(tmp_path / "default")})
    open_staff_store(default).add("chen", "a-long-password")
    assert (tmp_path / "default" / "staff.db").exists()  # the default profile: unchanged
    scaled = Settings.from_env({"BOT_VAR_DIR": str(tmp_path / "scaled"), "BOT_TICKETS_DB_URL": pg_database})
    one, other = open_staff_store(scaled), open_staff_store(scaled)  # two web app replicas
    one.add("lin", "a-long-password")
    session = one.open_session("lin")
    assert other.session_staff(session).username == "lin"
    other.end_session(session)
    assert one.session_staff(session) is None
    tickets = open_ticket_store(scaled)
    assert tickets.engine.url == one.engine.url  # one database for tickets and accounts
    assert not (tmp_path / "scaled").exists()
    for store in (one, other, tickets):
        store.close()


def test_staff_add_scaled_saves_the_account_in_the_scaled_profiles_database(tmp_path, pg_database):
    """`make run-scaled` gives its web app BOT_TICKETS_DB_URL (else BOT_PG_URL); `staff add --scaled` writes there."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": str(root),
        "BOT_VAR_DIR": str(tmp_path),
        "BOT_PG_URL": pg_database,
        "BOT_TICKETS_DB_URL": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "staff", "add", "mei", "--password-stdin", "--scaled"],
        cwd=root,
        env=env,
        input="a-long-password\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert StaffStore(pg_database).verify("mei", "a-long-password", "127.0.0.1")
    assert not (tmp_path / "staff.db").exists()
