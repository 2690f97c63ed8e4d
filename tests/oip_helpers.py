"""What the Open Inference Protocol's transports' tests share: the protocol's core over an
in-memory registry (no broker) with the wine forest (``rf``, version 4) and the wine
regressor (``lr``, version 1), and onnxruntime's own answer to compare with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from service.control.loader import warm_up
from service.metrics import Metrics
from service.oip.inference import Inference
from service.routing.registry import Registry
from service.runtimes.onnx import OnnxModel
from service.scoring.engine import Engine
from service.serving.descriptor import ModelDescriptor
from service.wine import WINE_FIELDS
from tests.models import ModelFiles


def install(registry: Registry, name: str, version: int, path: Path, **fields: Any) -> None:
    artifact = path.read_bytes()
    descriptor = ModelDescriptor.model_validate(
        {"name": name, "version": version, "dataType": name, "modelType": "ONNX", "data": artifact}
        | fields
    )
    model = OnnxModel(artifact, fields.get("inputs"), fields.get("labels"))
    registry.begin_load(descriptor)
    registry.install(descriptor, model, "d" * 64, warm_up(model))


@dataclass(frozen=True)
class Served:
    registry: Registry
    metrics: Metrics
    engine: Engine
    inference: Inference


def served(model_files: ModelFiles, ready: bool = True, replayed: bool = True) -> Served:
    """``rf`` and ``lr`` behind the protocol's core, at server version 9.9; ``replayed``:
    whether the start's replay of the control topic is over."""
    registry, metrics = Registry(), Metrics()
    install(registry, "rf", 4, model_files.forest_onnx, inputs=list(WINE_FIELDS))
    install(registry, "lr", 1, model_files.regressor_onnx, inputs=list(WINE_FIELDS))
    engine = Engine(registry, metrics, None)
    inference = Inference(
        registry,
        engine,
        metrics,
        500,
        lambda: True,
        lambda: ready,
        version="9.9",
        replayed=lambda: replayed,
    )
    return Served(registry, metrics, engine, inference)


def forest_answer(model_files: ModelFiles, rows: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """onnxruntime's labels and probabilities (columns in the classes' order) for ``rows``."""
    session = ort.InferenceSession(model_files.forest_onnx.read_bytes())
    name = session.get_inputs()[0].name
    labels, probabilities = session.run(None, {name: rows.astype(np.float32)})
    if isinstance(probabilities[0], dict):
        probabilities = [[row[k] for k in sorted(row, key=str)] for row in probabilities]
    return labels.tolist(), np.asarray(probabilities, dtype=np.float64)
