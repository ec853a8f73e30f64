"""Formatters for what the bot writes itself: bubbles, ROC dates and CSV files, as Taiwanese readers expect.

Amounts are not here on purpose: answers quote a figure in its source's own wording
(bot/kb/answers.py), and phones are normalised where they are read (bot/phones.py).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

ROC_OFFSET = 1911
# The longest chat bubble the bot sends (STYLE: at most 300 characters; tests/test_consistency.py checks it).
BUBBLE_MAX = 300


def clip(text: str, limit: int = BUBBLE_MAX) -> str:
    """``text`` cut to at most ``limit`` characters, ending in 「…」 when something was cut.

    Characters, not bytes or UTF-16 units: LINE counts the latter, and
    bot/channels/line_format.py has its own clip for that.
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def roc_date(day: dt.date, gregorian: bool = False) -> str:
    """「117年10月31日」, optionally followed by 「（2028/10/31）」."""
    text = f"{day.year - ROC_OFFSET}年{day.month}月{day.day}日"
    return f"{text}（{day:%Y/%m/%d}）" if gregorian else text


def spreadsheet_safe(cell: Any) -> Any:
    """Callers' text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``) gets a ``'`` first.

    The agency opens these files in Excel; OWASP's advice for CSV injection. The first
    character that is not a space counts, width-folded: a full-width 「＝」 or 「＋」, or a
    formula after spaces or an ideographic space, is defused too (security review L4).
    """
    if not isinstance(cell, str) or not cell:
        return cell
    first = unicodedata.normalize("NFKC", cell.lstrip(" \u3000\u00a0")[:1])
    if cell[:1] in ("\t", "\r") or first[:1] in ("=", "+", "-", "@"):
        return "'" + cell
    return cell


def csv_text(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV file of ``rows`` under ``headers``, every cell :func:`spreadsheet_safe`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    return buffer.getvalue()
