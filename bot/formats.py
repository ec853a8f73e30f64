"""One formatter each for amounts, ROC dates, phones and CSV files, as Taiwanese readers expect."""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

ROC_OFFSET = 1911


def roc_date(day: dt.date, gregorian: bool = False) -> str:
    """「117年10月31日」, optionally followed by 「（2028/10/31）」."""
    text = f"{day.year - ROC_OFFSET}年{day.month}月{day.day}日"
    return f"{text}（{day:%Y/%m/%d}）" if gregorian else text


def amount(value: float | int) -> str:
    """Yuan in 萬/億 as officials write them: 35000000 → 「3,500萬元」, 150000000 → 「1.5億元」."""
    if value >= 100_000_000 and value % 10_000_000 == 0:
        return f"{_number(value / 100_000_000)}億元"
    if value >= 10_000 and value % 100 == 0:
        return f"{_number(value / 10_000)}萬元"
    return f"{_number(value)}元"


def _number(value: float | int) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def quantity(value: float | int, unit: str | None) -> str:
    """A benefit value with its unit: 2.22 % → 「2.22%」, 9 成 → 「9成」, 元 via :func:`amount`."""
    if unit == "元":
        return amount(value)
    return f"{_number(value)}{unit or ''}"


def phone_line(name: str, phone: str) -> str:
    return f"{name} {phone}"


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
