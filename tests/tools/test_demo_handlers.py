"""The demo's Python model, served as a PYTHON model is: from its allowed module, warmed up,
and answering every wine with checked probabilities, better than the commonest quality."""

from __future__ import annotations

from collections import Counter

import pytest

from service.control.loader import warm_up
from service.errors import DescriptorRejectedError
from service.inputs.conversion import typed_batch
from service.runtimes.catalog import RUNTIMES, LoadOptions, LoadRequest
from service.runtimes.checks import row_problems
from service.tools.demo import DEMO_HANDLERS
from service.wine import WINE_FIELDS, WINE_LABEL, wine_rows

pytest.importorskip("pandas", reason="the learn extra (pandas) runs form-1 Python models")


def request(allowed: tuple[str, ...]) -> LoadRequest:
    return LoadRequest(
        b"",
        inputs=list(WINE_FIELDS),
        handler=f"{DEMO_HANDLERS}:nearest_centroid",
        metadata={"temperature": 1.0},
        options=LoadOptions(python_handlers=allowed),
        artifact_given=False,
    )


def test_the_demo_model_serves_as_a_python_model() -> None:
    model = RUNTIMES.get("PYTHON").load(request((DEMO_HANDLERS,)))
    try:
        assert warm_up(model).kind == "classifier"
        rows = list(wine_rows())
        result = model.predict(typed_batch(model.input_schema, rows))
        assert row_problems(result) == {}
        truth = [str(int(r[WINE_LABEL])) for r in rows]
        right = sum(a == b for a, b in zip(result.labels or [], truth, strict=True)) / len(rows)
        commonest = Counter(truth).most_common(1)[0][1] / len(rows)
        assert right > commonest + 0.1
    finally:
        model.close()


def test_the_demo_model_is_refused_where_its_module_is_not_allowed() -> None:
    with pytest.raises(DescriptorRejectedError, match="MODELSERVE_PYTHON_HANDLERS"):
        RUNTIMES.get("PYTHON").load(request(("acme",)))
