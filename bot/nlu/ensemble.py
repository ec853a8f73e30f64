"""Calibrated intents: DIET averaged with a linear model, tempered, clause by clause.

DIET alone (softmax over similarities) puts 0.97–1.00 on most of its errors, so the
FallbackClassifier's threshold never triggers where it should. This component sits
after DIET and before the FallbackClassifier in ``config.yml`` and replaces the
intent and its ranking with

    p = normalise((w · p_DIET + (1 − w) · p_linear) ** (1 / T))

where ``p_linear`` is multinomial logistic regression over TF-IDF word (jieba) and
character 1–3-gram features of the same normalised text. ``w`` (``diet_weight``) and
``T`` (``temperature``) were chosen by cross-validation (``make cv-calibration``,
figures in ``config.yml``).

Long and multi-part messages (a story, then the question) are split into clauses
(:func:`clauses`); the clause that carries the question (:func:`question_clause`)
is classified by the linear model and averaged with the whole message's
distribution (``clause_weight``), so a long preamble cannot outvote the question.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
from concurrent.futures import Future
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)

# Sentence ends and clause breaks as they look after normalisation (NFKC folds ？！，；).
_BREAK = re.compile(r"[。.!?;,、~…\n]+|\s+")
_QUESTION = re.compile(
    r"[?嗎呢]|多少|幾|怎麼|怎樣|如何|哪|什麼|甚麼|可以|可不可以|能不能|能否|是否|有沒有|有無|要不要|請問|想問|想知道|該|會不會"
)
LONG = 40  # characters: shorter messages are classified whole
TURN_TAKING = "dialogue_"  # intents of replies with no topic of their own
MIN_CLAUSE = 4


def clauses(text: str) -> list[str]:
    """The message's clauses, short fragments merged into the one before."""
    parts = [p for p in _BREAK.split(text) if p]
    merged: list[str] = []
    for part in parts:
        if merged and (len(part) < MIN_CLAUSE or len(merged[-1]) < MIN_CLAUSE):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


def question_clause(text: str) -> str | None:
    """The part of a long message that asks: the last clause with a question word, with the
    clause before it (which often names the thing asked about); ``None`` for short messages."""
    if len(text) < LONG:
        return None
    parts = clauses(text)
    if len(parts) < 2:
        return None
    asking = [i for i, part in enumerate(parts) if _QUESTION.search(part)]
    last = asking[-1] if asking else len(parts) - 1
    return "".join(parts[max(0, last - 1) : last + 1])


def _tokens(text: str) -> list[str]:
    import jieba

    return [t for t in jieba.lcut(text) if t.strip()]


def _examples(training_data: TrainingData) -> tuple[list[str], list[str]]:
    """The texts and intents the linear model is fitted on."""
    examples = [m for m in training_data.intent_examples if m.get(TEXT) and m.get(INTENT)]
    return [m.get(TEXT) for m in examples], [m.get(INTENT) for m in examples]


def _fit_key(texts: list[str], intents: list[str], c: float) -> str:
    return hashlib.sha256(json.dumps([texts, intents, c], ensure_ascii=False).encode()).hexdigest()


def _logistic_regression(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000)


def fit_linear(texts: list[str], intents: list[str], c: float) -> tuple[Any, Any]:
    """TF-IDF features and logistic regression over them (deterministic: L-BFGS draws no random numbers)."""
    vectoriser = CalibratedIntentClassifier.vectoriser()
    features = vectoriser.fit_transform(texts)
    return vectoriser, _logistic_regression(c).fit(features, intents)


# The child's whole program: fit the pickled (estimator, features, intents) read from stdin, pickle
# the fitted estimator to stdout. It imports nothing of this project (nor jieba and its dictionary).
_CHILD = (
    "import pickle, sys\n"
    "estimator, features, intents = pickle.load(sys.stdin.buffer)\n"
    "pickle.dump(estimator.fit(features, intents), sys.stdout.buffer)\n"
)

# Fits started by LinearHeadStart, by _fit_key; at most one (the newest training's).
_head_starts: dict[str, Future] = {}
_head_starts_lock = threading.Lock()


def without_tf_data_autotune() -> None:
    """Build Keras's ``fit`` input pipeline (DIET's batches) with tf.data autotuning off.

    Keras makes a new dataset iterator for every epoch, and deleting the old one waits for its
    autotuning thread (``RootDataset::Iterator::~Iterator`` → ``LogicalThreadWrapper``) while the
    training thread holds the GIL: py-spy showed DIET's loop stalled 0–5 s at every epoch boundary
    and ~3 s after the last one, 30 s of a 150 s DIET training. The pipeline is Keras's
    ``from_generator(...).prefetch(1)``, with nothing set to AUTOTUNE, so there is nothing to
    tune: the batches, their order and the trained weights are the same (checked: a DIET trained
    with and without this has bit-identical variables). It also applies to the one-batch ``fit``
    with which Rasa rebuilds DIET when a model is loaded. Idempotent; Keras is pinned
    (constraints.txt), and ``tests/nlu/test_tf_data_autotune.py`` fails if the hook moves."""
    import keras.engine.data_adapter as data_adapter
    import tensorflow as tf

    adapter = data_adapter.GeneratorDataAdapter
    if getattr(adapter.get_dataset, "_without_autotune", False):
        return
    original = adapter.get_dataset

    def get_dataset(self: Any) -> Any:
        options = tf.data.Options()
        options.autotune.enabled = False
        return original(self).with_options(options)

    get_dataset._without_autotune = True  # type: ignore[attr-defined]
    adapter.get_dataset = get_dataset


without_tf_data_autotune()


def _start_fit(texts: list[str], intents: list[str], c: float) -> None:
    """Build the features here (jieba, ~1 s) and run L-BFGS in a child interpreter on the idle core.

    A thread would share the GIL with DIET's training loop: tried, it slowed DIET's tracing and
    steps by about as much as it saved."""
    import pickle
    import subprocess
    import sys

    vectoriser = CalibratedIntentClassifier.vectoriser()
    features = vectoriser.fit_transform(texts)
    payload = pickle.dumps((_logistic_regression(c), features, intents), protocol=pickle.HIGHEST_PROTOCOL)
    future: Future = Future()
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )

    def collect() -> None:  # only waits on pipes: holds the GIL for no work
        try:
            out, err = child.communicate(payload)
            if child.returncode != 0:
                raise RuntimeError(f"linear fit exited {child.returncode}: {err.decode(errors='replace')[-500:]}")
            future.set_result((vectoriser, pickle.loads(out)))
        except BaseException as error:  # noqa: BLE001 - handed to train(), which fits in-process
            future.set_exception(error)

    with _head_starts_lock:
        _head_starts.clear()
        _head_starts[_fit_key(texts, intents, c)] = future
    threading.Thread(target=collect, name="linear-head-start", daemon=True).start()


def _take_fit(texts: list[str], intents: list[str], c: float) -> Future | None:
    with _head_starts_lock:
        return _head_starts.pop(_fit_key(texts, intents, c), None)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class LinearHeadStart(GraphComponent):
    """Starts fitting CalibratedIntentClassifier's linear model while DIET trains.

    DIET keeps about one of the machine's two cores busy, and the graph trains the linear model
    only after it (12–27 s of L-BFGS). Placed just before DIET in ``config.yml``, this component
    starts that same fit, on the same texts and intents, in a child process; the classifier's
    ``train()`` takes the result (or fits itself when there is none or it failed: a training
    restored from Rasa's cache, another ``C``, a child that died). It changes no data and no
    parse: ``process`` passes messages through.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"C": CalibratedIntentClassifier.get_default_config()["C"]}

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LinearHeadStart:
        return cls(config)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        texts, intents = _examples(training_data)
        if len(set(intents)) >= 2:
            _start_fit(texts, intents, float(self._config["C"]))
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class CalibratedIntentClassifier(GraphComponent, IntentClassifier):
    """DIET's ranking averaged with logistic regression, tempered, with the question clause weighed in."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "diet_weight": 0.5,  # w: DIET's share of the average
            "temperature": 1.0,  # T > 1 flattens, < 1 sharpens
            "clause_weight": 0.5,  # the question clause's share for long messages
            "C": 10.0,  # logistic regression's inverse regularisation
            "ranking_length": 10,
            "report_parts": False,  # add the parts to the parse (cross-validation only)
        }

    def __init__(
        self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource, model: Any = None
    ) -> None:
        self._config = config
        self._storage = model_storage
        self._resource = resource
        self._model = model  # (vectoriser, logistic regression)
        self._fast: FastLinear | None = None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CalibratedIntentClassifier:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CalibratedIntentClassifier:
        import joblib

        try:
            with model_storage.read_from(resource) as folder:
                model = joblib.load(folder / "linear.joblib")
        except (ValueError, FileNotFoundError):
            logger.warning("no trained linear model: %s passes DIET's ranking through", cls.__name__)
            model = None
        return cls(config, model_storage, resource, model)

    @staticmethod
    def vectoriser() -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        return FeatureUnion(
            [
                (
                    "words",
                    TfidfVectorizer(
                        tokenizer=_tokens,
                        token_pattern=None,
                        lowercase=True,
                        ngram_range=(1, 2),
                        sublinear_tf=True,
                        min_df=1,
                    ),
                ),
                ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1)),
            ]
        )

    def train(self, training_data: TrainingData) -> Resource:
        import joblib

        texts, intents = _examples(training_data)
        if len(set(intents)) < 2:
            return self._resource
        c = float(self._config["C"])
        started = _take_fit(texts, intents, c)
        model = None
        if started is not None:
            try:
                model = started.result()
            except Exception as error:  # noqa: BLE001 - the head start is only a saving: fit here instead
                logger.warning("the linear model's head start failed (%s): fitting it now", error)
        self._model = model or fit_linear(texts, intents, c)
        with self._storage.write_to(self._resource) as folder:
            joblib.dump(self._model, folder / "linear.joblib")
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def _linear(self, texts: list[str]) -> list[dict[str, float]]:
        if self._fast is None:
            self._fast = FastLinear(*self._model)
        return [self._fast.predict(text) for text in texts]

    def process(self, messages: list[Message]) -> list[Message]:
        if self._model is None:
            return messages
        for message in messages:
            text = message.get(TEXT) or ""
            if not text or text.startswith("/") or not message.get(INTENT_RANKING_KEY):
                continue  # button payloads keep their intent
            self._classify(message, text)
        return messages

    def _classify(self, message: Message, text: str) -> None:
        diet = {r[INTENT_NAME_KEY]: float(r[PREDICTED_CONFIDENCE_KEY]) for r in message.get(INTENT_RANKING_KEY)}
        part = question_clause(text)
        linear, *clause = self._linear([text] + ([part] if part else []))
        combined = combine(diet, linear, clause[0] if clause else None, self._config)
        ranking = sorted(combined.items(), key=lambda kv: -kv[1])
        length = self._config["ranking_length"] or len(ranking)
        top_name, top_conf = ranking[0]
        message.set(INTENT, {INTENT_NAME_KEY: top_name, PREDICTED_CONFIDENCE_KEY: top_conf}, add_to_output=True)
        message.set(
            INTENT_RANKING_KEY,
            [{INTENT_NAME_KEY: n, PREDICTED_CONFIDENCE_KEY: c} for n, c in ranking[:length]],
            add_to_output=True,
        )
        if self._config["report_parts"]:
            message.set(
                "intent_parts",
                {"diet": diet, "linear": linear, "clause": clause[0] if clause else None, "question_clause": part},
                add_to_output=True,
            )


def combine(
    diet: dict[str, float], linear: dict[str, float], clause: dict[str, float] | None, config: dict[str, Any]
) -> dict[str, float]:
    """The calibrated distribution from the parts (pure; the cross-validation sweeps it)."""
    names = sorted(set(diet) | set(linear))
    w, temperature = float(config["diet_weight"]), float(config["temperature"])
    whole = np.array([w * diet.get(n, 0.0) + (1 - w) * linear.get(n, 0.0) for n in names])
    if clause is not None:
        # A clause of a long message is no turn-taking reply: its 「可以申請嗎」 defers to the
        # whole message's topic instead of making the message a follow-up.
        part = np.array([0.0 if n.startswith(TURN_TAKING) else clause.get(n, 0.0) for n in names])
        if part.sum() > 0:
            a = float(config["clause_weight"])
            whole = (1 - a) * whole + a * part / part.sum()
    tempered = np.power(np.clip(whole, 1e-12, None), 1.0 / temperature)
    tempered /= tempered.sum()
    return {n: float(p) for n, p in zip(names, tempered) if not math.isnan(p)}


class FastLinear:
    """The fitted TF-IDF + logistic regression, applied to one text without sklearn's per-call
    overhead (validation, sparse matrix assembly): about 0.2 ms instead of several."""

    def __init__(self, vectoriser: Any, model: Any) -> None:
        self._parts = []
        offset = 0
        for _, part in vectoriser.transformer_list:
            self._parts.append((part.build_analyzer(), part.vocabulary_, part.idf_, offset, part.sublinear_tf))
            offset += len(part.vocabulary_)
        self._coef = np.ascontiguousarray(model.coef_.T)  # features × classes
        self._intercept = model.intercept_
        self._classes = [str(c) for c in model.classes_]

    def predict(self, text: str) -> dict[str, float]:
        logits = self._intercept.copy()
        for analyzer, vocabulary, idf, offset, sublinear in self._parts:
            counts: dict[int, int] = {}
            for gram in analyzer(text):
                index = vocabulary.get(gram)
                if index is not None:
                    counts[index] = counts.get(index, 0) + 1
            if not counts:
                continue
            indices = np.fromiter(counts, dtype=np.int64, count=len(counts))
            tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
            values = (1.0 + np.log(tf) if sublinear else tf) * idf[indices]
            values /= np.linalg.norm(values)
            logits = logits + values @ self._coef[indices + offset]
        exp = np.exp(logits - logits.max())
        return dict(zip(self._classes, map(float, exp / exp.sum())))
