"""Logging set-up for entry points only, masking secrets and personal data.

Rasa's own channels log user text on failure; the root filter masks secrets and the
personal identifiers (IDs, phones, e-mail, accounts, addresses) in every record before
any handler writes it. In the Rasa server, whose logging Rasa configures,
:func:`mask_all_records` masks each record as it is created, whatever handlers exist.

The personal-data masker is passed in (``bot.privacy.masking.mask_text``, by the entry
points and the masking stores) and is required: this module stays a foundation that
imports no feature package, and no caller can set up logging that forgets to mask.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import Any

Masker = Callable[[str], str]

_SECRETS = re.compile(r"((?:token|secret|password|authorization)[=:]\s*(?:Bearer\s+)?)[^\s&\"']+", re.IGNORECASE)
_FORMATTER = logging.Formatter()


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return match.group() if 0xD800 <= code <= 0xDFFF else chr(code)


def mask(text: str, personal: Masker) -> str:
    """Replace secrets (token=…, Authorization: Bearer …) with ``***`` and, by ``personal``, personal identifiers.

    ``\\uXXXX`` escapes are decoded first: Rasa's JSON log lines escape Chinese, and
    「話」 as ``\\u8a71`` would glue its hex digits onto the phone number after it.
    """
    return personal(_SECRETS.sub(r"\1***", _JSON_ESCAPE.sub(_unescape, text)))


def mask_record(record: logging.LogRecord, personal: Masker) -> None:
    """Mask a record's message and its traceback text in place (before any formatter sees them)."""
    try:
        record.msg = mask(record.getMessage(), personal)
    except Exception:  # noqa: BLE001 - a bad format string must not break the caller
        record.msg = mask(str(record.msg), personal)
    record.args = ()
    if record.exc_info and not record.exc_text:
        record.exc_text = _FORMATTER.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = mask(record.exc_text, personal)


class MaskingFilter(logging.Filter):
    def __init__(self, personal: Masker) -> None:
        super().__init__()
        self.personal = personal

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record, self.personal)
        return True


def mask_all_records(personal: Masker) -> None:
    """Mask every log record this process creates from now on (idempotent).

    A record factory rather than a handler filter: Rasa installs and replaces its
    handlers itself (coloredlogs, structlog's stdlib output), and a factory covers
    all of them, including records logged through structlog.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "masks_personal_data", False):
        return
    logging.setLogRecordFactory(_MaskingFactory(previous, personal))


class _MaskingFactory:
    """A log record factory that masks (by ``personal``) each record the one before it creates."""

    masks_personal_data = True

    def __init__(self, previous: Callable[..., logging.LogRecord], personal: Masker) -> None:
        self.previous, self.personal = previous, personal

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        try:
            mask_record(record, self.personal)
        except Exception:  # noqa: BLE001 - e.g. at interpreter exit, when this module's globals are gone
            # A record that cannot be masked is not logged as it is: it keeps only its level and origin.
            record.msg, record.args, record.exc_info, record.exc_text = (
                "(log record withheld: masking failed)",
                (),
                None,
                None,
            )
        return record


def configure(level: int = logging.INFO, *, personal: Masker) -> None:
    """Configure root logging once (to stderr), with the masking filter on every handler.

    Rasa logs through structlog, which prints to stdout at debug level until it is
    configured; that would mix user text into ``triage --jsonl`` output. Routing it
    through the standard library puts it behind the same level and filter.
    """
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter(personal))
    # httpx logs every request URL at INFO, and Rasa's API takes its token in the query.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        from rasa.utils.log_utils import configure_structlog
    except ImportError:  # pragma: no cover - Rasa is always installed with the bot
        return
    configure_structlog(level)
