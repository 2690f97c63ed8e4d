"""The Python model `make demo` serves (modelType PYTHON, handler
``service.tools.demo_handlers:nearest_centroid``): a nearest-centroid classifier of wine
quality (each quality a unit Gaussian around its mean wine, weighted by how common it is: 59%
right on the data set, against 43% for always answering the commonest), fitted at load on the
wine data that ships with modelserve. Plain Python and numpy, as
a data scientist's own handler would be; the demo allows this module in
``MODELSERVE_PYTHON_HANDLERS``."""

from __future__ import annotations

from typing import Any

import numpy as np

from service.wine import WINE_FIELDS, WINE_LABEL, wine_rows


class NearestCentroid:
    """Each quality's mean wine, in standardised units; a wine's class probabilities are a
    softmax of its negative squared distances to them over ``2 * temperature`` (from the
    metadata), plus the log of each quality's share of the data."""

    def __init__(self, temperature: float) -> None:
        rows = list(wine_rows())
        features = np.array([[r[f] for f in WINE_FIELDS] for r in rows])
        labels = np.array([int(r[WINE_LABEL]) for r in rows])
        self.mean = features.mean(axis=0)
        self.scale = features.std(axis=0)
        standard = (features - self.mean) / self.scale
        self.classes = [str(c) for c in sorted(set(labels.tolist()))]
        self.centroids = np.array([standard[labels == int(c)].mean(axis=0) for c in self.classes])
        self.log_prior = np.log([float(np.mean(labels == int(c))) for c in self.classes])
        self.temperature = temperature

    def predict(self, frame: Any) -> list[dict[str, Any]]:
        standard = (frame[list(WINE_FIELDS)].to_numpy(dtype=float) - self.mean) / self.scale
        squared = ((standard[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2)
        logits = -squared / (2 * self.temperature) + self.log_prior
        weights = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = weights / weights.sum(axis=1, keepdims=True)
        return [
            {
                "label": self.classes[int(np.argmax(row))],
                "probabilities": dict(zip(self.classes, row.tolist(), strict=True)),
            }
            for row in probabilities
        ]


def nearest_centroid(artifact: bytes | None, metadata: dict[str, Any]) -> NearestCentroid:
    return NearestCentroid(float(metadata.get("temperature", 1.0)))
