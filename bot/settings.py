"""Settings: one table of (name, env name, default, help), read once at an entry point.

The table is the ``Settings`` dataclass itself: each field names its variable, default,
help and parser through :func:`setting`, and ``SETTINGS`` is read off its fields, so a
name is written once and the type checker still sees every field's type (a
``make_dataclass`` built from a list would hide them).

Only entry points read ``os.environ``; everything else receives a ``Settings``.
Secrets have no default. A bad value stops start-up naming the variable.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bot.clock import weekly_hours

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the variable."""


# Secrets we generate ourselves (make secrets): 48 hex digits. Anything shorter, or a value
# copied from .env.example or a tutorial, would make cookies and tokens forgeable (review M2).
MIN_SECRET_CHARS = 32
PLACEHOLDER_SECRETS = frozenset({"change-me", "changeme", "change_me", "secret", "password", "token", "test", "xxx"})


def is_placeholder(value: str | None) -> bool:
    if not value:
        return False
    return value.strip().lower() in PLACEHOLDER_SECRETS or "change-me" in value.lower()


def secret_problem(value: str | None) -> str | None:
    """Why ``value`` cannot serve as a generated secret, or ``None``."""
    if not value:
        return "is not set (make secrets writes a random one to .env)"
    if is_placeholder(value):
        return "is the placeholder from .env.example; run `make secrets` to replace it with a random value"
    if len(value) < MIN_SECRET_CHARS:
        return f"is shorter than {MIN_SECRET_CHARS} characters; run `make secrets` for a random one"
    return None


@dataclass(frozen=True, slots=True)
class Spec:
    """One setting as the docs, ``.env.example`` and ``from_env`` see it."""

    field: str
    env: str
    default: str | None
    help: str
    parse: Callable[[str], Any] = str
    secret: bool = False


def setting(env: str, default: str | None, help: str, parse: Callable[[str], Any] = str, secret: bool = False) -> Any:
    """A ``Settings`` field read from ``env`` (``default`` when unset) by ``parse``; ``help`` documents it.

    Returns a ``dataclasses.field`` without a default: every field is given by ``from_env``.
    """
    return field(metadata={"env": env, "default": default, "help": help, "parse": parse, "secret": secret})


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def _office_hours(text: str) -> str:
    weekly_hours(text)
    return text


_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def _origins(text: str) -> tuple[str, ...]:
    """Comma-separated origins (scheme://host[:port], no path); empty adds none."""
    origins = tuple(o.strip().rstrip("/") for o in text.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise ValueError(f"{origin!r} is not an origin such as https://www.example.gov.tw")
    return origins


def _networks(text: str) -> str:
    import ipaddress

    for part in text.split(","):
        if part.strip():
            ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the bad part
    return text


def _rate(text: str) -> tuple[float, float] | None:
    """``rate/burst`` (messages a second / bucket size), or ``off``."""
    if text.strip().lower() in ("off", "0", ""):
        return None
    rate, _, burst = text.partition("/")
    try:
        value = (float(rate), float(burst or rate))
    except ValueError as exc:
        raise ValueError("must be rate/burst such as 1/5 (messages a second / burst), or off") from exc
    if value[0] <= 0 or value[1] < 1:
        raise ValueError("rate must be above 0 and burst at least 1")
    return value


def _secure_cookies(text: str) -> str:
    if text not in ("auto", "always"):
        raise ValueError("must be auto or always")
    return text


def _optional_redis_url(text: str) -> str:
    if text and not text.startswith(("redis://", "rediss://")):
        raise ValueError("must be empty or start with redis://")
    return text


def _path(text: str) -> Path:
    path = Path(text)
    return path if path.is_absolute() else ROOT / path


def _db_url(text: str) -> str:
    if text and not text.startswith(("postgresql://", "postgresql+psycopg2://", "sqlite:///")):
        raise ValueError("must be empty, postgresql://user@host:port/db or sqlite:///path")
    return text


def _service_url(scheme: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text.startswith(f"{scheme}://"):
            raise ValueError(f"must start with {scheme}://")
        return text

    return parse


def _alphanumeric(text: str) -> str:
    if not (text.isascii() and text.isalnum()):
        raise ValueError("must be ASCII letters and digits only")
    return text


def _queue_name(text: str) -> str:
    if not (text.isascii() and text.replace("_", "").replace("-", "").replace(".", "").isalnum()):
        raise ValueError("must be ASCII letters, digits, '_', '-' or '.'")
    return text


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting: one field each, with its environment variable, default, help and parser (:func:`setting`)."""

    var_dir: Path = setting(
        "BOT_VAR_DIR", "var", "Folder for runtime state: kb.db, generated NLU files, databases.", _path
    )
    knowledge_dir: Path = setting("BOT_KNOWLEDGE_DIR", "knowledge", "Folder of the knowledge records (YAML).", _path)
    models_dir: Path = setting("BOT_MODELS_DIR", "models", "Folder of trained Rasa models.", _path)
    rasa_token: str | None = setting(
        "BOT_RASA_TOKEN", None, "Token for Rasa's HTTP API (secret; make run writes a random one to .env).", secret=True
    )
    max_message_chars: int = setting(
        "BOT_MAX_MESSAGE_CHARS", "5000", "Longest user message accepted; longer ones get a polite reply.", _positive_int
    )
    today: str = setting(
        "BOT_TODAY",
        "",
        "Fixed date (YYYY-MM-DD) or moment (YYYY-MM-DDTHH:MM, Asia/Taipei) for the clock, for tests and demos; empty means the real time in Asia/Taipei.",
    )
    rasa_url: str = setting(
        "BOT_RASA_URL", "http://127.0.0.1:5005", "Rasa server base URL, for the web app and scripts."
    )
    office_hours: str = setting(
        "BOT_OFFICE_HOURS", "mon-fri 08:30-17:30", "When a person answers handoffs (Asia/Taipei).", _office_hours
    )
    session_secret: str | None = setting(
        "BOT_SESSION_SECRET", None, "Key that signs console session cookies (secret; make run writes one).", secret=True
    )
    api_token: str | None = setting(
        "BOT_API_TOKEN", None, "Token for /api/* on the web app (secret; make run writes one).", secret=True
    )
    action_token: str | None = setting(
        "BOT_ACTION_TOKEN",
        None,
        "Shared secret Rasa sends the action server in X-Action-Token; the action server refuses calls without it (secret; make run writes one).",
        secret=True,
    )
    trusted_proxies: str = setting(
        "BOT_TRUSTED_PROXIES",
        "",
        "Comma-separated addresses or CIDR blocks of the reverse proxies in front of the web app; only their X-Forwarded-For/-Proto are believed (login limits per address, Secure cookies). Empty: believe no header.",
        _networks,
    )
    secure_cookies: str = setting(
        "BOT_SECURE_COOKIES",
        "auto",
        "Console cookie's Secure flag: auto (when the request came over HTTPS, directly or via a trusted proxy) or always.",
        _secure_cookies,
    )
    rate_sender: tuple[float, float] | None = setting(
        "BOT_RATE_SENDER",
        "1/5",
        "Messages a second per sender / burst, on REST, socket.io and LINE (a token bucket); off disables. Over it: a polite reply or 429.",
        _rate,
    )
    rate_address: tuple[float, float] | None = setting(
        "BOT_RATE_ADDRESS",
        "5/30",
        "Messages a second per client address / burst (REST, socket.io); off disables.",
        _rate,
    )
    rate_redis_url: str = setting(
        "BOT_RATE_REDIS_URL",
        "",
        "Several Rasa servers: Redis (redis://host:port/db, password from BOT_REDIS_PASSWORD) holding the rate-limit buckets, so a sender has one allowance whichever server nginx picks (make run-scaled sets it); empty keeps them in the Rasa process.",
        _optional_redis_url,
    )
    web_port: int = setting("BOT_WEB_PORT", "8000", "Port of the web app (console, triage API).", _positive_int)
    tracker_db_url: str = setting(
        "BOT_TRACKER_DB_URL",
        "",
        "SQLAlchemy URL of Rasa's tracker store; empty means sqlite:///<BOT_VAR_DIR>/rasa_tracker.db.",
    )
    ops_db_url: str = setting(
        "BOT_OPS_DB_URL",
        "",
        "SQLAlchemy URL of the ops database (event broker, review data); empty means sqlite:///<BOT_VAR_DIR>/ops.db.",
    )
    retention_days: int = setting(
        "BOT_RETENTION_DAYS",
        "180",
        "Conversations idle longer than this many days are deleted by `python -m bot ops purge`.",
        _positive_int,
    )
    line_channel_secret: str | None = setting(
        "BOT_LINE_CHANNEL_SECRET",
        None,
        "LINE channel secret (secret): checks X-Line-Signature; empty means the LINE webhook answers 503.",
        secret=True,
    )
    line_access_token: str | None = setting(
        "BOT_LINE_ACCESS_TOKEN",
        None,
        "LINE channel access token (secret, long-lived) for reply and push calls.",
        secret=True,
    )
    line_api_url: str = setting(
        "BOT_LINE_API_URL", "https://api.line.me", "LINE Messaging API base URL (tests point it at a fake LINE server)."
    )
    chat_socket_url: str = setting(
        "BOT_CHAT_SOCKET_URL",
        "http://127.0.0.1:5005",
        "Rasa's socket.io address as the web chat page's browser reaches it.",
    )
    chat_origins: tuple[str, ...] = setting(
        "BOT_CHAT_ORIGINS",
        "",
        "Comma-separated sites (https://www.example.gov.tw) that may embed the web chat (iframe) or open its socket (CORS), besides the web app's own http://127.0.0.1 and http://localhost on BOT_WEB_PORT.",
        _origins,
    )
    chat_redis_url: str = setting(
        "BOT_CHAT_REDIS_URL",
        "",
        "Several Rasa servers: Redis (redis://host:port/db, password from BOT_REDIS_PASSWORD) that passes web chat messages between them, so a staff reply reaches a browser connected to another server; empty means one server.",
        _optional_redis_url,
    )
    # Scale-out profile (make run-scaled): the services several Rasa servers share.
    tickets_db_url: str = setting(
        "BOT_TICKETS_DB_URL",
        "",
        "Handoff tickets database: empty means SQLite var/tickets.db; postgresql://user@host:port/db for the scaled profile (password from BOT_PG_PASSWORD).",
        _db_url,
    )
    pg_url: str = setting(
        "BOT_PG_URL",
        "postgresql://postgres@127.0.0.1:5432/hotline",
        "Scaled profile: PostgreSQL for trackers, tickets and ops data (no password in it; see BOT_PG_PASSWORD).",
        _db_url,
    )
    pg_password: str | None = setting(
        "BOT_PG_PASSWORD",
        None,
        "Scaled profile: PostgreSQL password (secret; empty for trust authentication).",
        secret=True,
    )
    redis_url: str = setting(
        "BOT_REDIS_URL",
        "redis://127.0.0.1:6379/1",
        "Scaled profile: Redis for the conversation lock store (redis://host:port/db).",
        _service_url("redis"),
    )
    redis_password: str | None = setting(
        "BOT_REDIS_PASSWORD", None, "Scaled profile: Redis password (secret; empty for none).", secret=True
    )
    redis_key_prefix: str = setting(
        "BOT_REDIS_KEY_PREFIX",
        "hotline",
        "Scaled profile: prefix of the lock keys in Redis (letters and digits).",
        _alphanumeric,
    )
    amqp_url: str = setting(
        "BOT_AMQP_URL",
        "amqp://guest@127.0.0.1:5672/",
        "Scaled profile: RabbitMQ for the event broker (amqp://user@host:port/).",
        _service_url("amqp"),
    )
    amqp_password: str | None = setting(
        "BOT_AMQP_PASSWORD",
        None,
        "Scaled profile: RabbitMQ password (secret; make run-scaled uses guest for the local server).",
        secret=True,
    )
    amqp_queue: str = setting(
        "BOT_AMQP_QUEUE",
        "hotline_events",
        "Scaled profile: RabbitMQ queue the consumer reads events from.",
        _queue_name,
    )
    rasa_servers: int = setting(
        "BOT_RASA_SERVERS",
        "2",
        "Scaled profile: how many Rasa servers to start (ports 5005, 5006, ...).",
        _positive_int,
    )
    scaled_port: int = setting(
        "BOT_SCALED_PORT",
        "8080",
        "Scaled profile: port of nginx, which balances across the Rasa servers.",
        _positive_int,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping.

        Raises:
            SettingsError: a value does not parse; the message names the variable.
        """
        values: dict[str, Any] = {}
        for spec in SETTINGS:
            raw = env.get(spec.env, spec.default)
            if raw is None or (spec.secret and raw == ""):
                values[spec.field] = None
                continue
            try:
                values[spec.field] = spec.parse(raw)
            except ValueError as exc:
                raise SettingsError(f"{spec.env}: {exc}") from exc
        return cls(**values)

    def require_strong_secrets(self, *envs: str) -> None:
        """Stop start-up when one of the secrets ``envs`` (e.g. ``BOT_SESSION_SECRET``) is missing, a placeholder or short.

        Raises:
            SettingsError: naming the first such variable.
        """
        names = {spec.env: spec.field for spec in SETTINGS}
        for env in envs:
            problem = secret_problem(getattr(self, names[env]))
            if problem:
                raise SettingsError(f"{env}: {problem}")

    def with_changes(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def chat_allowed_origins(self) -> tuple[str, ...]:
        """Origins whose pages may embed the chat or open its socket: the web app's own and BOT_CHAT_ORIGINS."""
        own = (f"http://127.0.0.1:{self.web_port}", f"http://localhost:{self.web_port}")
        return tuple(dict.fromkeys(own + self.chat_origins))

    @property
    def nlu_dir(self) -> Path:
        return self.var_dir / "nlu"

    @property
    def kb_path(self) -> Path:
        return self.var_dir / "kb.db"

    @property
    def tickets_path(self) -> Path:
        return self.var_dir / "tickets.db"

    @property
    def staff_path(self) -> Path:
        return self.var_dir / "staff.db"

    @property
    def tracker_db(self) -> str:
        """The tracker store's SQLAlchemy URL (endpoints.yml reads the same two settings)."""
        return self.tracker_db_url or f"sqlite:///{self.var_dir / 'rasa_tracker.db'}"

    @property
    def ops_db(self) -> str:
        """The ops database's SQLAlchemy URL (the event broker writes it; endpoints.yml)."""
        return self.ops_db_url or f"sqlite:///{self.var_dir / 'ops.db'}"

    @property
    def tickets_db(self) -> str:
        """The ticket store's SQLAlchemy URL: BOT_TICKETS_DB_URL (postgresql:// or sqlite:///), else the SQLite file.

        Like :attr:`tracker_db` and :attr:`ops_db` it carries no password: the store's opener
        fills in BOT_PG_PASSWORD (``bot.db.postgres_url``), for processes only.
        """
        url = self.tickets_db_url
        return url if url.startswith(("postgresql", "sqlite:///")) else f"sqlite:///{self.tickets_path}"


SETTINGS: tuple[Spec, ...] = tuple(Spec(f.name, **f.metadata) for f in fields(Settings))
