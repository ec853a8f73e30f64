"""DIET's prediction graph called directly, without TensorFlow's per-call dispatch.

Rasa 3.6 (``RasaModel._rasa_predict``) wraps ``predict_step`` in a ``tf.function`` with a
fixed input signature and calls that function on every message. Each call goes through
TensorFlow's dispatch: the inputs are canonicalised and cast to the signature, and a trace
key is built from them to find the one graph that the fixed signature allows
(``_maybe_define_function``, ``canonicalize_function_inputs``). Under load that was ~10% of a
Rasa server's samples (py-spy, bench.load), more than running the graph itself.

Here the concrete function for that signature is taken once and called with the batch:
the same graph, the same inputs, the same outputs (a test compares every output tensor with
Rasa's own path on the trained model). A batch that does not fit the signature fails as it
would have. The first call of a model, which traces the graph, and models run eagerly are
left to Rasa.

:func:`install` replaces the method on ``RasaModel``; the masking tracker store installs it
with the other patches of the Rasa server. Installing twice is harmless.
"""

from __future__ import annotations

from typing import Any

from keras.utils import tf_utils
from rasa.shared.constants import DIAGNOSTIC_DATA
from rasa.utils.tensorflow.models import RasaModel

_rasa_predict = RasaModel._rasa_predict


def _predict(self: Any, batch_in: Any) -> Any:
    if self._run_eagerly or self._tf_predict_step is None or not self.prepared_for_prediction:
        return _rasa_predict(self, batch_in)
    concrete = getattr(self, "_concrete_predict_step", None)
    if concrete is None or concrete[0] is not self._tf_predict_step:
        graph = self._tf_predict_step.get_concrete_function(*self._dynamic_signature(batch_in))
        concrete = self._concrete_predict_step = (self._tf_predict_step, graph)
    self._training = False
    outputs = tf_utils.sync_to_numpy_or_python_type(concrete[1](list(batch_in)))
    if DIAGNOSTIC_DATA in outputs:
        outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
    return outputs


def install() -> None:
    RasaModel._rasa_predict = _predict  # type: ignore[method-assign]


def uninstall() -> None:
    RasaModel._rasa_predict = _rasa_predict  # type: ignore[method-assign]
