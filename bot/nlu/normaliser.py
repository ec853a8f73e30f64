"""Text normalisation applied before tokenising, in training and at run time.

Callers type simplified characters, full-width Latin letters and digits, and stray
whitespace or control characters; the classifier should see one spelling of each.
OpenCC ``s2twp`` turns simplified Chinese into Taiwan usage (软件→軟體) and also
unifies 台/臺 to 臺, so gazetteers only need to be complete, not clever.
NFKC folds full-width forms (ＳＢＩＲ１２３ → SBIR123).
"""

from __future__ import annotations

import functools
import re
import unicodedata

_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=1)
def _converter():  # opened on first use, not at import
    import opencc

    return opencc.OpenCC("s2twp")


def strip_controls(text: str) -> str:
    """Remove control and invisible formatting characters, keeping newlines as spaces."""
    return _SPACE.sub(" ", _CONTROL.sub("", text)).strip()


def normalise(text: str) -> str:
    """Return ``text`` in the form the NLU pipeline expects.

    Width is folded first so that OpenCC sees ordinary characters; whitespace is
    collapsed last because NFKC turns the ideographic space into a plain one.
    """
    folded = unicodedata.normalize("NFKC", text)
    return strip_controls(_converter().convert(folded))
