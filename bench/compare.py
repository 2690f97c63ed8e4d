"""Old code against new on one broker: ``python -m bench.compare BASELINE_CHECKOUT`` runs the
service's throughput (small ONNX, RF100 ONNX, PMML) from the baseline checkout and from this
one, alternating, three rounds, and prints medians and new/old ratios. A refactoring that
must not cost speed is measured here, both sides under the same noise."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from service.tools.devbroker import DevBroker

from .harness import create_topics, preload, uid
from .service_runs import service_rate
from .workload import encode_records, make_models, wine_stream


async def compare(trees: dict[str, Path], rounds: int, count: int, pmml_count: int) -> list[str]:
    """``trees``: "old" and "new" checkouts."""
    models = make_models(Path(tempfile.mkdtemp()) / "models")
    figures: dict[tuple[str, str], list[float]] = {}
    async with DevBroker() as broker:
        bootstrap = broker.bootstrap
        data = f"data-{uid()}"
        await create_topics(bootstrap, data)
        await preload(bootstrap, data, encode_records(wine_stream(count)))
        for _ in range(rounds):
            for name, n in (("small-onnx", count), ("rf100-onnx", count), ("pmml", pmml_count)):
                for side, tree in trees.items():
                    rate = await service_rate(bootstrap, data, n, models[name], tree)
                    figures.setdefault((name, side), []).append(rate)
                    print(f"  {name:11s} {side}: {rate:,.0f} records/s", flush=True)
    lines = [f"old = {trees['old']}, new = {trees['new']}; medians of {rounds}, records/s"]
    for name in ("small-onnx", "rf100-onnx", "pmml"):
        old, new = (statistics.median(figures[(name, side)]) for side in ("old", "new"))
        runs = " / ".join(
            f"{o:,.0f}→{n:,.0f}"
            for o, n in zip(figures[(name, "old")], figures[(name, "new")], strict=True)
        )
        lines.append(
            f"  {name:11s} old {old:9,.0f}  new {new:9,.0f}  new/old {new / old:5.2f}  ({runs})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.compare")
    parser.add_argument("baseline", type=Path, help="a checkout of the code to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--pmml-count", type=int, default=30_000)
    args = parser.parse_args()
    trees = {"old": args.baseline.resolve(), "new": Path(__file__).resolve().parents[1]}
    lines = asyncio.run(compare(trees, args.rounds, args.count, args.pmml_count))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
