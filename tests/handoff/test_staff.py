"""Staff accounts: scrypt hashes, wrong passwords, the login rate limit."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.staff import MAX_FAILURES, WINDOW, StaffError, StaffStore, check_password, hash_password


def test_passwords_are_salted_scrypt_hashes():
    first, second = hash_password("a-long-password"), hash_password("a-long-password")
    assert first.startswith("scrypt$") and first != second
    assert check_password("a-long-password", first) and not check_password("a-long-passworD", first)


def test_accounts_need_a_sane_name_and_a_long_password(tmp_path):
    store = StaffStore(tmp_path / "s.db")
    with pytest.raises(StaffError):
        store.add("x", "a-long-password")
    with pytest.raises(StaffError):
        store.add("chen", "short")
    store.add("chen", "a-long-password")
    assert store.usernames() == ["chen"]


def test_repeated_failures_lock_the_account_for_a_while(tmp_path):
    clock = [dt.datetime(2026, 11, 23, tzinfo=dt.timezone.utc)]
    store = StaffStore(tmp_path / "s.db", now=lambda: clock[0])
    store.add("chen", "a-long-password")
    for _ in range(MAX_FAILURES):
        assert not store.verify("chen", "wrong-password", "10.0.0.1")
    assert store.locked("chen", "10.0.0.2")
    clock[0] += WINDOW + dt.timedelta(seconds=1)
    assert not store.locked("chen", "10.0.0.2")
    assert store.verify("chen", "a-long-password", "10.0.0.2")


def test_unknown_user_is_refused_like_a_wrong_password(tmp_path):
    store = StaffStore(tmp_path / "s.db")
    assert not store.verify("nobody", "whatever-password", "127.0.0.1")
