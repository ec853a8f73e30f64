"""Staff accounts for the console: scrypt password hashes, login back-off, server-side sessions, roles.

scrypt (hashlib, RFC 7914) with a per-user salt; the stored form carries its
parameters so they can be raised later.

Failed logins slow down instead of locking anyone out (security review H3): a
(username, address) pair gets a few free tries, then must wait 1, 2, 4 … seconds
(at most 15 minutes) after its last failure. An account failing from many addresses
and an address failing for many usernames add a gentle wait (at most 30 s) for
addresses that failed themselves, so the owner, trying from their own desk, is never
refused the right password because someone else guessed. Old failures are pruned.

Sessions live in the database (random ids in the signed cookie): logging out ends that
session, a password reset or a removed account ends every session of the account.

Roles: ``agent`` (default) and ``supervisor`` (may act on colleagues' claimed tickets).
Who opened which ticket is kept in ``ticket_access``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,32}$")
MIN_PASSWORD = 10
WINDOW = dt.timedelta(minutes=15)
FREE_TRIES = 3  # per (username, address) before the first wait
MAX_PAIR_WAIT = 900.0
ACCOUNT_FREE, ADDRESS_FREE, MAX_SHARED_WAIT = 20, 20, 30.0
SESSION_LIFETIME = dt.timedelta(hours=8)
SESSION_IDLE = dt.timedelta(hours=2)
ROLES = ("agent", "supervisor")


class StaffError(ValueError):
    """A bad username or password when adding an account."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


# A hash to check against when the user does not exist, so timing does not tell.
_DUMMY = hash_password("not-a-real-password", b"0123456789abcdef")


def backoff(failures: int, free: int, cap: float) -> float:
    """Seconds to wait after the last of ``failures``: none for the first ``free``, then 1, 2, 4 … up to ``cap``."""
    return 0.0 if failures < free else min(cap, 2.0 ** min(failures - free, 30))


@dataclass(frozen=True, slots=True)
class Staff:
    username: str
    role: str

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"


class StaffStore:
    def __init__(self, path: Path, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> None:
        self.path = path
        self.now = now
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(
                "create table if not exists staff (username text primary key, password_hash text not null,"
                " created_at text not null);"
                "create table if not exists login_failures (username text not null, address text not null,"
                " at text not null);"
                "create index if not exists login_failures_at on login_failures (at);"
                "create table if not exists sessions (id text primary key, username text not null,"
                " created_at text not null, seen_at text not null);"
                "create table if not exists ticket_access (ticket_id integer not null, username text not null,"
                " action text not null, at text not null);")
            columns = {row[1] for row in db.execute("pragma table_info(staff)")}
            if "role" not in columns:
                db.execute("alter table staff add column role text not null default 'agent'")

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def add(self, username: str, password: str, role: str | None = None) -> None:
        """Create or reset an account; a reset ends every session of the account.

        Raises:
            StaffError: username not 2–32 of A–Z a–z 0–9 _ . -, password under 10 characters, or an unknown role.
        """
        if not USERNAME.match(username):
            raise StaffError("username must be 2-32 characters: letters, digits, _ . -")
        if len(password) < MIN_PASSWORD:
            raise StaffError(f"password must have at least {MIN_PASSWORD} characters")
        if role is not None and role not in ROLES:
            raise StaffError(f"role must be one of {', '.join(ROLES)}")
        with self._db() as db:
            db.execute("insert into staff (username, password_hash, created_at, role) values (?, ?, ?, ?)"
                       " on conflict(username) do update set password_hash = excluded.password_hash,"
                       " role = coalesce(?, staff.role)",
                       (username, hash_password(password), self.now().isoformat(), role or "agent", role))
            db.execute("delete from sessions where username = ?", (username,))
            db.execute("delete from login_failures where username = ?", (username,))

    def remove(self, username: str) -> bool:
        with self._db() as db:
            db.execute("delete from sessions where username = ?", (username,))
            return db.execute("delete from staff where username = ?", (username,)).rowcount > 0

    def usernames(self) -> list[str]:
        with self._db() as db:
            return [r[0] for r in db.execute("select username from staff order by username")]

    def staff(self, username: str) -> Staff | None:
        with self._db() as db:
            row = db.execute("select username, role from staff where username = ?", (username,)).fetchone()
        return Staff(row["username"], row["role"]) if row else None

    # Login back-off

    def retry_after(self, username: str, address: str) -> float:
        """Seconds this (username, address) must still wait before a password is checked; 0 when it may try now."""
        now = self.now()
        since = (now - WINDOW).isoformat()
        with self._db() as db:
            pair, last = db.execute("select count(*), max(at) from login_failures where username = ? and address = ?"
                                    " and at > ?", (username, address, since)).fetchone()
            if not pair:
                return 0.0
            account = db.execute("select count(*) from login_failures where username = ? and at > ?",
                                 (username, since)).fetchone()[0]
            by_address = db.execute("select count(*) from login_failures where address = ? and at > ?",
                                    (address, since)).fetchone()[0]
        wait = max(backoff(pair, FREE_TRIES, MAX_PAIR_WAIT), backoff(account, ACCOUNT_FREE, MAX_SHARED_WAIT),
                   backoff(by_address, ADDRESS_FREE, MAX_SHARED_WAIT))
        elapsed = (now - dt.datetime.fromisoformat(last)).total_seconds()
        return max(0.0, wait - elapsed)

    def verify(self, username: str, password: str, address: str) -> bool:
        """Check a login (scrypt: call it off the event loop); failures are recorded. Call :meth:`retry_after` first."""
        with self._db() as db:
            row = db.execute("select password_hash from staff where username = ?", (username,)).fetchone()
        ok = check_password(password, row["password_hash"] if row else _DUMMY) and row is not None
        now = self.now()
        with self._db() as db:
            if ok:
                db.execute("delete from login_failures where username = ? and address = ?", (username, address))
            else:
                db.execute("insert into login_failures (username, address, at) values (?, ?, ?)",
                           (username[:64], address[:64], now.isoformat()))
            db.execute("delete from login_failures where at <= ?", ((now - WINDOW).isoformat(),))
        return ok

    # Sessions

    def open_session(self, username: str) -> str:
        session_id = secrets.token_urlsafe(32)
        now = self.now().isoformat()
        with self._db() as db:
            db.execute("insert into sessions (id, username, created_at, seen_at) values (?, ?, ?, ?)",
                       (session_id, username, now, now))
            db.execute("delete from sessions where created_at <= ?", ((self.now() - SESSION_LIFETIME).isoformat(),))
        return session_id

    def session_staff(self, session_id: str) -> Staff | None:
        """The account of a live session: not ended, younger than 8 h, used in the last 2 h, account still there."""
        now = self.now()
        with self._db() as db:
            row = db.execute("select s.username, s.created_at, s.seen_at, staff.role from sessions s"
                             " join staff on staff.username = s.username where s.id = ?", (session_id,)).fetchone()
            if row is None:
                return None
            created, seen = dt.datetime.fromisoformat(row["created_at"]), dt.datetime.fromisoformat(row["seen_at"])
            if now - created > SESSION_LIFETIME or now - seen > SESSION_IDLE:
                db.execute("delete from sessions where id = ?", (session_id,))
                return None
            if now - seen > dt.timedelta(minutes=1):
                db.execute("update sessions set seen_at = ? where id = ?", (now.isoformat(), session_id))
        return Staff(row["username"], row["role"])

    def end_session(self, session_id: str) -> None:
        with self._db() as db:
            db.execute("delete from sessions where id = ?", (session_id,))

    # Access log

    def log_access(self, ticket_id: int, username: str, action: str) -> None:
        with self._db() as db:
            db.execute("insert into ticket_access (ticket_id, username, action, at) values (?, ?, ?, ?)",
                       (ticket_id, username, action, self.now().isoformat()))

    def access_log(self, ticket_id: int | None = None, limit: int = 200) -> list[dict[str, object]]:
        query = "select ticket_id, username, action, at from ticket_access"
        args: tuple[object, ...] = ()
        if ticket_id is not None:
            query, args = query + " where ticket_id = ?", (ticket_id,)
        with self._db() as db:
            return [dict(r) for r in db.execute(query + " order by at desc, rowid desc limit ?", (*args, limit))]
