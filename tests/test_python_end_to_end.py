"""PYTHON models served end to end, through the contract only: a descriptor with no artifact
naming a handler in the allowed package (MODELSERVE_PYTHON_HANDLERS) is published on the
control topic, records go to the data topic, and every prediction is the handler's own
answer; a descriptor naming a module off the list is rejected (its module never imported)
and the model in service keeps answering."""

from __future__ import annotations

import json
import sys
from typing import Any

import orjson
import pandas as pd

from service.server import Service
from service.serving.descriptor import ModelDescriptor
from service.tools.publishing import publish, wait_for_event
from service.wine import WINE_FIELDS
from tests.kafka_helpers import produce_json, read_until
from tests.runtimes.handlers import jet_style, wine_rules
from tests.runtimes.python_handler_helpers import HANDLERS, wines

METADATA = {"alcohol_threshold": 10}


async def publish_python(service: Service, **document: Any) -> dict[str, Any]:
    descriptor = ModelDescriptor.model_validate({"modelType": "PYTHON", **document})
    offset = await publish(service.settings, descriptor)
    event = await wait_for_event(service.settings, descriptor.name, offset, timeout_s=60)
    assert event is not None, f"no event for {descriptor.name}"
    return event


async def test_python_handlers_serve_from_kafka_and_off_list_ones_are_rejected(
    start_service: Any,
) -> None:
    service: Service = await start_service(python_handlers=[HANDLERS])
    s = service.settings
    wine_py = {
        "name": "wine-py",
        "dataType": "wine",
        "handler": f"{HANDLERS}.wine_rules:make",
        "inputs": list(WINE_FIELDS),
        "metadata": METADATA,
    }
    event = await publish_python(service, **wine_py)
    assert event["status"] == "loaded", event
    event = await publish_python(
        service, name="wine-jet", dataType="wine-jet", handler=f"{HANDLERS}.jet_style"
    )
    assert event["status"] == "loaded", event

    rows = wines(40)
    jet_rows = [{"alcohol": 9.0 + i / 4, "pH": 3.3, "colour": "red"} for i in range(10)]
    await produce_json(
        s.bootstrap_servers,
        s.data_topics[0],
        [(f"w{i}", {"dataType": "wine", **row}) for i, row in enumerate(rows)]
        + [(f"j{i}", {"dataType": "wine-jet", **row}) for i, row in enumerate(jet_rows)],
    )
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 50)
    expected = wine_rules.make(None, METADATA).predict(pd.DataFrame(rows))
    jet_texts = jet_style.transform_list([json.dumps(row) for row in jet_rows])
    for record in out:
        prediction = orjson.loads(record.value)
        kind, i = prediction["id"][0], int(prediction["id"][1:])
        if kind == "w":
            assert prediction["model"] == {"name": "wine-py", "version": 1}
            assert prediction["result"] == expected[i]
        else:
            assert prediction["model"] == {"name": "wine-jet", "version": 1}
            assert prediction["result"] == json.loads(jet_texts[i])

    # Off the list: refused before its module is imported; version 1 keeps serving.
    evil = "tests.runtimes.handlers_evil"
    event = await publish_python(service, **{**wine_py, "handler": f"{evil}:make"})
    assert event["status"] == "rejected", event
    assert "MODELSERVE_PYTHON_HANDLERS" in event["error"]
    assert evil not in sys.modules
    await produce_json(
        s.bootstrap_servers,
        s.data_topics[0],
        [(f"v{i}", {"dataType": "wine", **row}) for i, row in enumerate(rows[:5])],
    )
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 55)
    later = [orjson.loads(r.value) for r in out if r.key.decode().startswith("v")]
    assert len(later) == 5
    for prediction in later:
        assert prediction["model"] == {"name": "wine-py", "version": 1}
        assert prediction["result"] == expected[int(prediction["id"][1:])]
