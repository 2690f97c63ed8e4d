"""TENSORFLOWSAVED models: a SavedModel (TF1's, as Lightbend's wine model is, or TF2's and
Keras's), archived (savedmodel_archive.py), loaded into a TF1 session sized to the worker's
threads: the one loader that takes both, and whose threads are the session's own rather than
the process's. One signature serves: the descriptor's ``signatureName``, else
``serving_default``, else the only one there is. Its inputs make the schema (one [N,k]
input: k columns, as for a graph); its one output (or the one ``outputs`` names) the answer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from service.errors import ModelLoadError
from service.runtimes.catalog import LoadRequest
from service.runtimes.savedmodel_archive import ExtractedSavedModel, extract_saved_model
from service.runtimes.tensorflow_answers import OutputTensor
from service.runtimes.tensorflow_common import (
    SessionModel,
    import_tensorflow,
    load_error,
    new_session,
    producing_op,
    quiet_deprecations,
)
from service.runtimes.tensorflow_inputs import GraphInput, bind_inputs
from service.runtimes.tensorflow_ops import RESTORE_OPS, check_ops

DEFAULT_SIGNATURE = "serving_default"
SERVING_TAG = "serve"


def load(request: LoadRequest) -> SessionModel:
    tf = import_tensorflow()
    extracted = extract_saved_model(request.artifact)
    try:
        return _load(tf, extracted, request)
    except Exception as exc:
        extracted.close()
        if isinstance(exc, ModelLoadError):
            raise
        raise load_error("TensorFlow cannot load the SavedModel", exc) from exc


def _load(tf: Any, extracted: ExtractedSavedModel, request: LoadRequest) -> SessionModel:
    meta = _serving_meta_graph(extracted.model_dir)
    tags = list(meta.meta_info_def.tags)
    # Before the loader, which runs the restore op and the init ops as it loads.
    check_saved_model_ops(meta)
    graph = tf.Graph()
    session = new_session(tf, graph, request.options.intra_op_threads)
    try:
        with quiet_deprecations():
            meta_graph = tf.compat.v1.saved_model.loader.load(
                session, tags, str(extracted.model_dir)
            )
        name, signature = _signature(meta_graph.signature_def, request.signature_name)
        graph_inputs = [
            _graph_input(tf, key, info) for key, info in sorted(signature.inputs.items())
        ]
        schema, feeds = bind_inputs(graph_inputs, request.inputs)
        outputs = _outputs(graph.as_graph_def(), name, signature.outputs, request.outputs)
        graph.finalize()  # read-only from here: sessions run it from worker threads
    except BaseException:
        session.close()
        raise
    # The files stay until the model closes: assets (a vocabulary, say) may be read after
    # loading by the ops that use them.
    return SessionModel(
        tf, session, schema, feeds, outputs, request.labels, cleanup=extracted.close
    )


def _serving_meta_graph(model_dir: Path) -> Any:
    """The meta graph that serves: the one tagged ``serve``, else the only one."""
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    binary = model_dir / "saved_model.pb"
    if binary.is_file():
        saved.ParseFromString(binary.read_bytes())
    else:
        text_format.Parse((model_dir / "saved_model.pbtxt").read_text(), saved)
    tag_sets = [list(meta.meta_info_def.tags) for meta in saved.meta_graphs]
    serving = [meta for meta in saved.meta_graphs if SERVING_TAG in meta.meta_info_def.tags]
    if serving:
        return serving[0]
    if len(tag_sets) == 1:
        return saved.meta_graphs[0]
    raise ModelLoadError(
        f"the SavedModel has no meta graph tagged {SERVING_TAG!r} (its tag sets: {tag_sets})"
    )


# What TensorFlow's SavedModel loader runs besides the restore op (loader_impl.py): the init
# op of the signature "__saved_model_init_op" (among the signatures, all checked) or of the
# collection under one of these keys.
_INIT_COLLECTIONS = ("saved_model_main_op", "legacy_init_op")


def check_saved_model_ops(meta: Any) -> None:
    """Every op loading and serving the meta graph would run (tensorflow_ops.py): its init
    ops and every signature's outputs strictly; its restore op may read its checkpoint."""
    graph = meta.graph_def
    roots = [
        tensor.name
        for signature in meta.signature_def.values()
        for tensor in signature.outputs.values()
        if tensor.name
    ]
    for key in _INIT_COLLECTIONS:
        if key in meta.collection_def:
            roots.extend(meta.collection_def[key].node_list.value)
    check_ops(graph.node, graph.library.function, roots, what="the SavedModel")
    if meta.saver_def.restore_op_name:
        check_ops(
            graph.node,
            graph.library.function,
            [meta.saver_def.restore_op_name],
            allowed=RESTORE_OPS,
            what="the SavedModel's restore op",
        )


def _signature(signatures: Any, wanted: str | None) -> tuple[str, Any]:
    # TF2 lists its initialiser among the signatures; it is no way to serve.
    names = sorted(name for name in signatures if not name.startswith("__"))
    if wanted is not None:
        if wanted not in names:
            raise ModelLoadError(
                f"the SavedModel has no signature {wanted!r}; its signatures: {names}"
            )
        return wanted, signatures[wanted]
    if DEFAULT_SIGNATURE in names:
        return DEFAULT_SIGNATURE, signatures[DEFAULT_SIGNATURE]
    if len(names) == 1:
        return names[0], signatures[names[0]]
    raise ModelLoadError(
        f"the SavedModel has no {DEFAULT_SIGNATURE!r} signature and several others: "
        f"the descriptor must name one in `signatureName` ({names})"
    )


def _graph_input(tf: Any, key: str, info: Any) -> GraphInput:
    if not info.name:  # a sparse or composite tensor: no one tensor to feed
        raise ModelLoadError(f"input {key!r} is not a dense tensor, which modelserve feeds")
    shape = info.tensor_shape
    dims = None
    if not shape.unknown_rank:
        dims = tuple(None if d.size < 0 else int(d.size) for d in shape.dim)
    return GraphInput(key, info.name, tf.as_dtype(info.dtype).name, dims)


def _outputs(
    graph_def: Any, signature: str, outputs: Any, named: Sequence[str] | None
) -> list[OutputTensor]:
    """The signature's outputs the model answers with: ``named`` (by key, or by the tensor's
    name), else its one output."""
    keys = sorted(outputs)
    if not named:
        if len(keys) != 1:
            raise ModelLoadError(
                f"signature {signature!r} has {len(keys)} outputs ({keys}): the descriptor "
                "must name the one to answer with in `outputs`"
            )
        named = keys
    by_tensor = {outputs[k].name: k for k in keys}
    chosen: list[OutputTensor] = []
    for name in named:
        key = name if name in outputs else by_tensor.get(name if ":" in name else f"{name}:0")
        if key is None:
            raise ModelLoadError(
                f"`outputs` names {name!r}, which signature {signature!r} does not answer "
                f"(its outputs: {keys})"
            )
        info = outputs[key]
        if not info.name:
            raise ModelLoadError(f"output {key!r} is not a dense tensor")
        softmax = producing_op(graph_def, info.name) == "Softmax"
        chosen.append(OutputTensor(key, info.name, softmax))
    return chosen
