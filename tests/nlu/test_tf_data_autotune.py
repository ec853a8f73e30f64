"""DIET's training batches come through a tf.data pipeline without autotuning (bot/nlu/ensemble.py).

With autotuning on, deleting each epoch's iterator waited for its tuning thread: DIET's loop
stalled up to 5 s at epoch boundaries. These tests fail if the hook stops reaching the pipeline
Keras builds for a ``Sequence`` (how Rasa feeds DIET), or if it changes what is trained."""

import numpy as np
import tensorflow as tf
from keras.engine import data_adapter
from rasa.utils.tensorflow.data_generator import RasaBatchDataGenerator
from rasa.utils.tensorflow.model_data import FeatureArray, RasaModelData

from bot.nlu import ensemble


class _Batches(tf.keras.utils.Sequence):
    def __init__(self) -> None:
        rng = np.random.default_rng(7)
        self.x = rng.normal(size=(96, 5)).astype("float32")
        self.y = (self.x.sum(axis=1) > 0).astype("float32")

    def __len__(self) -> int:
        return 6

    def __getitem__(self, index: int):
        return self.x[index * 16 : (index + 1) * 16], self.y[index * 16 : (index + 1) * 16]


def _handler(sequence) -> data_adapter.DataHandler:
    return data_adapter.DataHandler(x=sequence, epochs=2)


def test_the_pipeline_keras_builds_for_diet_batches_has_autotune_off():
    data = RasaModelData(
        label_key="label",
        label_sub_key="ids",
        data={
            "text": {"sentence": [FeatureArray(np.ones((8, 1, 3), dtype=np.float32), number_of_dimensions=3)]},
            "label": {"ids": [FeatureArray(np.arange(8).reshape(8, 1).astype(np.float32), number_of_dimensions=2)]},
        },
    )
    handler = _handler(RasaBatchDataGenerator(data, batch_size=4, epochs=2, shuffle=False))
    assert handler._dataset.options().autotune.enabled is False
    epochs = [(epoch, sum(1 for _ in iterator)) for epoch, iterator in handler.enumerate_epochs()]
    assert epochs == [(0, 2), (1, 2)]  # every batch of every epoch still arrives


def test_the_hook_is_applied_once_however_often_the_module_asks():
    ensemble.without_tf_data_autotune()
    ensemble.without_tf_data_autotune()
    assert data_adapter.GeneratorDataAdapter.get_dataset._without_autotune
    assert _handler(_Batches())._dataset.options().autotune.enabled is False


def _fit(sequence) -> list[np.ndarray]:
    tf.keras.utils.set_random_seed(3)
    model = tf.keras.Sequential([tf.keras.Input(shape=(5,)), tf.keras.layers.Dense(4), tf.keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(sequence, epochs=3, verbose=0, shuffle=False)
    return model.get_weights()


def test_training_without_autotune_learns_the_same_weights(monkeypatch):
    patched = _fit(_Batches())
    original = data_adapter.GeneratorDataAdapter.get_dataset.__closure__
    plain = next(cell.cell_contents for cell in original if callable(cell.cell_contents))
    monkeypatch.setattr(data_adapter.GeneratorDataAdapter, "get_dataset", plain)
    assert _handler(_Batches())._dataset.options().autotune.enabled is not False
    for a, b in zip(patched, _fit(_Batches())):
        np.testing.assert_array_equal(a, b)
