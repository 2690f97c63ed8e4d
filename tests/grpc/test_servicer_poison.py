"""Property-based: whatever arrives at ``inference.GRPCInferenceService`` — bytes that may not
be a message at all, or requests of any datatype, shape, contents and model, near the forest's
or not — the answer is a clean status (OK, INVALID_ARGUMENT, NOT_FOUND), never INTERNAL or an
unhandled exception."""

from __future__ import annotations

import math
from typing import Any

import grpc
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.oip.datatypes import DATATYPES
from service.proto import open_inference_grpc_pb2 as pb
from tests.grpc.served import Server, status_of

Input = pb.ModelInferRequest.InferInputTensor
Requested = pb.ModelInferRequest.InferRequestedOutputTensor

METHODS = ["ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata"]
CLEAN = {grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND}
fuzz_settings = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@fuzz_settings
@given(method=st.sampled_from(["ModelInfer", "ModelInfer", *METHODS]), data=st.binary(max_size=300))
async def test_arbitrary_bytes_get_a_clean_status(server: Server, method: str, data: bytes) -> None:
    assert await status_of(server.raw(method)(data)) in CLEAN


# The values each contents field may hold (protobuf's own ranges).
CONTENTS: dict[str, st.SearchStrategy[Any]] = {
    "bool_contents": st.booleans(),
    "int_contents": st.integers(-(2**31), 2**31 - 1),
    "int64_contents": st.integers(-(2**63), 2**63 - 1),
    "uint_contents": st.integers(0, 2**32 - 1),
    "uint64_contents": st.integers(0, 2**64 - 1),
    "fp32_contents": st.floats(width=32),
    "fp64_contents": st.floats(),
    "bytes_contents": st.binary(max_size=8),
}


@st.composite
def infer_requests(draw: st.DrawFn) -> Any:
    """Mostly well-formed requests: known and unknown models, datatypes and names, shapes near
    the forest's, typed contents in any field or raw contents of about the right size."""
    raw = draw(st.booleans())
    inputs, blobs = [], []
    for _ in range(draw(st.integers(0, 3))):
        shape = draw(
            st.sampled_from([[1, 11], [2, 11], [0, 11], [11]])
            | st.lists(st.integers(-1, 6), max_size=3)
        )
        count = math.prod(shape) if all(d >= 0 for d in shape) else 1
        size = draw(st.sampled_from([count, count, max(count - 1, 0), count + 1]))
        datatype = draw(st.sampled_from([*DATATYPES, "FP99", ""]))
        tensor = Input(name=draw(st.sampled_from(["X", "Y", ""])), datatype=datatype, shape=shape)
        if raw:
            item = DATATYPES.get(datatype, DATATYPES["FP32"]).itemsize
            blobs.append(draw(st.binary(min_size=size * item, max_size=size * item)))
        else:
            field = draw(st.sampled_from(sorted(CONTENTS)))
            values = draw(st.lists(CONTENTS[field], min_size=size, max_size=size))
            getattr(tensor.contents, field).extend(values)
        inputs.append(tensor)
    outputs = draw(st.lists(st.sampled_from(["label", "value", "z"]), max_size=2))
    parameters = draw(
        st.dictionaries(
            st.sampled_from(["a", "binary_data_output", "classification"]),
            st.builds(pb.InferParameter, int64_param=st.integers(0, 3))
            | st.builds(pb.InferParameter, string_param=st.text(max_size=4)),
            max_size=2,
        )
    )
    return pb.ModelInferRequest(
        model_name=draw(st.sampled_from(["rf", "lr", "nope", ""])),
        model_version=draw(st.sampled_from(["", "4", "1", "x"])),
        id=draw(st.text(max_size=5)),
        inputs=inputs,
        outputs=[Requested(name=n) for n in outputs],
        parameters=parameters,
        raw_input_contents=blobs,
    )


@st.composite
def forest_requests(draw: st.DrawFn) -> Any:
    """Requests the forest takes, of any floats (NaN and infinities too), typed or raw."""
    rows = draw(st.integers(0, 3))
    values = draw(st.lists(st.floats(width=32), min_size=rows * 11, max_size=rows * 11))
    tensor = Input(name="X", datatype="FP32", shape=[rows, 11])
    raw = draw(st.booleans())
    if not raw:
        tensor.contents.fp32_contents.extend(values)
    outputs = draw(st.lists(st.sampled_from(["label", "probabilities", "classes"]), unique=True))
    return pb.ModelInferRequest(
        model_name="rf",
        model_version=draw(st.sampled_from(["", "4"])),
        id=draw(st.text(max_size=5)),
        inputs=[tensor],
        outputs=[Requested(name=n) for n in outputs],
        raw_input_contents=[np.array(values, dtype="<f4").tobytes()] if raw else [],
    )


@fuzz_settings
@given(message=forest_requests() | infer_requests())
async def test_arbitrary_requests_get_a_clean_status(server: Server, message: Any) -> None:
    assert await status_of(server.stub.ModelInfer(message)) in CLEAN
