"""Online linear models: scikit-learn ``partial_fit`` estimators behind a running
StandardScaler, learned one record at a time, with their exact state as JSON (so that a
restarted learner goes on bit for bit) and their export to ONNX."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.preprocessing import StandardScaler

from service.learning.export import pipeline_onnx
from service.learning.gate import Kind

Algorithm = Literal["pa-classifier", "logistic-sgd", "pa-regressor", "sgd-regressor"]
ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)

# The state travels in a version's descriptor metadata; linear models are far smaller.
MAX_STATE_BYTES = 256 * 1024
STATE_FORMAT = 1
RANDOM_STATE = 0
DEFAULT_C = 1.0  # PassiveAggressiveClassifier's default aggressiveness

FloatMatrix = npt.NDArray[np.float64]
Answer = str | float


def _estimator(algorithm: Algorithm, learning_rate: float | None) -> Any:
    # No shuffling, a fixed seed: the same records in the same order learn the same model.
    fixed: dict[str, Any] = {"shuffle": False, "random_state": RANDOM_STATE}
    schedule: dict[str, Any] = (
        {} if learning_rate is None else {"learning_rate": "constant", "eta0": learning_rate}
    )
    aggressiveness = DEFAULT_C if learning_rate is None else learning_rate
    if algorithm == "pa-classifier":
        # PassiveAggressiveClassifier is deprecated; this is its documented replacement.
        return SGDClassifier(
            loss="hinge", penalty=None, learning_rate="pa1", eta0=aggressiveness, **fixed
        )
    if algorithm == "logistic-sgd":
        return SGDClassifier(loss="log_loss", **schedule, **fixed)
    if algorithm == "pa-regressor":
        # sklearn accepts pa1 for SGDRegressor with the epsilon-insensitive loss (epsilon 0.1,
        # as PassiveAggressiveRegressor's default).
        return SGDRegressor(
            loss="epsilon_insensitive",
            penalty=None,
            learning_rate="pa1",
            eta0=aggressiveness,
            **fixed,
        )
    return SGDRegressor(loss="squared_error", **schedule, **fixed)


class OnlineModel:
    """One of ``ALGORITHMS`` over the features ``inputs``. Classifiers need all their
    ``classes`` up front (sklearn's partial_fit does); labels are strings."""

    def __init__(
        self,
        algorithm: Algorithm,
        inputs: Sequence[str],
        classes: Sequence[str] | None = None,
        learning_rate: float | None = None,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {algorithm!r}; one of {', '.join(ALGORITHMS)}")
        if not inputs or len(set(inputs)) != len(inputs):
            raise ValueError("inputs must name at least one feature, each once")
        self.kind: Kind = (
            "classifier" if algorithm in ("pa-classifier", "logistic-sgd") else "regressor"
        )
        if self.kind == "classifier":
            if classes is None:
                raise ValueError(f"{algorithm} needs its classes (labels) up front")
            if len(classes) < 2 or len(set(classes)) != len(classes):
                raise ValueError(f"a classifier needs two or more distinct classes, not {classes}")
        elif classes is not None:
            raise ValueError(f"{algorithm} is a regressor: it has no classes")
        if learning_rate is not None and not (math.isfinite(learning_rate) and learning_rate > 0):
            raise ValueError(f"the learning rate must be a positive number, not {learning_rate}")
        self.algorithm: Algorithm = algorithm
        self.inputs = [str(name) for name in inputs]
        self.classes = None if classes is None else [str(c) for c in classes]
        self.learning_rate = learning_rate
        self.learned = 0
        self._scaler = StandardScaler()
        self._model = _estimator(algorithm, learning_rate)

    def ready(self) -> bool:
        # Classes are given at the first record, so one learned record is enough for both.
        return self.learned > 0

    # -- predicting and learning ------------------------------------------------------------

    def predict(self, features: npt.ArrayLike) -> list[str] | FloatMatrix:
        """Labels (classifier) or values (regressor) of a rows × len(inputs) matrix."""
        if not self.ready():
            raise ValueError("the model has learned nothing yet")
        return self._answers(self._matrix(features))

    def test_then_train(
        self, features: npt.ArrayLike, targets: Sequence[str] | Sequence[float]
    ) -> list[Answer | None]:
        """For each row in order: its prediction by the model as it stands (None before the
        first record), then learn it."""
        matrix = self._matrix(features)
        truths = self._targets(targets, matrix.shape[0])
        answers: list[Answer | None] = []
        for i in range(matrix.shape[0]):
            row = matrix[i : i + 1]
            answers.append(self._answer(row) if self.ready() else None)
            self._learn(row, truths[i : i + 1])
        return answers

    def _learn(self, row: FloatMatrix, truth: npt.NDArray[Any]) -> None:
        # Always one record per call: the scaler's and SGD's arithmetic depend on how records
        # are grouped, and a restart may fall between any two records.
        self._scaler.partial_fit(row)
        scaled = self._scaled(row)
        if self.learned == 0 and self.kind == "classifier":
            self._model.partial_fit(scaled, truth, classes=np.asarray(self.classes))
        else:
            self._model.partial_fit(scaled, truth)
        self.learned += 1

    def _scaled(self, matrix: FloatMatrix) -> FloatMatrix:
        # The same operations as StandardScaler.transform, bit for bit, without its checks
        # (which cost more than the arithmetic on one row).
        scaled: FloatMatrix = (matrix - self._scaler.mean_) / self._scaler.scale_
        return scaled

    def _answers(self, matrix: FloatMatrix) -> list[str] | FloatMatrix:
        # The linear models' own decision rule (LinearClassifierMixin.predict,
        # SGDRegressor.predict), so test_then_train's per-row answers cost little.
        scores = self._scaled(matrix) @ self._model.coef_.T + self._model.intercept_
        if self.kind == "regressor":
            return np.asarray(scores, dtype=np.float64).reshape(-1)
        if scores.shape[1] == 1:
            indices = (scores[:, 0] > 0).astype(np.intp)
        else:
            indices = scores.argmax(axis=1)
        return [str(label) for label in self._model.classes_[indices]]

    def _answer(self, row: FloatMatrix) -> Answer:
        answer = self._answers(row)[0]
        return answer if isinstance(answer, str) else float(answer)

    def _matrix(self, features: npt.ArrayLike) -> FloatMatrix:
        matrix = np.asarray(features, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(self.inputs):
            raise ValueError(f"features must be rows × {len(self.inputs)}, not {matrix.shape}")
        if not np.isfinite(matrix).all():
            raise ValueError("features must be finite numbers")
        return matrix

    def _targets(self, targets: Sequence[str] | Sequence[float], rows: int) -> npt.NDArray[Any]:
        # All checked before any is learned: a bad one must not leave a batch half learned.
        if len(targets) != rows:
            raise ValueError(f"{len(targets)} targets for {rows} rows")
        if self.kind == "classifier":
            assert self.classes is not None
            known = set(self.classes)
            unknown = [t for t in targets if not isinstance(t, str) or t not in known]
            if unknown:
                raise ValueError(f"label {unknown[0]!r} is not one of {self.classes}")
            return np.asarray(targets)
        values = np.asarray(targets, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError("regression targets must be finite numbers")
        return values

    # -- export -----------------------------------------------------------------------------

    def to_onnx(self) -> tuple[bytes, list[str] | None]:
        """The ONNX bytes, and the class labels in probability-column order (None when the
        graph has no probabilities: regressors, and hinge models, whose scores are not)."""
        if not self.ready():
            raise ValueError("the model has learned nothing yet")
        probabilities = self.algorithm == "logistic-sgd"
        artifact = pipeline_onnx(self._scaler, self._model, len(self.inputs), probabilities)
        labels = [str(c) for c in self._model.classes_] if probabilities else None
        return artifact, labels

    # -- state ------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """JSON-safe, and all partial_fit needs to go on exactly. Raises ValueError when its
        JSON exceeds MAX_STATE_BYTES or a number is not finite."""
        state: dict[str, Any] = {
            "format": STATE_FORMAT,
            "algorithm": self.algorithm,
            "inputs": list(self.inputs),
            "classes": None if self.classes is None else list(self.classes),
            "learning_rate": self.learning_rate,
            "learned": self.learned,
            "scaler": None,
            "model": None,
        }
        if self.ready():
            scaler, model = self._scaler, self._model
            state["scaler"] = {
                "mean_": scaler.mean_.tolist(),
                "var_": scaler.var_.tolist(),
                "scale_": scaler.scale_.tolist(),
                # A numpy scalar (float64 once partial_fit has run); tolist() keeps int/float.
                "n_samples_seen_": np.asarray(scaler.n_samples_seen_).tolist(),
            }
            # What SGD keeps between partial_fit calls. _expanded_class_weight, _loss_function_
            # and n_iter_ are recomputed by every call; the averaged coefficients exist only
            # with average=True, which these algorithms do not use.
            state["model"] = {
                "coef_": model.coef_.tolist(),
                "intercept_": model.intercept_.tolist(),
                "t_": float(model.t_),
                "classes_": None if self.kind == "regressor" else [str(c) for c in model.classes_],
            }
        try:
            size = len(json.dumps(state, allow_nan=False).encode())
        except ValueError as exc:
            raise ValueError(f"the model's state has numbers that are not finite: {exc}") from exc
        if size > MAX_STATE_BYTES:
            raise ValueError(
                f"the model's state takes {size} bytes of JSON, more than the "
                f"{MAX_STATE_BYTES} a version's metadata may carry"
            )
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> OnlineModel:
        """The model ``state()`` describes, learning on exactly as the original would."""
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"unknown learner state format {state.get('format')!r}")
        model = cls(state["algorithm"], state["inputs"], state["classes"], state["learning_rate"])
        learned = int(state["learned"])
        if learned > 0:
            model._restore(state["scaler"], state["model"])
        model.learned = learned
        return model

    def _restore(self, scaler_state: dict[str, Any], model_state: dict[str, Any]) -> None:
        width = len(self.inputs)
        scaler, model = self._scaler, self._model
        scaler.n_features_in_ = width
        scaler.mean_ = _floats(scaler_state["mean_"], (width,))
        scaler.var_ = _floats(scaler_state["var_"], (width,))
        scaler.scale_ = _floats(scaler_state["scale_"], (width,))
        scaler.n_samples_seen_ = np.asarray(scaler_state["n_samples_seen_"])[()]
        model.n_features_in_ = width
        model.t_ = float(model_state["t_"])
        if self.kind == "regressor":
            model.coef_ = _floats(model_state["coef_"], (width,))
            model.intercept_ = _floats(model_state["intercept_"], (1,))
            return
        assert self.classes is not None
        classes = np.asarray(model_state["classes_"])
        if sorted(classes.tolist()) != sorted(self.classes):
            raise ValueError(f"the state's classes {classes.tolist()} are not {self.classes}")
        # Binary models keep one row of coefficients; one-vs-rest ones, a row per class.
        rows = 1 if len(classes) == 2 else len(classes)
        model.classes_ = classes
        model.coef_ = _floats(model_state["coef_"], (rows, width))
        model.intercept_ = _floats(model_state["intercept_"], (rows,))


def _floats(values: Any, shape: tuple[int, ...]) -> FloatMatrix:
    array = np.array(values, dtype=np.float64, order="C")
    if array.shape != shape:
        raise ValueError(f"the state holds an array of shape {array.shape}, expected {shape}")
    return array
