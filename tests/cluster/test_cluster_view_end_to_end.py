"""The cluster view on the real broker, with two replicas in one group: each answers
``/cluster`` for both (instances, partitions, totals equal to the sum of their own ``/stats``),
``/state?scope=cluster`` merges their serving stats, and a replica that stops cleanly is
marked ``stopped``. (A killed replica ageing out is in tests/test_deployment_end_to_end.py,
where replicas are processes.)"""

from __future__ import annotations

from typing import Any

from service.server import Service
from tests.kafka_helpers import isolated_settings, produce_json, read_until
from tests.models import ModelFiles
from tests.service_helpers import get_json, publish_forest, until, wine_records

INTERVAL_S = 0.3


async def test_either_replica_answers_for_both(
    bootstrap: str, start_service: Any, model_files: ModelFiles
) -> None:
    base = isolated_settings(bootstrap, stats_interval_s=INTERVAL_S, topic_partitions=4)
    a: Service = await start_service(base.model_copy(update={"instance_id": "replica-a"}))
    b: Service = await start_service(base.model_copy(update={"instance_id": "replica-b"}))
    await publish_forest(base, model_files)
    records = wine_records(model_files.features[:600], "k")
    await produce_json(bootstrap, base.data_topics[0], records)
    await read_until(bootstrap, base.output_topic, lambda r: len(r) >= 600)

    async def settled() -> dict[str, Any] | None:
        """A's view once both replicas' last snapshots carry the final counts."""
        view = await get_json(a, "/cluster")
        own = [await get_json(a, "/stats"), await get_json(b, "/stats")]
        if view["alive"] != ["replica-a", "replica-b"] or view["totals"]["scored"] != 600:
            return None
        return {"view": view, "own": own}

    found = await until(settled, pause_s=INTERVAL_S / 3)
    view, own = found["view"], found["own"]
    for key in ("consumed", "scored", "dlq", "batches"):
        assert view["totals"][key] == sum(s[key] for s in own), key
    by_instance = {i["instance"]: i for i in view["instances"]}
    held = {
        (p["topic"], p["partition"]): name
        for name, i in by_instance.items()
        for p in i["partitions"]
    }
    # Every partition of the group's topics: the data topic's and the inference requests'.
    topics = sorted((base.data_topics[0], base.oip_input_topic))
    assert sorted(held) == [(topic, p) for topic in topics for p in range(4)]
    assert set(held.values()) == {"replica-a", "replica-b"}  # both hold some
    assert [p["instance"] for p in view["partitions"]] == [
        held[(p["topic"], p["partition"])] for p in view["partitions"]
    ]
    assert view["totals"]["lag"] == 0

    own_states = [await get_json(a, "/state/wine"), await get_json(b, "/state/wine")]
    merged = await get_json(b, "/state/wine?scope=cluster")
    assert merged["usage"] == sum(s["usage"] for s in own_states) == 600
    assert merged["duration"] == round(sum(s["duration"] for s in own_states), 3)
    assert merged["min"] == min(s["min"] for s in own_states if s["usage"])
    assert merged["max"] == max(s["max"] for s in own_states)
    assert {i["instance"] for i in merged["instances"]} == {"replica-a", "replica-b"}

    await b.stop()

    async def b_stopped() -> dict[str, Any] | None:
        view = await get_json(a, "/cluster")
        return view if view["stopped"] == ["replica-b"] else None

    view = await until(b_stopped, pause_s=INTERVAL_S / 3)
    assert view["alive"] == ["replica-a"]
    stopped = next(i for i in view["instances"] if i["instance"] == "replica-b")
    assert stopped["stats"]["scored"] == own[1]["scored"]  # its last word is kept
