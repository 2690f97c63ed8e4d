"""`modelserve send`: stream a CSV or JSONL file to the data topic, optionally at a rate."""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from service.kafka.clients import make_producer
from service.settings import Settings
from service.wine import WINE_FIELDS, WINE_LABEL


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """JSONL: one object a line. CSV (`,` or `;`): with a header row, or headerless with the
    wine data's columns."""
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        with path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    yield orjson.loads(line)
        return
    with path.open(newline="") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.reader(handle, delimiter=delimiter)
        first = next(reader, None)
        if first is None:
            return
        if _numeric(first):
            header: list[str] = [*WINE_FIELDS, WINE_LABEL]
            if len(first) != len(header):
                raise ValueError(f"{path.name}: no header row and not the wine data's columns")
            rows: Iterator[list[str]] = _chain(first, reader)
        else:
            header, rows = first, reader
        for row in rows:
            if row:
                yield {k: _value(v) for k, v in zip(header, row, strict=True)}


def _chain(first: list[str], rest: Iterator[list[str]]) -> Iterator[list[str]]:
    yield first
    yield from rest


def _numeric(row: list[str]) -> bool:
    try:
        [float(v) for v in row]
    except ValueError:
        return False
    return True


def _value(text: str) -> Any:
    """A number where the cell reads as one, null (a missing value) where it is empty, else
    the text."""
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return text


async def send_records(
    settings: Settings,
    records: Iterator[dict[str, Any]],
    data_type: str,
    *,
    rate: float | None = None,
    key_prefix: str = "",
    topic: str | None = None,
    progress: bool = True,
) -> int:
    """Produce every record with its dataType; keys are ``<prefix><n>``. Returns the count."""
    from tqdm import tqdm

    producer = make_producer(settings, linger_ms=5)
    await producer.start()
    sent = 0
    started = time.monotonic()
    bar = tqdm(unit="rec", disable=not progress)
    try:
        pending = []
        for record in records:
            record.setdefault("dataType", data_type)
            pending.append(
                await producer.send(
                    topic or settings.data_topics[0],
                    orjson.dumps(record),
                    key=f"{key_prefix}{sent}".encode(),
                )
            )
            sent += 1
            bar.update(1)
            if rate:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        bar.close()
        await producer.stop()
    return sent
