"""Logging set-up for entry points only, with a filter that masks personal data.

Rasa's own channels log user text on failure; the root filter masks phone numbers,
national IDs and e-mail addresses in every record before any handler writes it.
"""

from __future__ import annotations

import logging
import re
import sys

_SECRETS = re.compile(r"((?:token|secret|password|authorization)[=:]\s*(?:Bearer\s+)?)[^\s&\"']+", re.IGNORECASE)
_PATTERNS = (
    re.compile(r"[A-Z][12489]\d{8}"),  # national ID / ARC (new format)
    re.compile(r"09\d{2}-?\d{3}-?\d{3}"),  # mobile
    re.compile(r"\(?0\d{1,2}\)?-?\d{3,4}-?\d{4}"),  # landline
    re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),  # e-mail
)


def mask(text: str) -> str:
    """Replace secrets (token=…, Authorization: Bearer …) and personal identifiers with ``***``."""
    text = _SECRETS.sub(r"\1***", text)
    for pattern in _PATTERNS:
        text = pattern.sub("***", text)
    return text


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = ()
        return True


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
