"""Text normalisation applied before tokenising, in training and at run time.

Callers type simplified characters, full-width Latin letters and digits, and stray
whitespace or control characters; the classifier should see one spelling of each.

Only text that contains simplified characters goes through OpenCC, and with
``s2tw`` (characters and Taiwan variants), not ``s2twp``: the phrase tables of
``s2twp`` rewrite Taiwanese words too (設備 → 裝置, 數字 → 數位), which changed
scheme names such as 「堰塞湖設備復原補助」 before the entity ruler saw them.
台 counts as traditional here: Taiwanese write both 台 and 臺, and the gazetteers
list both. NFKC folds full-width forms (ＳＢＩＲ１２３ → SBIR123).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import opencc

_CONTROL = re.compile(
    r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]"
)
_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=2)
def _converter(config: str) -> opencc.OpenCC:  # opened on first use, not at import
    import opencc

    return opencc.OpenCC(config)


def has_simplified(text: str) -> bool:
    """Whether ``text`` has characters that only simplified Chinese writes (台 excepted)."""
    plain = text.replace("台", "臺")
    return _converter("s2t").convert(plain) != plain


def strip_controls(text: str) -> str:
    """Remove control and invisible formatting characters, keeping newlines as spaces."""
    return _SPACE.sub(" ", _CONTROL.sub("", text)).strip()


def normalise(text: str) -> str:
    """Return ``text`` in the form the NLU pipeline expects.

    Width is folded first so that OpenCC sees ordinary characters; whitespace is
    collapsed last because NFKC turns the ideographic space into a plain one.
    """
    folded = unicodedata.normalize("NFKC", text)
    if has_simplified(folded):
        folded = _converter("s2tw").convert(folded)
    return strip_controls(folded)
