"""The `modelserve` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

import orjson
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from service.errors import describe
from service.kafka.probe import connection_problem
from service.logs import configure_logging
from service.security_settings import refused
from service.settings import Settings
from service.tools.learning_cli import add_learn_parser
from service.tools.publishing_cli import add_publish_parser
from service.tools.routing_cli import model_names, model_weights, route_from_args
from service.tools.status_cli import add_status_parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        # One line, and never pydantic's own text: it quotes every input, the password too.
        print(f"modelserve: {refused(exc)}", file=sys.stderr)
        return 2
    instance = settings.instance_id or f"{os.uname().nodename}:{os.getpid()}"
    configure_logging(settings.log_format, settings.log_level, instance)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        result: int = args.run(args, settings)
        return result
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:
        print(f"modelserve: {exc}", file=sys.stderr)
        return 2
    except (KafkaError, OSError) as exc:
        # "Unable to bootstrap" says nothing: ask Kafka why, with the same options.
        why = asyncio.run(connection_problem(settings)) or describe(exc)
        print(f"modelserve: Kafka at {settings.bootstrap_servers}: {why}", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="modelserve", description=__doc__)
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the service (settings from MODELSERVE_* variables)")
    serve.set_defaults(run=_serve)

    add_publish_parser(sub)

    ret = sub.add_parser("retire", help="retire a model (a tombstone on the control topic)")
    ret.add_argument("name")
    ret.set_defaults(run=_retire)

    route = sub.add_parser("route", help="declare or remove how a dataType's models answer")
    route.add_argument("data_type", metavar="DATATYPE", help="the dataType routed")
    mode = route.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--shadow", type=model_names, metavar="B[,C]", help="models scored beside --primary"
    )
    mode.add_argument(
        "--canary", type=model_weights, metavar="A=90,B=10", help="records split by key, by weight"
    )
    mode.add_argument(
        "--ensemble",
        type=model_names,
        metavar="A,B[,C]",
        help="every member scores; answers combine",
    )
    mode.add_argument(
        "--speculative", type=model_names, metavar="SLOW,FAST", help="candidates race a deadline"
    )
    mode.add_argument("--remove", action="store_true", help="remove the route (a tombstone)")
    route.add_argument("--primary", metavar="A", help="with --shadow: the model that answers")
    route.add_argument(
        "--sample", type=float, metavar="F", help="with --shadow: share shadowed (default 1)"
    )
    route.add_argument("--combine", choices=("vote", "mean"), help="with --ensemble (default vote)")
    route.add_argument("--deadline-ms", type=int, metavar="N", help="with --speculative: per batch")
    route.add_argument(
        "--decider",
        choices=("first-listed", "most-confident"),
        help="with --speculative (default first-listed)",
    )
    route.add_argument("--wait", action="store_true", help="wait for the service's verdict")
    route.add_argument(
        "--timeout", type=float, default=120.0, metavar="S", help="seconds --wait waits"
    )
    route.set_defaults(run=_route, parser=route)

    send = sub.add_parser("send", help="stream a CSV or JSONL file to the data topic")
    send.add_argument("file", type=Path)
    send.add_argument("--data-type", required=True)
    send.add_argument(
        "--rate", type=float, help="records per second (default: as fast as possible)"
    )
    send.add_argument("--key-prefix", default=None, help="record keys are <prefix><n>")
    send.set_defaults(run=_send)

    demo = sub.add_parser("demo", help="embedded broker + service + wine model + a record stream")
    demo.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    demo.add_argument("--rate", type=float, default=200.0, help="records per second")
    demo.set_defaults(run=_demo)

    add_learn_parser(sub)
    add_status_parser(sub)

    broker = sub.add_parser("broker", help="run the embedded Kafka-compatible broker")
    broker.add_argument("--port", type=int, default=9092)
    broker.add_argument("--host", default="127.0.0.1")
    broker.set_defaults(run=_broker)
    return parser


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from service.gc_tuning import tune_for_streaming
    from service.server import Service
    from service.tools.running import run_until_stopped

    if settings.workers > 1 and settings.worker_index is None:
        from service.supervisor.main import supervise

        instance = settings.instance_id or f"{os.uname().nodename}:{os.getpid()}"
        return supervise(settings, instance)

    async def run() -> int:
        # tune_for_streaming after start-up: its objects stay out of every collection.
        return await run_until_stopped(Service(settings), "serve", started=tune_for_streaming)

    return asyncio.run(run())


def _retire(args: argparse.Namespace, settings: Settings) -> int:
    from service.tools.publishing import retire

    asyncio.run(retire(settings, args.name))
    print(f"retired {args.name}")
    return 0


def _route(args: argparse.Namespace, settings: Settings) -> int:
    from service.kafka.control_publisher import control_publisher
    from service.routing.route_spec import route_key
    from service.tools.publishing import ROUTE_STATUSES, wait_for_event

    spec = route_from_args(args, args.parser)
    key = route_key(args.data_type)

    async def run() -> int:
        async with control_publisher(settings) as publisher:
            if spec is None:
                offset = await publisher.remove_route(args.data_type)
                print(f"published the removal of {key} to {settings.control_topic}")
            else:
                offset = await publisher.publish_route(spec)
                members = ", ".join(spec.names)
                print(f"published {key} ({spec.mode}: {members}) to {settings.control_topic}")
        if not args.wait:
            return 0
        event = await wait_for_event(
            settings, key, offset, timeout_s=args.timeout, statuses=ROUTE_STATUSES
        )
        if event is None:
            print(f"no verdict within {args.timeout:.0f}s", file=sys.stderr)
            return 1  # as publish --wait: 2 is argparse's, for what was never sent
        print(orjson.dumps(event).decode())
        return 1 if event["status"] == "rejected" else 0

    return asyncio.run(run())


def _send(args: argparse.Namespace, settings: Settings) -> int:
    from service.tools.sending import read_records, send_records

    prefix = args.key_prefix if args.key_prefix is not None else f"{args.file.stem}-"
    count = asyncio.run(
        send_records(
            settings, read_records(args.file), args.data_type, rate=args.rate, key_prefix=prefix
        )
    )
    print(f"sent {count} records to {settings.data_topics[0]}")
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from service.tools.demo import run_demo
    from service.tools.devbroker import DevBroker

    seconds = args.seconds or (
        float(os.environ["DEMO_SECONDS"]) if os.environ.get("DEMO_SECONDS") else None
    )
    with DevBroker() as broker:
        print(f"embedded Kafka-compatible broker at {broker.bootstrap}")
        demo_settings = settings.model_copy(update={"bootstrap_servers": broker.bootstrap})
        asyncio.run(run_demo(demo_settings, seconds, rate=args.rate))
    return 0


class _Stop(Exception):
    """SIGINT or SIGTERM, raised in the main thread by their handler."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def _broker(args: argparse.Namespace, settings: Settings) -> int:
    from service.tools.devbroker import DevBroker

    # Handlers, not a blocked mask: a mask is the calling thread's (a thread some import
    # started would still take SIGTERM's default action and end the process, leaving the
    # broker running) and a child would inherit it; handlers are the process's, and reset in
    # the child. Set before the broker starts, so that a stop while it starts stops it too.
    previous = {s: signal.signal(s, _raise_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    broker = DevBroker(args.host, args.port)
    try:
        broker.start()
        print(f"broker ready at {broker.bootstrap} (memory storage; Ctrl-C stops it)", flush=True)
        while True:
            signal.pause()
    except _Stop:
        pass
    finally:
        broker.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 0
