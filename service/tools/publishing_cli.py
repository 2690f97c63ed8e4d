"""`modelserve publish`: its flags, and publishing a model file as a ModelDescriptor (with
--wait, until the service's verdict)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from service.runtimes.catalog import RUNTIMES
from service.settings import Settings
from service.tools.arguments import comma_list, name_value_pairs


def add_publish_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pub = sub.add_parser(
        "publish",
        help="publish a model file as a ModelDescriptor",
        description=(
            "Publish a model file as a ModelDescriptor on the control topic. A model input is "
            "fed by the record field --field-map names for it, else the field of the same "
            "name, else the field whose name is the same but for case, spaces, '-' and '_' "
            "(for every model type)."
        ),
        epilog=(
            "environment: MODELSERVE_BOOTSTRAP_SERVERS (the Kafka to publish to, default "
            "localhost:9092), MODELSERVE_CONTROL_TOPIC (models) and MODELSERVE_EVENTS_TOPIC "
            "(model-events, read by --wait); MODELSERVE_PICKLE_KEY signs PICKLE models (the "
            "service must hold the same key). A model inline must fit the broker's message "
            "limit (1 MiB by default; the service creates its control topic with "
            "MODELSERVE_MAX_DESCRIPTOR_BYTES): publish a larger one with --location."
        ),
    )
    pub.add_argument(
        "path",
        type=Path,
        nargs="?",
        help="the model file, or a SavedModel's directory; a PYTHON model may have none",
    )
    pub.add_argument("--name", required=True)
    pub.add_argument("--data-type", required=True)
    pub.add_argument(
        "--type",
        choices=[runtime.model_type.lower() for runtime in RUNTIMES],
        help="default: from the extension, or what an archive holds (a .zip or .tar.gz "
        "with saved_model.pb is tensorflowsaved, a .zip with model.ini h2o; so is a "
        "directory with saved_model.pb); "
        + "; ".join(
            f"{r.model_type.lower()} ({' '.join(r.extensions) or 'by content'}): {r.description}"
            for r in RUNTIMES
        ),
    )
    pub.add_argument(
        "--outputs", help="TensorFlow: the output tensor that answers (default: the only one)"
    )
    pub.add_argument(
        "--signature-name",
        help="TensorFlow SavedModel: the signature that serves (default serving_default)",
    )
    pub.add_argument(
        "--handler",
        help="PYTHON: module:callable, from a module the service allows "
        "(MODELSERVE_PYTHON_HANDLERS)",
    )
    pub.add_argument("--version", type=int)
    pub.add_argument("--inputs", help="record fields in the model's column order, comma-separated")
    pub.add_argument("--labels", help="class labels in the model's column order, comma-separated")
    pub.add_argument(
        "--schema",
        type=schema_argument,
        metavar="JSON|FILE",
        help="the model's inputs where its format does not say them (a pickle without feature "
        'names): a JSON array of {"name", "type", "shape"}, or a file holding one',
    )
    pub.add_argument(
        "--field-map",
        type=field_pairs,
        metavar="INPUT=FIELD,..",
        help="which record field feeds a model input, where their names differ",
    )
    pub.add_argument("--location", help="publish by reference: the URI the service fetches")
    pub.add_argument("--description", default="")
    pub.add_argument("--expires-at", type=datetime.fromisoformat, help="RFC 3339 timestamp")
    pub.add_argument("--metadata", type=orjson.loads, help="a JSON object shown by /models")
    pub.add_argument("--rollback", action="store_true", help="allow an older version")
    pub.add_argument("--wait", action="store_true", help="wait for the service's verdict")
    pub.add_argument("--timeout", type=float, default=120.0, help="seconds --wait waits")
    pub.set_defaults(run=_publish)


def _publish(args: argparse.Namespace, settings: Settings) -> int:
    from service.tools.publishing import build_descriptor, publish, wait_for_event

    descriptor = build_descriptor(
        args.path,
        args.name,
        args.data_type,
        model_type=args.type,
        version=args.version,
        inputs=comma_list(args.inputs),
        labels=comma_list(args.labels),
        location=args.location,
        description=args.description,
        expires_at=args.expires_at,
        metadata=args.metadata,
        pickle_key=settings.pickle_key,
        rollback=args.rollback,
        field_map=args.field_map,
        schema=args.schema,
        outputs=comma_list(args.outputs),
        signature_name=args.signature_name,
        handler=args.handler,
    )

    async def run() -> int:
        offset = await publish(settings, descriptor)
        print(
            f"published {descriptor.name} ({descriptor.model_type}) for dataType "
            f"{descriptor.data_type} to {settings.control_topic}"
        )
        if not args.wait:
            return 0
        event = await wait_for_event(settings, descriptor.name, offset, timeout_s=args.timeout)
        if event is None:
            print(f"no verdict within {args.timeout:.0f}s", file=sys.stderr)
            return 1
        print(orjson.dumps(event).decode())
        return 0 if event["status"] == "loaded" else 1

    return asyncio.run(run())


def schema_argument(text: str) -> list[Any]:
    """``--schema``: a JSON array, or the path of a file that holds one."""
    path = Path(text)
    raw = path.read_bytes() if not text.lstrip().startswith("[") and path.is_file() else text
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"not a JSON array nor a file holding one: {exc}"
        ) from None
    if not isinstance(value, list):
        raise argparse.ArgumentTypeError("the schema is a JSON array of inputs")
    return value


def field_pairs(text: str) -> dict[str, str]:
    """``input=field,..`` as a fieldMap."""
    return name_value_pairs(text, "input=field", "is mapped twice")
