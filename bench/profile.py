"""`python -m bench.profile [--count N]`: where the service spends its time at full load.

Runs the service (as `modelserve serve`, the small ONNX model) under py-spy on a preloaded
backlog, stops it once it has scored the backlog, and prints the functions that take the most
samples, by own time and by time including callees (Python frames; the model runtime's
native threads appear as their Python callers). Writes the raw stacks to
``bench/out/profile.txt`` (collapsed format, for flamegraph tools). py-spy reads another
process's memory: in a container it needs the SYS_PTRACE capability."""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from service.tools.devbroker import DevBroker, free_port

from .__main__ import OUT
from .harness import Running, create_topics, preload, service_env, uid, wait_ready
from .service_runs import publish_model
from .workload import encode_records, make_models, wine_stream


def summarise(collapsed: Path, top: int = 20) -> str:
    """The functions with the most samples: own time over every frame, and time including
    callees over the frames of service/ and aiokafka/ (the rest is the event loop's)."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [_short(frame) for frame in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            if frame.split(" (")[-1].startswith(("service/", "aiokafka/")):
                inclusive[frame] += int(count)
    lines = [f"{total} samples; own time:"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(top)]
    lines.append("including callees (service/ and aiokafka/):")
    lines += [f"  {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``f (/long/path/service/records.py:129)`` -> ``f (service/records.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    for root in ("service/", "aiokafka/"):
        if path.startswith(root) or f"/{root}" in path:
            return f"{name} ({root}{path.rsplit(root, 1)[1]})"
    return f"{name} ({path.rsplit('/', 1)[-1]})"


def start_profiled(py_spy: str, out: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    spy = [py_spy, "record", "--rate", "200", "--format", "raw", "--output", str(out)]
    return subprocess.Popen(
        [*spy, "--", sys.executable, "-m", "service", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
    )


def stop_profiled(spy: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the service (py-spy's child): it drains and exits, py-spy writes its file."""
    children = Path(f"/proc/{spy.pid}/task/{spy.pid}/children").read_text().split()
    for child in children:
        os.kill(int(child), signal.SIGTERM)
    try:
        spy.wait(timeout=60)
    finally:
        if spy.poll() is None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=30)


async def wait_scored(base_url: str, count: int, timeout_s: float = 600) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base_url) as client:
        for _ in range(int(timeout_s / 0.2)):
            if (await client.get("/stats")).json()["consumed"] >= count:
                return time.monotonic() - started
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{count} records not scored in {timeout_s} s")


async def profile(count: int) -> Path:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    models = make_models(Path(tempfile.mkdtemp()) / "models")
    out = OUT / "profile.txt"
    OUT.mkdir(exist_ok=True)
    async with DevBroker() as broker:
        bootstrap = broker.bootstrap
        control, data, output = f"models-{uid()}", f"data-{uid()}", f"out-{uid()}"
        await create_topics(bootstrap, control, partitions=1)
        await create_topics(bootstrap, data, output)
        await publish_model(bootstrap, control, models["small-onnx"])
        print(f"preloading {count:,} records ...", flush=True)
        await preload(bootstrap, data, encode_records(wine_stream(count)))
        port = free_port()
        env = service_env(
            bootstrap,
            http_port=port,
            control_topic=control,
            data_topics=[data],
            output_topic=output,
            group_id=f"g-{uid()}",
        )
        spy = start_profiled(py_spy, out, env)
        try:
            running = Running(spy, env, port)
            await asyncio.to_thread(wait_ready, running)
            seconds = await wait_scored(running.base_url, count)
            print(f"scored {count:,} records in {seconds:.1f} s", flush=True)
        finally:
            await asyncio.to_thread(stop_profiled, spy)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--count", type=int, default=300_000)
    args = parser.parse_args()
    out = asyncio.run(profile(args.count))
    print(summarise(out))
    print(f"written: {out}")


if __name__ == "__main__":
    main()
