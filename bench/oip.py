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
from .oip_requests import CLIENTS, forest, mlserver_requests, modelserve_requests


def summary(name: str, loads: list[Load]) -> float:
    rates = [load.rate for load in loads]
    failed = sum(load.failed for load in loads)
    runs = ", ".join(f"{r:,.0f}" for r in rates)
    print(f"  {name:34s} {statistics.median(rates):>8,.0f} req/s   runs: {runs}; {failed} failed")
    return statistics.median(rates)


async def figures(bootstrap: str, runs: int = 3) -> dict[str, float]:
    """Each server's median requests/s, and the ratios the issue sets (modelserve ≥ 1.5 ×)."""
    model = forest(Path(tempfile.mkdtemp()))
    print(f"Open Inference Protocol, one row per request, {CLIENTS} clients:", flush=True)
    ours_rest, ours_grpc = await modelserve_requests(bootstrap, model, runs)
    theirs_rest, theirs_grpc = await mlserver_requests(runs)
    found = {
        "modelserve REST": summary("modelserve REST", ours_rest),
        "MLServer REST": summary("MLServer REST", theirs_rest),
        "modelserve gRPC": summary("modelserve gRPC", ours_grpc),
        "MLServer gRPC": summary("MLServer gRPC", theirs_grpc),
    }
    print(f"Kafka, {oip_kafka.REQUESTS:,} one-row requests:", flush=True)
    for server, rates in (
        ("modelserve Kafka", await oip_kafka.modelserve_rates(bootstrap, model, runs)),
        ("MLServer Kafka", await oip_kafka.mlserver_rates(bootstrap, runs)),
    ):
        found[server] = statistics.median(rates)
        shown = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"  {server:34s} {found[server]:>8,.0f} req/s   runs: {shown}", flush=True)
    for protocol in ("REST", "gRPC", "Kafka"):
        ratio = found[f"modelserve {protocol}"] / found[f"MLServer {protocol}"]
        found[f"{protocol}: modelserve / MLServer"] = ratio
        print(f"  {protocol}: modelserve / MLServer {ratio:.2f}")
    return found


async def main() -> None:
    async with DevBroker() as broker:
        await figures(broker.bootstrap)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
