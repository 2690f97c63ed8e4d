"""`python -m bench.soak [--model pmml] [--seconds 300]`: the service at full load for a
while, its memory sampled throughout — does RSS stay flat?

Full load: a feeder keeps the data topic well ahead of the service (it tops the backlog up to
between ``LOW`` and ``HIGH`` records not yet scored, read off the service's ``/stats``), so the
service never waits for input. Every ``--every`` seconds it records the service's resident set
size (``VmRSS``), its throughput and the broker's RSS. The first minute is warm-up (caches,
allocator arenas, the JIT-less interpreter's own growth); flatness is judged on the rest: the
spread of RSS after warm-up, relative to its value at the end of warm-up. RSS is the service's
process tree (for PMML, its JVM too).

The embedded broker keeps every record in memory (about 400 bytes per record in and out): at
the small ONNX model's full speed that is over 15 GiB in five minutes, more than this machine
can spare. So the five-minute run uses the PMML model (full load at a few thousand records/s,
and the JVM bridge is where a leak would most likely hide), and the ONNX models run at full
load for as long as ``--broker-budget-gib`` allows."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from service.tools.devbroker import DevBroker

from .harness import create_topics, serve, uid
from .service_runs import publish_model
from .workload import encode_records, make_models, wine_stream

LOW, HIGH = 100_000, 200_000
WARM_UP_S = 60.0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def tree_rss_kib(pid: int) -> int:
    """RSS of a process and all its descendants."""
    total = rss_kib(pid)
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(FileNotFoundError):  # gone meanwhile
                total += tree_rss_kib(int(child))
    return total


async def feed(producer: AIOKafkaProducer, topic: str, values: list[bytes], count: int) -> None:
    """``count`` records, one producer batch per partition and round."""
    partitions = sorted(await producer.partitions_for(topic))
    sent = 0
    futures = []
    while sent < count:
        for partition in partitions:
            batch = producer.create_batch()
            while sent < count:
                value = values[sent % len(values)]
                if batch.append(key=b"s%d" % sent, value=value, timestamp=None) is None:
                    break
                sent += 1
            futures.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*futures)


async def soak(
    model: str, seconds: float, every: float, broker_budget_gib: float
) -> list[dict[str, Any]]:
    models = make_models(Path("/tmp") / f"soak-models-{uid()}")
    values = encode_records(wine_stream(20_000))
    samples: list[dict[str, Any]] = []
    async with DevBroker() as broker:
        bootstrap = broker.bootstrap
        control, data, output = f"models-{uid()}", f"data-{uid()}", f"out-{uid()}"
        await create_topics(bootstrap, control, partitions=1)
        await create_topics(bootstrap, data, output)
        await publish_model(bootstrap, control, models[model])
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=False, max_batch_size=512 * 1024
        )
        await producer.start()
        produced = HIGH
        await feed(producer, data, values, produced)
        with serve(
            bootstrap,
            control_topic=control,
            data_topics=[data],
            output_topic=output,
            group_id=f"g-{uid()}",
        ) as service:
            async with httpx.AsyncClient(base_url=service.base_url) as client:
                started = time.monotonic()
                next_sample = started
                last: tuple[float, int] | None = None
                while time.monotonic() - started < seconds:
                    if rss_kib(broker.pid or 0) > broker_budget_gib * 1024**2:
                        print("  the broker's memory budget is spent: stopping here", flush=True)
                        break
                    consumed = (await client.get("/stats")).json()["consumed"]
                    if produced - consumed < LOW:
                        await feed(producer, data, values, HIGH - (produced - consumed))
                        produced += HIGH - (produced - consumed)
                    now = time.monotonic()
                    if now >= next_sample:
                        rate = (consumed - last[1]) / (now - last[0]) if last else 0.0
                        last = (now, consumed)
                        sample = {
                            "t": round(now - started, 1),
                            "rss_mib": tree_rss_kib(service.process.pid) / 1024,
                            "broker_rss_mib": rss_kib(broker.pid or 0) / 1024,
                            "consumed": consumed,
                            "rate": rate,
                        }
                        samples.append(sample)
                        print(
                            f"  t={sample['t']:6.1f}s  service RSS {sample['rss_mib']:7.1f} MiB"
                            f"  broker RSS {sample['broker_rss_mib']:7.0f} MiB"
                            f"  {consumed:>10,} scored  {rate:>8,.0f} rec/s",
                            flush=True,
                        )
                        next_sample += every
                    await asyncio.sleep(0.2)
        await producer.stop()
    return samples


def verdict(samples: list[dict[str, Any]]) -> dict[str, float]:
    after = [s for s in samples if s["t"] >= WARM_UP_S]
    base = after[0]["rss_mib"]
    rss = [s["rss_mib"] for s in after]
    rates = [s["rate"] for s in samples if s["t"] > 0]
    return {
        "rss_at_warm_up_mib": base,
        "rss_min_mib": min(rss),
        "rss_max_mib": max(rss),
        "rss_end_mib": rss[-1],
        "spread_pct": (max(rss) - min(rss)) / base * 100,
        "growth_pct": (rss[-1] - base) / base * 100,
        "median_rate": statistics.median(rates),
        "scored": samples[-1]["consumed"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=["small-onnx", "rf100-onnx", "pmml"], default="pmml")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--broker-budget-gib", type=float, default=6.0)
    parser.add_argument("--every", type=float, default=10)
    args = parser.parse_args()
    if args.seconds <= WARM_UP_S + args.every:
        parser.error(f"--seconds must leave samples after the {WARM_UP_S:.0f} s warm-up")
    print(f"soak: {args.seconds:.0f} s at full load, model {args.model}", flush=True)
    samples = asyncio.run(soak(args.model, args.seconds, args.every, args.broker_budget_gib))
    result = verdict(samples)
    print(
        f"RSS after warm-up {result['rss_at_warm_up_mib']:.1f} MiB, then "
        f"{result['rss_min_mib']:.1f}-{result['rss_max_mib']:.1f} MiB "
        f"(spread {result['spread_pct']:.1f} %, end vs warm-up {result['growth_pct']:+.1f} %); "
        f"{result['scored']:,} records scored in {samples[-1]['t']:.0f} s, "
        f"median {result['median_rate']:,.0f} rec/s",
        flush=True,
    )


if __name__ == "__main__":
    main()
