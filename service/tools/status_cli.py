"""`modelserve status`: the deployment at a glance, as terminal tables, from any replica's HTTP —
the models and their states, how each dataType is routed, the instances (alive, stopped or
departed) with their workers and partitions, the lag, and the cluster totals.

``render`` is a pure function of the ``GET /cluster``, ``/models`` and ``/routes`` answers;
``fetch`` reads them. A process without a cluster view (``/cluster`` answers 404) still shows
its models and routes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from service.settings import Settings

Doc = dict[str, Any]
TIMEOUT_S = 5.0
_MODEL_KEYS = ("name", "version", "dataType", "status", "runtime", "expiresAt")


def add_status_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser("status", help="the cluster as tables: models, routes, instances, lag")
    status.add_argument(
        "--url", default="http://localhost:8080", help="any replica's HTTP (default: %(default)s)"
    )
    status.add_argument(
        "--json", action="store_true", help="the three answers as one JSON object instead"
    )
    status.set_defaults(run=run_status)


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    import httpx

    try:
        cluster, models, routes = fetch(args.url)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"modelserve status: cannot read {args.url}: {reason}", file=sys.stderr)
        return 2
    if args.json:
        answers = {"cluster": cluster, "models": models, "routes": routes}
        print(orjson.dumps(answers, option=orjson.OPT_INDENT_2).decode())
        return 0
    try:
        text = render(cluster, models, routes)
    except (KeyError, TypeError, AttributeError) as exc:  # not a modelserve answering
        print(f"modelserve status: unexpected answer from {args.url}: {exc!r}", file=sys.stderr)
        return 2
    print(text, end="")
    return 0


def fetch(url: str) -> tuple[Doc | None, Doc, Doc]:
    """The ``/cluster`` (None when it answers 404), ``/models`` and ``/routes`` answers."""
    import httpx

    with httpx.Client(base_url=url.rstrip("/"), timeout=TIMEOUT_S) as client:

        def get(path: str) -> Doc | None:
            answer = client.get(path)
            if path == "/cluster" and answer.status_code == 404:
                return None
            answer.raise_for_status()
            doc = answer.json()
            if not isinstance(doc, dict):
                raise ValueError(f"GET {path} did not answer a JSON object")
            return doc

        cluster, models, routes = get("/cluster"), get("/models"), get("/routes")
    assert models is not None and routes is not None
    return cluster, models, routes


def render(cluster: Doc | None, models: Doc, routes: Doc) -> str:
    """The tables, as printed: MODELS, ROUTES, INSTANCES, PARTITIONS and a TOTALS line."""
    out = ["MODELS"]
    model_list = models.get("models", [])
    out += table(
        "NAME,VERSION,DATATYPE,STATUS,RUNTIME,EXPIRES",
        [tuple(m.get(k) for k in _MODEL_KEYS) for m in model_list],
    )
    out += [f"  ! {m['name']}: {m['error']}" for m in model_list if m.get("error")]
    out += ["", "ROUTES"]
    route_list = routes.get("routes", [])
    out += table(
        "DATATYPE,STATUS,MODE,MEMBERS,WAITING FOR",
        [_route_row(r) for r in route_list],
    )
    out += [
        f"  ! {r['dataType']}: last route rejected at {rej.get('at')}: {rej.get('error')}"
        for r in route_list
        if (rej := r.get("lastRejected"))
    ]
    out += ["", "INSTANCES"]
    if cluster is None:
        out += ["  unavailable: GET /cluster answered 404 (this process has no cluster view)"]
        return "\n".join(out) + "\n"
    out[-1] += f" (as seen by {cluster.get('instance')} at {cluster.get('at')})"
    out += table(
        "INSTANCE,STATE,WORKERS,PARTITIONS,LAG,CONSUMED,SCORED,DLQ,LAST SEEN",
        [_instance_row(i) for i in cluster.get("instances", [])],
    )
    out += ["", "PARTITIONS"]
    out += table(
        "TOPIC,PARTITION,INSTANCE,LAG",
        [
            (p["topic"], p["partition"], p.get("instance"), p.get("lag"))
            for p in cluster.get("partitions", [])
        ],
    )
    out += ["", _totals(cluster.get("totals", {}))]
    return "\n".join(out) + "\n"


def table(titles: str, rows: Iterable[Sequence[object]]) -> list[str]:
    """Aligned columns (``titles`` comma-separated), two spaces apart, indented by two;
    numbers right-aligned; None as -."""
    headers = titles.split(",")
    data = [list(row) for row in rows]
    if not data:
        return ["  (none)"]
    cells = [[_cell(v) for v in row] for row in data]
    numeric = [
        any(v is not None for v in column) and all(v is None or _is_number(v) for v in column)
        for column in zip(*data, strict=True)
    ]
    widths = [max(len(h), *(len(r[c]) for r in cells)) for c, h in enumerate(headers)]

    def line(values: Sequence[str], align: Sequence[bool]) -> str:
        columns = zip(values, widths, align, strict=True)
        padded = (v.rjust(w) if right else v.ljust(w) for v, w, right in columns)
        return ("  " + "  ".join(padded)).rstrip()

    return [line(headers, numeric)] + [line(r, numeric) for r in cells]


def compact_partitions(partitions: Iterable[Doc]) -> str:
    """``data/0-3,5 other/1``: each topic's partitions, runs of consecutive numbers as ranges."""
    by_topic: dict[str, list[int]] = {}
    for p in partitions:
        by_topic.setdefault(str(p["topic"]), []).append(int(p["partition"]))
    parts = []
    for topic, numbers in sorted(by_topic.items()):
        runs: list[list[int]] = []
        for n in sorted(set(numbers)):
            if runs and n == runs[-1][-1] + 1:
                runs[-1].append(n)
            else:
                runs.append([n])
        spans = (str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)
        parts.append(f"{topic}/{','.join(spans)}")
    return " ".join(parts)


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s ago"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s ago"
    return f"{minutes // 60}h{minutes % 60:02d}m ago"


def _route_row(route: Doc) -> tuple[object, ...]:
    answering = route.get("answering") or {}
    members = ",".join(f"{m['name']}:{m.get('version')}" for m in answering.get("members", []))
    mode = answering.get("mode") or (route.get("route") or {}).get("mode")
    waiting = ",".join(route.get("waitingFor") or [])
    return (route["dataType"], route.get("status"), mode, members or None, waiting or None)


def _instance_row(instance: Doc) -> tuple[object, ...]:
    workers = instance.get("workers", [])
    alive = sum(1 for w in workers if w.get("alive"))
    stats = instance.get("stats", {})
    return (
        instance["instance"],
        instance.get("state"),
        f"{alive}/{len(workers)}",
        compact_partitions(instance.get("partitions", [])) or None,
        instance.get("lag"),
        stats.get("consumed"),
        stats.get("scored"),
        stats.get("dlq"),
        age(instance.get("ageS")),
    )


def _totals(totals: Doc) -> str:
    letters = ", ".join(f"{k} {n}" for k, n in sorted((totals.get("deadLetters") or {}).items()))
    return (
        f"TOTALS  {totals.get('instances', 0)} alive  lag {totals.get('lag', 0)}  "
        f"consumed {totals.get('consumed', 0)}  scored {totals.get('scored', 0)}  "
        f"dlq {totals.get('dlq', 0)}" + (f" ({letters})" if letters else "") + "  "
        f"batches {totals.get('batches', 0)}  avg batch {totals.get('avgBatchSize', 0)}  "
        f"models {totals.get('models', 0)}"
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell(value: object) -> str:
    return "-" if value is None or value == "" else str(value)
