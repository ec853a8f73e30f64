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

Accounts live where the tickets are (``open_staff_store``): ``var/staff.db`` by default;
in the scaled profile the shared PostgreSQL database, so sessions and the back-off hold
across several web app replicas. SQLAlchemy Core through ``bot/db.py``, as the tickets.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    Column,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection

from bot import db as database
from bot.settings import Settings

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

metadata = MetaData()
staff_table = Table(
    "staff",
    metadata,
    Column("username", Text, primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("role", Text, nullable=False, server_default="agent"),  # added later: _add_role adds it to older files
)
login_failures = Table(
    "login_failures",
    metadata,
    Column("username", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("at", Text, nullable=False),
)
Index("login_failures_at", login_failures.c.at)
sessions = Table(
    "sessions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("username", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("seen_at", Text, nullable=False),
)
ticket_access = Table(  # append-only
    "ticket_access",
    metadata,
    Column("ticket_id", Integer, nullable=False),
    Column("username", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("at", Text, nullable=False),
)


class StaffError(ValueError):
    """A bad username or password when adding an account."""


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return (
        f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    )


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(base64.b64decode(digest)),
        )
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


def open_staff_store(settings: Settings) -> StaffStore:
    """Accounts where the tickets are: PostgreSQL for a postgresql:// BOT_TICKETS_DB_URL, else ``var/staff.db``.

    The scaled profile gives every process the same BOT_TICKETS_DB_URL, so each web app
    replica sees the same accounts, sessions and login failures; one replica's file would
    forget a login another replica made. A ``sqlite:///`` tickets URL keeps accounts in
    ``var/staff.db``, as before.
    """
    url = settings.tickets_db_url
    if url.startswith("postgresql"):
        return StaffStore(database.postgres_url(url, settings.pg_password))
    return StaffStore(settings.staff_path)


class StaffStore:
    """Accounts, login failures, sessions and the access log in one database (a SQLite ``Path`` or a SQLAlchemy URL)."""

    def __init__(
        self, target: Path | str, now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)
    ) -> None:
        self.engine = database.open_engine(target)
        self.now = now
        with database.creating(self.engine, metadata) as db:
            _add_role(db)

    def close(self) -> None:
        self.engine.dispose()

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
        with self.engine.begin() as db:
            statement = database.upsert(db, staff_table).values(
                username=username,
                password_hash=hash_password(password),
                created_at=self.now().isoformat(),
                role=role or "agent",
            )
            changes = {"password_hash": statement.excluded.password_hash, **({"role": role} if role else {})}
            db.execute(statement.on_conflict_do_update(index_elements=[staff_table.c.username], set_=changes))
            db.execute(delete(sessions).where(sessions.c.username == username))
            db.execute(delete(login_failures).where(login_failures.c.username == username))

    def remove(self, username: str) -> bool:
        with self.engine.begin() as db:
            db.execute(delete(sessions).where(sessions.c.username == username))
            return int(db.execute(delete(staff_table).where(staff_table.c.username == username)).rowcount) > 0

    def usernames(self) -> list[str]:
        with database.reading(self.engine) as db:
            return list(db.execute(select(staff_table.c.username).order_by(staff_table.c.username)).scalars())

    def staff(self, username: str) -> Staff | None:
        query = select(staff_table.c.username, staff_table.c.role).where(staff_table.c.username == username)
        with database.reading(self.engine) as db:
            row = db.execute(query).first()
        return Staff(row.username, row.role) if row else None

    # Login back-off

    def retry_after(self, username: str, address: str) -> float:
        """Seconds this (username, address) must still wait before a password is checked; 0 when it may try now."""
        now = self.now()
        recent = login_failures.c.at > (now - WINDOW).isoformat()
        failures = select(func.count(), func.max(login_failures.c.at)).where(recent)
        with database.reading(self.engine) as db:
            pair, last = db.execute(
                failures.where(login_failures.c.username == username, login_failures.c.address == address)
            ).one()
            if not pair:
                return 0.0
            account = db.execute(failures.where(login_failures.c.username == username)).one()[0]
            by_address = db.execute(failures.where(login_failures.c.address == address)).one()[0]
        wait = max(
            backoff(pair, FREE_TRIES, MAX_PAIR_WAIT),
            backoff(account, ACCOUNT_FREE, MAX_SHARED_WAIT),
            backoff(by_address, ADDRESS_FREE, MAX_SHARED_WAIT),
        )
        elapsed = (now - dt.datetime.fromisoformat(last)).total_seconds()
        return max(0.0, wait - elapsed)

    def verify(self, username: str, password: str, address: str) -> bool:
        """Check a login (scrypt: call it off the event loop); failures are recorded. Call :meth:`retry_after` first."""
        with database.reading(self.engine) as db:
            stored = db.execute(select(staff_table.c.password_hash).where(staff_table.c.username == username)).scalar()
        ok = check_password(password, stored or _DUMMY) and stored is not None
        now = self.now()
        with self.engine.begin() as db:
            if ok:
                db.execute(
                    delete(login_failures).where(
                        login_failures.c.username == username, login_failures.c.address == address
                    )
                )
            else:
                db.execute(
                    insert(login_failures).values(username=username[:64], address=address[:64], at=now.isoformat())
                )
            db.execute(delete(login_failures).where(login_failures.c.at <= (now - WINDOW).isoformat()))
        return ok

    # Sessions

    def open_session(self, username: str) -> str:
        session_id = secrets.token_urlsafe(32)
        now = self.now().isoformat()
        with self.engine.begin() as db:
            db.execute(insert(sessions).values(id=session_id, username=username, created_at=now, seen_at=now))
            db.execute(delete(sessions).where(sessions.c.created_at <= (self.now() - SESSION_LIFETIME).isoformat()))
        return session_id

    def session_staff(self, session_id: str) -> Staff | None:
        """The account of a live session: not ended, younger than 8 h, used in the last 2 h, account still there.

        The session is read without the write lock (every console request asks), and
        written only when it has expired or its last use is over a minute old.
        """
        now = self.now()
        query = (
            select(sessions.c.username, sessions.c.created_at, sessions.c.seen_at, staff_table.c.role)
            .join(staff_table, staff_table.c.username == sessions.c.username)
            .where(sessions.c.id == session_id)
        )
        with database.reading(self.engine) as db:
            row = db.execute(query).first()
        if row is None:
            return None
        created, seen = dt.datetime.fromisoformat(row.created_at), dt.datetime.fromisoformat(row.seen_at)
        if now - created > SESSION_LIFETIME or now - seen > SESSION_IDLE:
            self.end_session(session_id)
            return None
        if now - seen > dt.timedelta(minutes=1):
            with self.engine.begin() as db:
                db.execute(update(sessions).where(sessions.c.id == session_id).values(seen_at=now.isoformat()))
        return Staff(row.username, row.role)

    def end_session(self, session_id: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(sessions).where(sessions.c.id == session_id))

    # Access log

    def log_access(self, ticket_id: int, username: str, action: str) -> None:
        with self.engine.begin() as db:
            db.execute(
                insert(ticket_access).values(
                    ticket_id=ticket_id, username=username, action=action, at=self.now().isoformat()
                )
            )

    def access_log(self, ticket_id: int | None = None, limit: int = 200) -> list[dict[str, object]]:
        query = select(ticket_access)
        if ticket_id is not None:
            query = query.where(ticket_access.c.ticket_id == ticket_id)
        with database.reading(self.engine) as db:
            query = query.order_by(ticket_access.c.at.desc(), database.insertion_order(db).desc()).limit(limit)
            return [dict(r._mapping) for r in db.execute(query)]


def _add_role(db: Connection) -> None:
    """Add the ``role`` column to an accounts table made before roles existed (every account an agent)."""
    if "role" not in {column["name"] for column in inspect(db).get_columns("staff")}:
        db.execute(text("alter table staff add column role text not null default 'agent'"))
