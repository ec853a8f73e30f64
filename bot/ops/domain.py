"""The intents and entities ``domain.yml`` declares, read once: what a correction may name.

Both the review (a correction's entity must exist, ``bot/ops/review.py``) and the export
(a correction's intent must exist, ``bot/ops/export.py``) check against it, and the
/ops pages list it; a module of its own so neither of the two imports the other for it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.settings import ROOT

DOMAIN = ROOT / "domain.yml"


@lru_cache(maxsize=4)
def _domain(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def domain_intents(path: Path = DOMAIN) -> list[str]:
    return [str(i) if not isinstance(i, dict) else str(next(iter(i))) for i in _domain(path).get("intents", [])]


def domain_entities(path: Path = DOMAIN) -> list[str]:
    return [str(e) if not isinstance(e, dict) else str(next(iter(e))) for e in _domain(path).get("entities", [])]
