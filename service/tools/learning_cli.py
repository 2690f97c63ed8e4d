"""`modelserve learn`: its flags, and running the learner's parts (learning/process.py) until
SIGTERM/SIGINT. A flag it cannot run with, or a latest version it cannot resume from
(unreadable, or learned with other --algorithm, --inputs or --labels), exits 2 with one line
(ValueError, see tools/cli.py); a part that fails while it runs, 1."""

from __future__ import annotations

import argparse
import asyncio

from service.settings import Settings
from service.tools.arguments import comma_list


def add_learn_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from service.learning.algorithms import ALGORITHMS

    learn = sub.add_parser(
        "learn",
        help="learn online from the feedback topic; publish each better model as data",
    )
    learn.add_argument("--name", required=True, help="the model name it publishes versions of")
    learn.add_argument("--data-type", required=True)
    learn.add_argument("--algorithm", choices=ALGORITHMS, default="pa-classifier")
    learn.add_argument(
        "--inputs", required=True, help="feature fields, comma-separated, in model order"
    )
    learn.add_argument("--labels", help="classes, comma-separated (classifiers: required)")
    learn.add_argument(
        "--learning-rate",
        type=float,
        help="PA: the aggressiveness C; SGD: a constant step (default: sklearn's schedule)",
    )
    learn.add_argument("--publish-every", type=int, default=1000, help="records between versions")
    learn.add_argument(
        "--publish-interval-s", type=float, default=10.0, help="seconds between versions"
    )
    learn.add_argument(
        "--max-regression",
        type=float,
        default=0.02,
        help="the gate: how much worse than the serving version's windowed score a new one may be",
    )
    learn.add_argument("--window", type=int, default=1000, help="records in the sliding window")
    learn.set_defaults(run=run_learn)


def run_learn(args: argparse.Namespace, settings: Settings) -> int:
    from service.learning.learner import LearnerOptions
    from service.learning.process import LearnerProcess
    from service.tools.running import run_until_stopped

    options = LearnerOptions(
        name=args.name,
        data_type=args.data_type,
        algorithm=args.algorithm,
        inputs=tuple(comma_list(args.inputs) or ()),
        labels=tuple(comma_list(args.labels) or ()) or None,
        learning_rate=args.learning_rate,
        publish_every=args.publish_every,
        publish_interval_s=args.publish_interval_s,
        max_regression=args.max_regression,
        window=args.window,
    )

    async def run() -> int:
        return await run_until_stopped(LearnerProcess(settings, options).runner, "learn")

    return asyncio.run(run())
