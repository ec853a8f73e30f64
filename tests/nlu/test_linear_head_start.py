"""The linear model fitted while DIET trains is the one the classifier would have fitted itself."""

import numpy as np
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import ensemble
from bot.nlu.ensemble import CalibratedIntentClassifier, LinearHeadStart

EXAMPLES = [
    ("青創貸款利率多少", "loan_ask"),
    ("我想借錢週轉", "loan_ask"),
    ("小微企業貸款怎麼申請", "loan_ask"),
    ("美國關稅影響出口怎麼辦", "us_tariff_ask"),
    ("對等關稅有什麼補助", "us_tariff_ask"),
    ("銷往美國的訂單被砍", "us_tariff_ask"),
    ("颱風淹水工廠受損", "disaster_ask"),
    ("地震受災可以緩繳嗎", "disaster_ask"),
]


def _data() -> TrainingData:
    return TrainingData([Message(data={"text": t, "intent": i}) for t, i in EXAMPLES])


def _classifier(tmp_path, name: str) -> CalibratedIntentClassifier:
    (tmp_path / name).mkdir()
    storage = LocalModelStorage(tmp_path / name)
    return CalibratedIntentClassifier.create(
        CalibratedIntentClassifier.get_default_config(), storage, Resource(name), None
    )


def test_the_head_start_fit_is_taken_and_equals_a_fit_of_its_own(tmp_path, monkeypatch):
    alone = _classifier(tmp_path, "alone")
    alone.train(_data())  # no head start: fits itself

    fits = []
    monkeypatch.setattr(ensemble, "fit_linear", lambda *args: fits.append(args))  # a fit in train()
    data = _data()
    assert (
        LinearHeadStart.create(LinearHeadStart.get_default_config(), None, None, None).process_training_data(data)
        is data
    )
    started = _classifier(tmp_path, "started")
    started.train(data)

    assert fits == []  # the child's fit was taken, train() fitted nothing itself
    assert not ensemble._head_starts  # taken, not left behind
    (_, a), (_, b) = alone._model, started._model
    assert list(a.classes_) == list(b.classes_)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    text = "請問青創貸款的利率"
    assert alone._linear([text]) == started._linear([text])


def test_a_head_start_for_other_data_is_not_used(tmp_path):
    LinearHeadStart.create(LinearHeadStart.get_default_config(), None, None, None).process_training_data(
        TrainingData([Message(data={"text": t, "intent": i}) for t, i in EXAMPLES[:6]])
    )
    classifier = _classifier(tmp_path, "other")
    classifier.train(_data())
    assert sorted(classifier._model[1].classes_) == ["disaster_ask", "loan_ask", "us_tariff_ask"]


def test_a_failed_head_start_is_fitted_in_process_instead(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(ensemble, "_CHILD", "import sys; sys.exit('no room')")
    data = _data()
    LinearHeadStart.create(LinearHeadStart.get_default_config(), None, None, None).process_training_data(data)
    classifier = _classifier(tmp_path, "failed")
    classifier.train(data)
    assert "head start failed" in caplog.text and "no room" in caplog.text
    alone = _classifier(tmp_path, "alone")
    alone.train(_data())
    np.testing.assert_array_equal(classifier._model[1].coef_, alone._model[1].coef_)
