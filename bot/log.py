"""Logging set-up for entry points only, masking secrets and personal data.

Rasa's own channels log user text on failure; the root filter masks the personal
identifiers ``bot.privacy.masking`` knows (IDs, phones, e-mail, accounts, addresses)
and secrets in every record before any handler writes it. In the Rasa server,
whose logging Rasa configures, :func:`mask_all_records` masks each record as it is
created, whatever handlers exist.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from bot.privacy.masking import mask_text

_SECRETS = re.compile(r"((?:token|secret|password|authorization)[=:]\s*(?:Bearer\s+)?)[^\s&\"']+", re.IGNORECASE)
_FORMATTER = logging.Formatter()


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return match.group() if 0xD800 <= code <= 0xDFFF else chr(code)


def mask(text: str) -> str:
    """Replace secrets (token=…, Authorization: Bearer …) with ``***`` and personal identifiers with placeholders.

    ``\\uXXXX`` escapes are decoded first: Rasa's JSON log lines escape Chinese, and
    「話」 as ``\\u8a71`` would glue its hex digits onto the phone number after it.
    """
    return mask_text(_SECRETS.sub(r"\1***", _JSON_ESCAPE.sub(_unescape, text)))


def mask_record(record: logging.LogRecord) -> None:
    """Mask a record's message and its traceback text in place (before any formatter sees them)."""
    try:
        record.msg = mask(record.getMessage())
    except Exception:  # noqa: BLE001 - a bad format string must not break the caller
        record.msg = mask(str(record.msg))
    record.args = ()
    if record.exc_info and not record.exc_text:
        record.exc_text = _FORMATTER.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask(record.exc_text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


def mask_all_records() -> None:
    """Mask every log record this process creates from now on (idempotent).

    A record factory rather than a handler filter: Rasa installs and replaces its
    handlers itself (coloredlogs, structlog's stdlib output), and a factory covers
    all of them, including records logged through structlog.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "masks_personal_data", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        mask_record(record)
        return record

    factory.masks_personal_data = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure(level: int = logging.INFO) -> None:
    """Configure root logging once (to stderr), with the masking filter on every handler.

    Rasa logs through structlog, which prints to stdout at debug level until it is
    configured; that would mix user text into ``triage --jsonl`` output. Routing it
    through the standard library puts it behind the same level and filter.
    """
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())
    # httpx logs every request URL at INFO, and Rasa's API takes its token in the query.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        from rasa.utils.log_utils import configure_structlog
    except ImportError:  # pragma: no cover - Rasa is always installed with the bot
        return
    configure_structlog(level)
