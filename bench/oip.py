"""The Open Inference Protocol measured side by side with MLServer 1.7.1 on one machine and
broker: REST and gRPC request-reply (oip_requests.py) and Kafka (oip_kafka.py), with the ratios
the project tracks (modelserve at least 1.5 x MLServer's requests/s on REST and gRPC, 10 x on
Kafka). ``python -m bench.oip`` runs these alone; ``make bench`` runs them with the rest."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

from service.tools.devbroker import DevBroker

from . import oip_kafka
from .load import Load
from .oip_requests import CLIENTS, forest, linear, mlserver_requests, modelserve_requests
from .workload import BenchModel


def summary(name: str, loads: list[Load]) -> float:
    rates = [load.rate for load in loads]
    failed = sum(load.failed for load in loads)
    runs = ", ".join(f"{r:,.0f}" for r in rates)
    print(f"  {name:34s} {statistics.median(rates):>8,.0f} req/s   runs: {runs}; {failed} failed")
    return statistics.median(rates)


async def figures(bootstrap: str, runs: int = 3, kafka: bool = True) -> dict[str, float]:
    """Each server's median requests/s, and the ratios the issue sets (modelserve ≥ 1.5 ×),
    on the forest (the issue's model) and on a logistic regression, a model that costs either
    server little, so that its ratios are the servers' own; ``kafka=False``: request-reply
    only (a few minutes, where Kafka's MLServer runs take up to 3 minutes each)."""
    found: dict[str, float] = {}
    for kind, make in (("forest", forest), ("linear", linear)):
        model = make(Path(tempfile.mkdtemp()))
        print(
            f"Open Inference Protocol, {kind}, one row per request, {CLIENTS} clients:", flush=True
        )
        ours_rest, ours_grpc = await modelserve_requests(bootstrap, model, runs)
        theirs_rest, theirs_grpc = await mlserver_requests(runs, kind)
        for server, loads in (
            ("modelserve REST", ours_rest),
            ("MLServer REST", theirs_rest),
            ("modelserve gRPC", ours_grpc),
            ("MLServer gRPC", theirs_grpc),
        ):
            found[f"{kind} {server}"] = summary(server, loads)
        if kafka:
            # MLServer's Kafka server answers tens of requests a second: one run of the
            # linear model (180 s at most) tells whether the model is what holds it back.
            found |= await kafka_figures(bootstrap, kind, model, runs if kind == "forest" else 1)
        protocols = ("REST", "gRPC", "Kafka") if kafka else ("REST", "gRPC")
        for protocol in protocols:
            ratio = found[f"{kind} modelserve {protocol}"] / found[f"{kind} MLServer {protocol}"]
            found[f"{kind} {protocol}: modelserve / MLServer"] = ratio
            print(f"  {kind} {protocol}: modelserve / MLServer {ratio:.2f}", flush=True)
    return found


async def kafka_figures(
    bootstrap: str, kind: str, model: BenchModel, runs: int
) -> dict[str, float]:
    print(f"Kafka, {kind}, {oip_kafka.REQUESTS:,} one-row requests:", flush=True)
    found = {}
    for server, rates in (
        ("modelserve Kafka", await oip_kafka.modelserve_rates(bootstrap, model, runs)),
        ("MLServer Kafka", await oip_kafka.mlserver_rates(bootstrap, runs, kind)),
    ):
        found[f"{kind} {server}"] = statistics.median(rates)
        shown = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"  {server:34s} {statistics.median(rates):>8,.0f} req/s   runs: {shown}")
    return found


async def main() -> None:
    async with DevBroker() as broker:
        await figures(broker.bootstrap, kafka="--request-reply" not in sys.argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
