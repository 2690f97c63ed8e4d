"""Online linear models: scikit-learn ``partial_fit`` estimators behind a running
StandardScaler, learned one record at a time, with their exact state as JSON (so that a
restarted learner goes on bit for bit) and their export to ONNX."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.preprocessing import StandardScaler

# Re-exported: the CLI, the options and the tests name the algorithms from here.
from service.errors import ModelServeError
from service.learning.estimators import ALGORITHMS as ALGORITHMS
from service.learning.estimators import Algorithm as Algorithm
from service.learning.estimators import checked_kind, estimator
from service.learning.export import pipeline_onnx
from service.learning.gate import Kind
from service.learning.state import STATE_FORMAT, InvalidStateError, check_state

# Numbers beyond this are not learned: a feature's square, summed over billions of records
# by the running variance, must stay a finite double (1e100² × 1e18 records = 1e218). One
# huge first record would otherwise leave a state every later record overflows.
MAX_MAGNITUDE = 1e100

FloatMatrix = npt.NDArray[np.float64]
Answer = str | float


class UnlearnableError(ModelServeError, ValueError):
    """A record the model cannot learn from: a label it does not know, a number that is not
    finite, or one so large that learning it would leave the model's numbers infinite. The
    model is as it was before the record. Not retriable: the record stays what it is."""


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
        self.kind: Kind = checked_kind(algorithm, inputs, classes, learning_rate)
        self.algorithm: Algorithm = algorithm
        self.inputs = [str(name) for name in inputs]
        self.classes = None if classes is None else [str(c) for c in classes]
        self.learning_rate = learning_rate
        self.learned = 0
        self._scaler = StandardScaler()
        self._model = estimator(algorithm, learning_rate)

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
        first record), then learn it. UnlearnableError for a row that cannot be learned
        (after the rows before it are learned, and with the model as it was before that row)."""
        matrix = self._matrix(features)
        truths = self._targets(targets, matrix.shape[0])
        answers: list[Answer | None] = []
        for i in range(matrix.shape[0]):
            try:
                answers.append(self._step(matrix[i : i + 1], truths[i : i + 1]))
            except UnlearnableError as exc:
                raise UnlearnableError(f"row {i}: {exc}") from exc
        return answers

    def learn_one(self, features: Sequence[float], truth: Answer) -> Answer | None:
        """One record: its prediction by the model as it stands, then learn it. Raises
        UnlearnableError, leaving the model as it was, for a record it cannot learn."""
        matrix = self._matrix([features])
        return self._step(matrix, self._targets([truth], 1))

    def _step(self, row: FloatMatrix, truth: npt.NDArray[Any]) -> Answer | None:
        # Overflow is caught by looking at the numbers afterwards, not by numpy's warnings.
        with np.errstate(all="ignore"):
            answer = self._answer(row) if self.ready() else None
            if isinstance(answer, float) and not math.isfinite(answer):
                raise UnlearnableError("the model's answer to it is not a finite number")
            before = self._saved()
            try:
                self._learn(row, truth)
            except (ValueError, ArithmeticError) as exc:  # SGD's "Floating-point overflow"
                self._put_back(before)
                raise UnlearnableError(f"learning it fails: {exc}") from exc
            if not self._finite():
                # A huge but finite feature (1e200) squares to an infinite variance: the
                # state could be neither served nor saved, so the record is not learned.
                self._put_back(before)
                raise UnlearnableError("learning it would make the model's numbers infinite")
        return answer

    def _saved(self) -> tuple[Any, ...] | None:
        """Copies of what learning a record changes (the state's numbers; SGD updates some
        in place), to put back when a record turns out unlearnable."""
        if not self.ready():
            return None
        scaler, model = self._scaler, self._model
        seen = np.asarray(scaler.n_samples_seen_).copy()[()]
        arrays = (scaler.mean_, scaler.var_, scaler.scale_, model.coef_, model.intercept_)
        return (self.learned, seen, model.t_, *(a.copy() for a in arrays))

    def _put_back(self, saved: tuple[Any, ...] | None) -> None:
        if saved is None:  # the first record: back to nothing learned
            self._scaler = StandardScaler()
            self._model = estimator(self.algorithm, self.learning_rate)
            self.learned = 0
            return
        scaler, model = self._scaler, self._model
        self.learned, scaler.n_samples_seen_, model.t_ = saved[:3]
        scaler.mean_, scaler.var_, scaler.scale_, model.coef_, model.intercept_ = saved[3:]

    def _finite(self) -> bool:
        scaler, model = self._scaler, self._model
        arrays = (scaler.mean_, scaler.var_, scaler.scale_, model.coef_, model.intercept_)
        return math.isfinite(model.t_) and all(bool(np.isfinite(a).all()) for a in arrays)

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
            raise UnlearnableError("features must be finite numbers")
        if matrix.size and np.abs(matrix).max() > MAX_MAGNITUDE:
            raise UnlearnableError(f"features must be within ±{MAX_MAGNITUDE:g}")
        return matrix

    def _targets(self, targets: Sequence[Answer], rows: int) -> npt.NDArray[Any]:
        # All checked before any is learned: a bad one must not leave a batch half learned.
        if len(targets) != rows:
            raise ValueError(f"{len(targets)} targets for {rows} rows")
        if self.kind == "classifier":
            assert self.classes is not None
            known = set(self.classes)
            unknown = [t for t in targets if not isinstance(t, str) or t not in known]
            if unknown:
                raise UnlearnableError(f"label {unknown[0]!r} is not one of {self.classes}")
            return np.asarray(targets)
        try:
            values = np.asarray(targets, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise UnlearnableError(f"regression targets must be numbers: {exc}") from exc
        if not np.isfinite(values).all():
            raise UnlearnableError("regression targets must be finite numbers")
        if values.size and np.abs(values).max() > MAX_MAGNITUDE:
            raise UnlearnableError(f"regression targets must be within ±{MAX_MAGNITUDE:g}")
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
        """JSON-safe, and all partial_fit needs to go on exactly. Raises InvalidStateError
        (a ValueError) when its JSON exceeds MAX_STATE_BYTES or a number is not finite."""
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
        # The same checks as on a restored state: what is published can be resumed from.
        return check_state(state)

    @classmethod
    def from_state(cls, state: object) -> OnlineModel:
        """The model ``state()`` describes, learning on exactly as the original would.
        InvalidStateError (one line) for anything that is not such a state."""
        state = check_state(state)
        try:
            model = cls(
                state["algorithm"], state["inputs"], state["classes"], state["learning_rate"]
            )
            if state["learned"] > 0:
                model._restore(state["scaler"], state["model"])
        except ValueError as exc:
            raise InvalidStateError(str(exc)) from exc
        model.learned = state["learned"]
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
        # partial_fit keeps its classes sorted, a row of coefficients each: classes_ in any
        # other order would put each label's coefficients on another label.
        classes = np.asarray(model_state["classes_"])
        if classes.tolist() != sorted(self.classes):
            raise ValueError(
                f"the state's classes_ {classes.tolist()} are not {sorted(self.classes)}"
            )
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
