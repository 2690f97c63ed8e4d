"""The `modelserve` command against a running service and the real broker."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from service.http.views import model_info
from service.server import Service
from service.settings import Settings
from service.tools.cli import build_parser, main
from service.tools.publishing import build_descriptor
from service.wine import WINE_FIELDS
from tests.kafka_helpers import header, read_until
from tests.models import ModelFiles


def use_settings(monkeypatch: pytest.MonkeyPatch, s: Settings) -> None:
    for name in ("bootstrap_servers", "control_topic", "output_topic", "events_topic"):
        monkeypatch.setenv(f"MODELSERVE_{name.upper()}", str(getattr(s, name)))
    monkeypatch.setenv("MODELSERVE_DATA_TOPICS", s.data_topics[0])


async def test_publish_wait_send_and_retire(
    start_service: Any,
    model_files: ModelFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service: Service = await start_service()
    s = service.settings
    use_settings(monkeypatch, s)
    inputs = ",".join(WINE_FIELDS)
    code = await asyncio.to_thread(
        main,
        [
            "publish",
            str(model_files.forest_onnx),
            "--name",
            "cli-rf",
            "--data-type",
            "wine",
            "--inputs",
            inputs,
            "--labels",
            ",".join(model_files.forest_classes),
            "--description",
            "from the CLI",
            "--metadata",
            '{"owner": "cli"}',
            "--wait",
        ],
    )
    assert code == 0
    event = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (event["name"], event["version"], event["status"]) == ("cli-rf", 1, "loaded")

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    code = await asyncio.to_thread(
        main,
        [
            "publish",
            str(bad),
            "--name",
            "cli-rf",
            "--data-type",
            "wine",
            "--inputs",
            inputs,
            "--wait",
        ],
    )
    assert code == 1
    assert '"failed"' in capsys.readouterr().out

    lines = tmp_path / "wine.jsonl"
    rows = [dict(zip(WINE_FIELDS, map(float, r), strict=True)) for r in model_files.features[:25]]
    lines.write_bytes(b"\n".join(orjson.dumps(r) for r in rows))
    assert await asyncio.to_thread(main, ["send", str(lines), "--data-type", "wine"]) == 0
    out = await read_until(s.bootstrap_servers, s.output_topic, lambda r: len(r) >= 25)
    assert {r.key.decode() for r in out} == {f"wine-{i}" for i in range(25)}
    assert {header(r, "model-version") for r in out} == {"1"}

    csv = tmp_path / "plain.csv"
    csv.write_text("alcohol,pH\n9.4,3.5\n")
    assert (
        await asyncio.to_thread(
            main, ["send", str(csv), "--data-type", "wine", "--key-prefix", "c"]
        )
        == 0
    )

    assert await asyncio.to_thread(main, ["retire", "cli-rf"]) == 0
    info: dict[str, Any] = {}
    for _ in range(100):  # the tombstone is applied by the service's control reader
        info = model_info(service.registry, "cli-rf") or {}
        if info.get("status") == "retired":
            break
        await asyncio.sleep(0.1)
    assert info["status"] == "retired"
    assert (model_info(service.registry, "cli-rf", with_history=True) or {})["history"][0][
        "status"
    ] == "retired"


def test_publish_refuses_what_it_cannot_type(tmp_path: Path) -> None:
    odd = tmp_path / "model.bin"
    odd.write_bytes(b"x")
    assert main(["publish", str(odd), "--name", "m", "--data-type", "d"]) == 2


def test_publish_says_where_it_publishes_and_takes_a_field_map(
    capsys: pytest.CaptureFixture[str], model_files: ModelFiles
) -> None:
    with pytest.raises(SystemExit):
        main(["publish", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for said in ("MODELSERVE_BOOTSTRAP_SERVERS", "MODELSERVE_PICKLE_KEY", "--field-map"):
        assert said in text
    publish = ["publish", str(model_files.forest_onnx), "--name", "m", "--data-type", "d"]
    args = build_parser().parse_args([*publish, "--field-map", "alcohol=ALC, pH=ph"])
    assert args.field_map == {"alcohol": "ALC", "pH": "ph"}
    descriptor = build_descriptor(
        model_files.forest_onnx, "m", "d", field_map=args.field_map, inputs=list(WINE_FIELDS)
    )
    assert orjson.loads(descriptor.to_json())["fieldMap"] == {"alcohol": "ALC", "pH": "ph"}
    with pytest.raises(SystemExit):
        build_parser().parse_args([*publish, "--field-map", "alcohol"])
