"""Taiwan phone numbers as callers type them, validated and written one way.

Mobile: 09xx-xxx-xxx (10 digits). Landline: area code 02–08 and 037, 049, 082, 089 ...
with 7–8 digits after it, e.g. (02)2345-6789, 04-2222-3333, 049-2222333. Country
code +886 is accepted. Extensions (#123) are kept.

Two concerns read phone numbers: the handoff asks for the caller's (``bot/handoff/``)
and masking hides them (``bot/privacy/masking.py``); this module sits below both.
"""

from __future__ import annotations

import re
import unicodedata

_EXT = re.compile(r"(?:#|分機|轉|ext\.?)\s*(\d{1,6})\s*$", re.IGNORECASE)
# Two-digit area codes and the three-digit ones (037 苗栗, 049 南投, 082 金門, 089 臺東, 0826 烏坵, 0836 馬祖).
_AREA = ("0826", "0836", "037", "049", "082", "089", "02", "03", "04", "05", "06", "07", "08")


def normalise_phone(text: str) -> str | None:
    """The number in a standard form (0912-345-678, 02-2345-6789#12), or ``None`` if it is not one."""
    plain = unicodedata.normalize("NFKC", text).strip()
    extension = ""
    match = _EXT.search(plain)
    if match:
        extension, plain = f"#{match.group(1)}", plain[: match.start()]
    if re.search(r"[^\d\s()+\-]", plain):
        return None
    digits = re.sub(r"\D", "", plain)
    if digits.startswith("886"):
        digits = "0" + digits[3:]
    if re.fullmatch(r"09\d{8}", digits):
        return f"{digits[:4]}-{digits[4:7]}-{digits[7:]}{extension}"
    if re.fullmatch(r"0800\d{6}", digits):
        return f"0800-{digits[4:7]}-{digits[7:]}"
    for area in _AREA:
        rest = digits[len(area) :]
        if digits.startswith(area) and 6 <= len(rest) <= 8 and len(digits) in (9, 10):
            body = rest if len(rest) == 6 else f"{rest[:-4]}-{rest[-4:]}"
            return f"{area}-{body}{extension}"
    return None


# A run of digits with the separators people type (spaces, dashes, dots, parentheses, +886),
# then an optional extension (分機 301, #12, 轉 5, ext. 7).
_CANDIDATE = re.compile(
    r"(?:\+?\s*886[\s\-]*|\(\s*0\d{1,3}\s*\)|0)[\d\s\-.()]{6,16}\d"
    r"(?:\s*(?:#|分機|轉|ext\.?)\s*\d{1,6})?",
    re.IGNORECASE,
)


def find_phone(text: str) -> tuple[str | None, tuple[int, int]]:
    """The first valid phone number inside a sentence and where it is (「我的手機是 0933 123 456」).

    Returns ``(None, (0, 0))`` when the text holds none. Full-width digits count.
    """
    plain = unicodedata.normalize("NFKC", text or "")
    for match in _CANDIDATE.finditer(plain):
        phone = normalise_phone(match.group(0).replace(".", " "))
        if phone:
            return phone, match.span()
    return None, (0, 0)
