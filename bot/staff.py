"""Staff accounts for the console: scrypt password hashes and a login rate limit.

scrypt (hashlib, RFC 7914) with a per-user salt; the stored form carries its
parameters so they can be raised later. Failed logins are counted per account and
per address in a window; past the limit even the right password is refused until
the window passes, so guessing is slow and a locked-out user is told to wait.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{2,32}$")
MIN_PASSWORD = 10
MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=10)


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
                " at text not null);")

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def add(self, username: str, password: str) -> None:
        """Create or reset an account.

        Raises:
            StaffError: username not 2–32 of A–Z a–z 0–9 _ . -, or password under 10 characters.
        """
        if not USERNAME.match(username):
            raise StaffError("username must be 2-32 characters: letters, digits, _ . -")
        if len(password) < MIN_PASSWORD:
            raise StaffError(f"password must have at least {MIN_PASSWORD} characters")
        with self._db() as db:
            db.execute("insert into staff (username, password_hash, created_at) values (?, ?, ?) on conflict(username)"
                       " do update set password_hash = excluded.password_hash",
                       (username, hash_password(password), self.now().isoformat()))

    def usernames(self) -> list[str]:
        with self._db() as db:
            return [r[0] for r in db.execute("select username from staff order by username")]

    def locked(self, username: str, address: str) -> bool:
        since = (self.now() - WINDOW).isoformat()
        with self._db() as db:
            count = db.execute("select count(*) from login_failures where (username = ? or address = ?) and at > ?",
                               (username, address, since)).fetchone()[0]
        return count >= MAX_FAILURES

    def verify(self, username: str, password: str, address: str) -> bool:
        """Check a login; failures are recorded. Call :meth:`locked` first."""
        with self._db() as db:
            row = db.execute("select password_hash from staff where username = ?", (username,)).fetchone()
        ok = check_password(password, row["password_hash"] if row else _DUMMY) and row is not None
        with self._db() as db:
            if ok:
                db.execute("delete from login_failures where username = ?", (username,))
            else:
                db.execute("insert into login_failures (username, address, at) values (?, ?, ?)",
                           (username[:64], address, self.now().isoformat()))
        return ok
