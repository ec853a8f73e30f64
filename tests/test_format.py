"""The code is in the project's format and passes its lint rules (as sqlite-utils' tests/test_black.py).

`make format` fixes both; the rules and line length are in pyproject.toml.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).with_name("ruff")


def test_every_file_is_formatted() -> None:
    result = subprocess.run([str(RUFF), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, "run `make format`:\n" + result.stdout + result.stderr


def test_lint_rules_pass() -> None:
    result = subprocess.run([str(RUFF), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, "run `make lint` (and `make format` for import order):\n" + result.stdout
