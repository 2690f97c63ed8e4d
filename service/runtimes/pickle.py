"""scikit-learn / joblib models shipped as pickles. Pickle runs code when loaded, so a pickle is
only ever unpickled after its HMAC-SHA256 signature has been checked against the operator's
key (``MODELSERVE_PICKLE_KEY``): a data scientist holding the key vouches for the bytes."""

from __future__ import annotations

import hashlib
import hmac
import io
import platform
import warnings
from collections.abc import Sequence
from importlib.metadata import packages_distributions, version
from typing import Any

import numpy as np

from service.errors import DescriptorRejectedError, ModelLoadError
from service.inputs.schema import InputSchema, TypedBatch
from service.runtimes.base import BatchResult, RuntimeInfo, label_text, labels_from_indices
from service.runtimes.catalog import LoadRequest
from service.runtimes.pickle_inputs import dataframe, estimator_schema, with_known_categories

# A model of numbers only gets a matrix in its column order, matched by name beforehand;
# scikit-learn's reminder that the matrix has no column names is noise here.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


def verify_signature(artifact: bytes, signature: str | None, key: str | None) -> None:
    """Raises unless ``signature`` is the hex HMAC-SHA256 of ``artifact`` under ``key``."""
    if not key:
        raise DescriptorRejectedError("PICKLE models are refused: no MODELSERVE_PICKLE_KEY is set")
    if not signature:
        raise DescriptorRejectedError("PICKLE models must carry a signature")
    expected = hmac.new(key.encode(), artifact, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise DescriptorRejectedError("pickle signature does not match its bytes")


def load(request: LoadRequest) -> PickleModel:
    return PickleModel.load(
        request.artifact,
        request.signature,
        request.options.pickle_key,
        request.inputs,
        request.labels,
        request.schema,
    )


class PickleModel:
    """Scores through ``predict_proba`` (classifiers) or ``predict`` (regressors and others).
    A model fit on a pandas DataFrame (it has ``feature_names_in_``) is given one, with its
    column names and types; any other a float matrix. Construct only through ``load`` so the
    signature check cannot be skipped."""

    def __init__(
        self,
        estimator: Any,
        schema: InputSchema,
        labels: Sequence[str] | None,
        as_dataframe: bool,
    ) -> None:
        self._estimator = estimator
        self._schema = schema
        self._as_dataframe = as_dataframe
        classes = getattr(estimator, "classes_", None)
        self._proba = hasattr(estimator, "predict_proba") and classes is not None
        self._classes = (
            list(labels)
            if labels
            else [label_text(c) for c in (classes if classes is not None else [])]
        )
        self._runtime = _runtime_of(estimator)
        width = getattr(estimator, "n_features_in_", None)
        if isinstance(width, int) and width != len(schema):
            raise ModelLoadError(f"`inputs` names {len(schema)} fields, the model takes {width}")

    @classmethod
    def load(
        cls,
        artifact: bytes,
        signature: str | None,
        key: str | None,
        inputs: Sequence[str] | None,
        labels: Sequence[str] | None,
        schema: InputSchema | None = None,
    ) -> PickleModel:
        verify_signature(artifact, signature, key)
        import joblib

        # Signed by the key holder: from here on the bytes are trusted like code.
        estimator = joblib.load(io.BytesIO(artifact))
        if not hasattr(estimator, "predict"):
            raise ModelLoadError(
                f"the pickle holds a {type(estimator).__name__}, which cannot predict"
            )
        fitted_on_dataframe = getattr(estimator, "feature_names_in_", None) is not None
        if schema is not None:
            schema = with_known_categories(schema, estimator)
        else:
            schema = estimator_schema(estimator, inputs)
        if schema is None:
            raise ModelLoadError(
                "the descriptor must list the model's columns in `inputs` (or `schema`)"
            )
        return cls(estimator, schema, labels, fitted_on_dataframe)

    @property
    def input_schema(self) -> InputSchema:
        return self._schema

    @property
    def runtime(self) -> RuntimeInfo:
        return self._runtime

    def predict(self, batch: TypedBatch) -> BatchResult:
        size = batch.size
        features: Any
        if self._as_dataframe:
            features = dataframe(batch)
        elif self._schema.all_numeric_scalars:
            features = batch.matrix()
        else:  # fit on an array of mixed columns (the descriptor's schema says which)
            features = np.column_stack([batch.columns[n] for n in self._schema.names])
        if self._proba:
            probabilities = np.asarray(self._estimator.predict_proba(features), dtype=np.float64)
            labels = labels_from_indices(probabilities, self._classes)
            return BatchResult("classifier", size, labels, self._classes, probabilities)
        values = np.asarray(self._estimator.predict(features))
        if values.ndim == 1 and np.issubdtype(values.dtype, np.number):
            return BatchResult("regressor", size, values=values.astype(np.float64))
        return BatchResult("outputs", size, outputs=[{"prediction": v} for v in values.tolist()])

    def close(self) -> None:
        self._estimator = None


def _runtime_of(estimator: object) -> RuntimeInfo:
    """The library whose estimator this is (scikit-learn 1.9.0), else Python's pickle."""
    package = type(estimator).__module__.split(".")[0]
    for distribution in packages_distributions().get(package, []):
        return RuntimeInfo(distribution, version(distribution))
    return RuntimeInfo("pickle", platform.python_version())
