"""Signed pickles serve; unsigned, wrongly signed or keyless ones are never unpickled."""

from __future__ import annotations

import hashlib
import hmac
import io
import pickle
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from service.errors import DescriptorRejectedError
from service.inputs.schema import TypedBatch
from service.runtimes.pickle import PickleModel
from service.wine import WINE_FIELDS, wine_arrays

KEY = "s3cret-key"


def sign(data: bytes, key: str = KEY) -> str:
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


def dump(estimator: object) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    return buffer.getvalue()


class Boobytrap:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_signed_classifier_scores_like_scikit_learn() -> None:
    x, y = wine_arrays()
    x = x.astype(np.float64)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    data = dump(clf)
    model = PickleModel.load(data, sign(data), KEY, list(WINE_FIELDS), None)
    result = model.predict(TypedBatch.of_matrix(model.input_schema, x[:100]))
    assert result.labels == [str(v) for v in clf.predict(x[:100])]
    assert result.classes == [str(c) for c in clf.classes_]
    assert result.probabilities is not None
    np.testing.assert_allclose(result.probabilities, clf.predict_proba(x[:100]))


def test_signed_regressor() -> None:
    x, y = wine_arrays()
    reg = LinearRegression().fit(x, y)
    data = dump(reg)
    model = PickleModel.load(data, sign(data), KEY, list(WINE_FIELDS), None)
    result = model.predict(TypedBatch.of_matrix(model.input_schema, x[:5]))
    values = [r["value"] for r in result.rows()]
    assert values == pytest.approx(reg.predict(x[:5]).tolist())


@pytest.mark.parametrize(
    ("signature", "key", "message"),
    [
        (None, KEY, "signature"),
        ("00" * 32, KEY, "does not match"),
        ("sign-with-other-key", KEY, "does not match"),
        ("valid", None, "no MODELSERVE_PICKLE_KEY"),
    ],
)
def test_hostile_pickles_are_never_unpickled(
    tmp_path: Path, signature: str | None, key: str | None, message: str
) -> None:
    marker = tmp_path / "pwned"
    data = pickle.dumps(Boobytrap(marker))
    if signature == "valid":
        signature = sign(data)
    elif signature == "sign-with-other-key":
        signature = sign(data, "another-key")
    with pytest.raises(DescriptorRejectedError, match=message):
        PickleModel.load(data, signature, key, ["a"], None)
    assert not marker.exists()


def test_the_trap_is_real_when_signed(tmp_path: Path) -> None:
    """The control case: the same bytes, correctly signed, do run (so the test above means
    something) — and the object, which cannot predict, is refused afterwards."""
    from service.errors import ModelLoadError

    marker = tmp_path / "pwned"
    data = pickle.dumps(Boobytrap(marker))
    with pytest.raises(ModelLoadError):
        PickleModel.load(data, sign(data), KEY, ["a"], None)
    assert marker.exists()


async def test_pickles_through_the_lifecycle(tmp_path: Path) -> None:
    import base64
    from importlib.metadata import version

    from service.settings import Settings
    from tests.control.test_lifecycle import Harness

    x, y = wine_arrays()
    data = dump(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y))
    doc = {
        "dataType": "wine",
        "modelType": "pickle",
        "inputs": list(WINE_FIELDS),
        "data": base64.b64encode(data).decode(),
    }
    h = Harness(Settings(pickle_key=KEY))
    await h.publish("pk", **doc, signature=sign(data))
    assert h.events[-1]["status"] == "loaded" and h.registry.serving_for("wine") is not None
    # The runtime named is the library whose estimator the pickle holds.
    assert h.events[-1]["runtime"] == f"scikit-learn {version('scikit-learn')}"
    marker = tmp_path / "pwned"
    trap = pickle.dumps(Boobytrap(marker))
    await h.publish("pk", **{**doc, "data": base64.b64encode(trap).decode()}, signature=sign(data))
    assert h.events[-1]["status"] == "rejected" and not marker.exists()
    keyless = Harness(Settings(pickle_key=None))
    await keyless.publish("pk", **doc, signature=sign(data))
    assert (
        keyless.events[-1]["status"] == "rejected"
        and "MODELSERVE_PICKLE_KEY" in keyless.events[-1]["error"]
    )
