"""``/health/ready`` typed: each check written under its own name right after ``ready``, as the
untyped answer wrote them, over HTTP too; read back from that form; a container ready when
every worker is, a check holding when it holds in every worker."""

from __future__ import annotations

import httpx
import orjson

from service.http.app import Health, create_app
from service.metrics import Metrics
from service.routing.registry import Registry
from service.scoring.engine import Engine
from service.state.health import Readiness, merge_readiness
from service.state.shapes import encode

CHECKS = [
    {},
    {"brokerReachable": True, "controlCaughtUp": False, "dataAssigned": True},
    {"dataAssigned": True, "brokerReachable": True},
]


async def test_a_processs_readiness_is_written_as_the_untyped_answer_wrote_it() -> None:
    for checks in CHECKS:
        ok = all(checks.values())
        readiness = Readiness(ready=ok, checks=checks)
        written = orjson.dumps(encode(readiness))
        assert written == orjson.dumps({"ready": ok, **checks})
        assert Readiness.model_validate_json(written) == readiness
        registry, metrics = Registry(), Metrics()
        health = Health(lambda: True, checks.copy)
        app = create_app(registry, metrics, Engine(registry, metrics, None), health)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.get("/health/ready")
        assert answer.content == written and answer.status_code == (200 if ok else 503)


def test_a_container_is_ready_when_every_worker_is() -> None:
    parts = [(0, Readiness.model_validate({"ready": True, **CHECKS[2]}))]
    parts += [(1, Readiness.model_validate({"ready": False, **CHECKS[1]}))]
    parts += [(2, Readiness(ready=False))]  # did not answer
    merged = merge_readiness(parts)
    assert encode(merged) == {
        "ready": False,
        "dataAssigned": False,  # worker 2 did not say
        "brokerReachable": False,
        "controlCaughtUp": False,
        "workers": [
            {"worker": 0, "ready": True, **CHECKS[2]},
            {"worker": 1, "ready": False, **CHECKS[1]},
            {"worker": 2, "ready": False},
        ],
    }
    assert merge_readiness(parts[:1]).ready and merge_readiness(parts[:1]).checks == CHECKS[2]


def test_a_reason_is_written_after_the_checks_only_when_there_is_one() -> None:
    why = "k:9093: SaslAuthenticationFailed: wrong credentials"
    refused = Readiness(ready=False, checks={"brokerReachable": False}, reason=why)
    assert list(encode(refused)) == ["ready", "brokerReachable", "reason"]
    assert Readiness.model_validate(encode(refused)) == refused
    assert "reason" not in encode(Readiness(ready=True, checks={"brokerReachable": True}))


def test_a_container_says_the_first_reason_of_its_workers() -> None:
    why = "k:9093: SSLCertVerificationError: certificate verify failed"
    merged = merge_readiness(
        [
            (0, Readiness(ready=True, checks={"brokerReachable": True})),
            (1, Readiness(ready=False, checks={"brokerReachable": False}, reason=why)),
        ]
    )
    assert not merged.ready and merged.reason == why
    assert merged.workers[1].reason == why and merged.workers[0].reason is None


async def test_servers_that_do_not_answer_are_named_and_the_process_stays_ready() -> None:
    registry, metrics = Registry(), Metrics()
    checks = {"brokerReachable": True, "controlCaughtUp": True, "dataAssigned": True}
    health = Health(lambda: True, checks.copy, endpoints_down=lambda: ["http://mlserver:8080"])
    app = create_app(registry, metrics, Engine(registry, metrics, None), health)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.get("/health/ready")
    assert answer.status_code == 200
    assert answer.json() == {"ready": True, **checks, "endpointsDown": ["http://mlserver:8080"]}
    worker = Readiness.model_validate_json(answer.content)
    merged = merge_readiness([(0, worker), (1, Readiness(ready=True, checks=checks))])
    assert merged.ready and merged.endpoints_down == ["http://mlserver:8080"]
