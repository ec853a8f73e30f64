"""What the Rasa server's process imports (bot/launch.py): JAX, which serving never uses, is refused."""

from __future__ import annotations

import subprocess
import sys

from bot.settings import ROOT

PROBE = """
import sys
from bot.launch import refuse_unused_modules
refuse_unused_modules()
from rasa.core.agent import Agent  # what serving a model loads; TensorFlow's TFLite util tried JAX
tflite_util = sys.modules["tensorflow.lite.python.util"]
print("jax" in sys.modules and sys.modules["jax"] is not None, tflite_util._xla_computation is None)
"""


def test_the_rasa_server_process_loads_tensorflow_and_rasa_without_jax():
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[-2:] == ["False", "True"]


def test_a_module_imported_already_is_left_alone():
    from bot.launch import refuse_unused_modules

    loaded = {"jax": sys}
    refuse_unused_modules(loaded)
    assert loaded["jax"] is sys
