"""The loader without Kafka: the catalog picks the runtime, the settings reach it, and every
way a descriptor's artifact can be wrong is a refusal, never a crash."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from service.control.loader import Loader
from service.errors import DescriptorRejectedError, ModelLoadError
from service.serving.descriptor import ModelDescriptor
from service.settings import Settings
from service.wine import WINE_FIELDS
from tests.models import ModelFiles


def descriptor(**fields: Any) -> ModelDescriptor:
    return ModelDescriptor.model_validate({"name": "m", "version": 1, "dataType": "d", **fields})


async def test_each_type_loads_through_its_catalog_entry(model_files: ModelFiles) -> None:
    loader = Loader(Settings())
    onnx = model_files.forest_onnx.read_bytes()
    loaded = await loader.load(descriptor(modelType="ONNX", data=onnx, inputs=list(WINE_FIELDS)))
    assert loaded.sha256 == hashlib.sha256(onnx).hexdigest()
    assert str(loaded.model.runtime).startswith("onnxruntime ")
    # What it answers, seen at warm-up, is what routes check their members against.
    assert loaded.shape.kind == "classifier" and loaded.shape.classes is not None
    assert len(loaded.shape.classes) == len(model_files.forest_classes)
    pmml = model_files.forest_pmml.read_bytes()
    loaded = await loader.load(descriptor(modelType="PMML", data=pmml))
    assert str(loaded.model.runtime).startswith(
        "jpmml-evaluator "
    )  # auto, with the extra installed


async def test_the_pmml_engine_setting_reaches_the_runtime(model_files: ModelFiles) -> None:
    loader = Loader(Settings(pmml_engine="pypmml"))
    pmml = model_files.forest_pmml.read_bytes()
    loaded = await loader.load(descriptor(modelType="PMML", data=pmml))
    assert str(loaded.model.runtime).startswith("pypmml ")


async def test_wrong_artifacts_are_refusals(model_files: ModelFiles) -> None:
    loader = Loader(Settings(max_artifact_bytes=1024 * 1024))
    onnx = model_files.forest_onnx.read_bytes()
    with pytest.raises(DescriptorRejectedError, match="sha256 mismatch"):
        await loader.load(descriptor(modelType="ONNX", data=onnx, sha256="0" * 64))
    with pytest.raises(ModelLoadError, match="not an ONNX model"):
        await loader.load(descriptor(modelType="ONNX", data=b"not onnx", inputs=["a"]))
    with pytest.raises(DescriptorRejectedError, match="no MODELSERVE_PICKLE_KEY"):
        await loader.load(descriptor(modelType="PICKLE", data=b"\x80\x04."))
    with pytest.raises(DescriptorRejectedError, match="exceeds"):
        await Loader(Settings(max_artifact_bytes=1024)).load(
            descriptor(modelType="ONNX", data=onnx, inputs=list(WINE_FIELDS))
        )
