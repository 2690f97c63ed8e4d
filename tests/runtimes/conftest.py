"""Fixtures of the runtimes' tests that are costly to build: made once per session, and only
by the tests that ask for them."""

from __future__ import annotations

import pytest

from tests.runtimes.tensorflow_models import TensorFlowModels, build_models, tensorflow_or_skip


@pytest.fixture(scope="session")
def tf_models(tmp_path_factory: pytest.TempPathFactory) -> TensorFlowModels:
    """The TensorFlow test models (tensorflow_models.py); skips when TensorFlow is missing."""
    tf = tensorflow_or_skip()
    return build_models(tf, tmp_path_factory.mktemp("tensorflow"))
