"""ONNX Runtime's static INT8 quantization: the one home of this project's INT8 settings
(``quantize_int8``: the INT8 ``engines.onnx.OnnxEngine`` and ``centernet export --quantize
int8``), the INT8 export with its decoder in float, and the search for the quantized nodes to
leave in float until the accuracy holds.

``quantize_export`` quantizes an ONNX export (``export.export_model(..., "onnx")``, decoder
inside), leaving every node of the decoder in float (the nodes that do not lead to the raw
maps: top-k, gathers, the NMS loop), as the INT8 ``OnnxEngine`` does (it decodes in Keras).
So the artefact takes the same uint8 images and returns the same outputs as the float
export: decoded detections and the raw maps.

``rank_nodes`` orders the quantized network nodes by how much signal their quantization costs,
measured with ONNX Runtime's own debugging tools (``qdq_loss_debug``: every tensor of the
float and the INT8 graph on the calibration images, ``compute_activation_error``'s
``xmodel_err``, the SQNR of the INT8 tensor against the float one): a node's cost is the SQNR
its output loses against its inputs (dB). ``search_exclusions`` then leaves the costliest
nodes in float, 1, 2, 4, … of them (doubling) until an ``evaluate`` callback says the
accuracy is within the tolerance, then bisects between the last two counts: at most about
``2 log2(N)`` quantize-and-evaluate rounds for ``N`` ranked nodes.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from centernet_keras.data.image_io import IMAGE_SUFFIXES
from centernet_keras.io import atomic_path

#: SQNR (dB) of what the quantization has not touched (the images, the float weights): above
#: the ~50 dB of a tensor rounded to 8 bits, so the first quantized tensors count their cost;
#: measured SQNRs above it (tensors the INT8 graph computes in float, e.g. 380 dB) are capped.
CLEAN_SQNR = 60.0


def _load(path: str | os.PathLike):
    import onnx

    return onnx.load(os.fspath(path))


def calibration_files(source: str | os.PathLike | Sequence, count: int) -> list[Path]:
    """``count`` images spread evenly over a sorted list: a folder's images, an annotation
    file's (the first field of each line), or the paths given.

    Raises:
        ValueError: no images there, or ``count`` < 1.
        FileNotFoundError: ``source`` does not exist.
    """
    if count < 1:
        raise ValueError(f"the calibration count must be at least 1, got {count}")
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"calibration images: {path}: no such folder or file")
        if path.is_dir():
            files = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        else:
            lines = path.read_text().splitlines()
            files = [Path(line.split()[0]) for line in lines if line.strip()]
    else:
        files = [Path(p) for p in source]
    files = sorted(files)
    if not files:
        raise ValueError(f"calibration images: no images in {source}")
    picks = np.unique(np.linspace(0, len(files) - 1, min(count, len(files))).round().astype(int))
    return [files[i] for i in picks]


def calibration_batches(
    files: Sequence[Path], fit: Callable[[Path], np.ndarray]
) -> list[np.ndarray]:
    """The calibration batches ``fit(file)`` (uint8 ``[1, H, W, 3]``) of the readable
    ``files``; the unreadable ones are skipped, counted in one line on stderr.

    Raises:
        ValueError: none of them could be read.
    """
    batches, skipped = [], []
    for file in files:
        try:
            batches.append(fit(file))
        except OSError as err:
            skipped.append(f"{file}: {err}")
    if skipped:
        print(
            f"skipped {len(skipped)} unreadable calibration images, e.g. {skipped[0]}",
            file=sys.stderr,
        )
    if not batches:
        raise ValueError("none of the calibration images could be read")
    return batches


def quantize_int8(
    source: str | os.PathLike,
    path: str | os.PathLike,
    batches: Sequence[np.ndarray],
    nodes_to_exclude: Sequence[str] = (),
) -> None:
    """ONNX Runtime's static INT8 quantization of the graph ``source`` into ``path``: QDQ,
    per-channel int8 weights, uint8 activations, MinMax ranges calibrated on ``batches``
    (uint8 ``[B, H, W, 3]``, fed to the graph's one input). The one home of this project's
    INT8 settings (``OnnxEngine``, ``centernet export --quantize int8``).

    Args:
        source: the float graph.
        path: where the quantized graph is written.
        batches: the calibration batches.
        nodes_to_exclude: names of nodes left in float (their inputs and outputs are not
            quantized for them).
    """
    from onnxruntime import quantization as q

    name = _load(source).graph.input[0].name

    class Reader(q.CalibrationDataReader):
        def __init__(self):
            self._batches = iter(batches)

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {name: batch}

    root = logging.getLogger()
    root.addFilter(_no_preprocessing_advice)
    try:
        q.quantize_static(
            os.fspath(source),
            os.fspath(path),
            Reader(),
            quant_format=q.QuantFormat.QDQ,
            per_channel=True,
            activation_type=q.QuantType.QUInt8,
            weight_type=q.QuantType.QInt8,
            calibrate_method=q.CalibrationMethod.MinMax,
            nodes_to_exclude=list(nodes_to_exclude),
        )
    finally:
        root.removeFilter(_no_preprocessing_advice)


def _no_preprocessing_advice(record: logging.LogRecord) -> bool:
    """Drop ONNX Runtime's "Please consider (to run) pre-processing before quantization"
    advice (two root-logger lines per quantization, 14 in one ``--max-map-drop`` search): its
    ``quant_pre_process`` would change the graph that is quantized, and with it the cached
    INT8 graphs and the figures measured; what the quantization costs is measured instead
    (``--verify``)."""
    return "pre-processing before quantization" not in record.getMessage()


def network_nodes(graph_path: str | os.PathLike, raw_keys: Sequence[str]) -> tuple[list, list]:
    """The names of the nodes that compute the raw maps (the network) and of the others (the
    decoder), in graph order.

    Args:
        graph_path: an ONNX export with its decoder.
        raw_keys: the model's raw output names (``list(model.output)``); an output that a
            detection also names is exported as ``<name>_map`` (``export.exported_name``).
    """
    graph = _load(graph_path).graph
    outputs = {o.name for o in graph.output}
    wanted = [f"{k}_map" if f"{k}_map" in outputs else k for k in raw_keys]
    producer = {out: node for node in graph.node for out in node.output}
    network: set[str] = set()
    stack = list(wanted)
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in network:
            continue
        network.add(node.name)
        stack.extend(node.input)
    names = [node.name for node in graph.node]
    return [n for n in names if n in network], [n for n in names if n not in network]


def quantize_export(
    source: str | os.PathLike,
    path: str | os.PathLike,
    batches: Sequence[np.ndarray],
    decoder_nodes: Sequence[str],
    exclude: Sequence[str] = (),
) -> Path:
    """Write the INT8 graph of the float export ``source`` to ``path`` (atomically): the
    network quantized, ``decoder_nodes`` and ``exclude`` left in float.

    Args:
        source: the float ONNX export (decoder inside).
        path: the INT8 graph to write.
        batches: calibration batches, uint8 ``[1, H, W, 3]`` fitted to the input size.
        decoder_nodes: the decoder's nodes (``network_nodes``).
        exclude: network nodes left in float too.
    """
    with atomic_path(path) as tmp, np.errstate(divide="ignore", invalid="ignore"):
        # ranges of all-zero tensors (e.g. a bias-free map at init) divide by a zero scale
        quantize_int8(source, tmp, batches, [*decoder_nodes, *exclude])
    return Path(path)


@dataclass
class RankedNode:
    """A quantized network node and the SQNR its output loses in INT8 (dB, larger: costlier)."""

    name: str
    op_type: str
    cost_db: float
    output_sqnr_db: float | None  # None: not measured (no quantized output)

    def to_dict(self) -> dict:
        out = self.output_sqnr_db
        return {
            "node": self.name,
            "op_type": self.op_type,
            "sqnr_lost_db": round(self.cost_db, 3),
            "output_sqnr_db": None if out is None else round(out, 3),
        }


def tensor_sqnr(
    float_path: str | os.PathLike, int8_path: str | os.PathLike, batches: Sequence[np.ndarray]
) -> dict[str, float]:
    """SQNR (dB) of each quantized activation of the INT8 graph against the float graph's on
    ``batches``: ONNX Runtime's ``qdq_loss_debug`` (``xmodel_err``)."""
    from onnxruntime.quantization import qdq_loss_debug as debug

    name = _load(float_path).graph.input[0].name
    with tempfile.TemporaryDirectory(prefix="centernet_int8_") as tmp:
        activations = []
        for graph in (float_path, int8_path):
            augmented = os.path.join(tmp, "augmented.onnx")
            debug.modify_model_output_intermediate_tensors(os.fspath(graph), augmented)
            feeds = ({name: b} for b in batches)
            activations.append(debug.collect_activations(augmented, feeds))
    matching = debug.create_activation_matching(activations[1], activations[0])
    matching = {k: v for k, v in matching.items() if "float" in v}
    errors = debug.compute_activation_error(matching)
    return {k: v["xmodel_err"] for k, v in errors.items() if math.isfinite(v["xmodel_err"])}


def rank_nodes(
    float_path: str | os.PathLike,
    int8_path: str | os.PathLike,
    batches: Sequence[np.ndarray],
    network: Sequence[str],
) -> list[RankedNode]:
    """The ``network`` nodes, costliest first: a node's cost is the SQNR of its inputs (the
    lowest measured upstream; the images and weights: ``CLEAN_SQNR``, or the best SQNR
    measured anywhere if lower) minus
    the SQNR of its output (``tensor_sqnr``), i.e. the noise its own quantization adds. The
    heads' last quantized nodes (``_last_measured``) come first, by cost; the nodes without a
    measured output last (cost 0, graph order), so that leaving them all in float gives the
    float network."""
    sqnr = tensor_sqnr(float_path, int8_path, batches)
    clean = min(max(sqnr.values(), default=CLEAN_SQNR), CLEAN_SQNR)
    graph = _load(float_path).graph
    producer = {out: node for node in graph.node for out in node.output}
    upstream: dict[str, float] = {}

    def seen(tensor: str) -> float:  # the SQNR a tensor carries: measured, else its inputs'
        if tensor in sqnr:
            return sqnr[tensor]
        if tensor not in upstream:
            upstream[tensor] = clean  # also breaks cycles
            node = producer.get(tensor)
            inputs = [] if node is None else [t for t in node.input if t]
            upstream[tensor] = min((seen(t) for t in inputs), default=clean)
        return upstream[tensor]

    wanted = set(network)
    measured, unmeasured = [], []
    for node in graph.node:
        if node.name not in wanted:
            continue
        outputs = [sqnr[t] for t in node.output if t in sqnr]
        if not outputs:
            unmeasured.append(RankedNode(node.name, node.op_type, 0.0, None))
            continue
        inputs = min((seen(t) for t in node.input if t), default=clean)
        measured.append(RankedNode(node.name, node.op_type, inputs - min(outputs), min(outputs)))
    heads = _last_measured(graph, producer, sqnr)
    return sorted(measured, key=lambda r: (r.name not in heads, -r.cost_db)) + unmeasured


def _last_measured(graph, producer: dict, sqnr: dict) -> set[str]:
    """The nodes with a measured output nearest to the graph's outputs (walking up from
    them): the heads' last quantized nodes, whose error reaches the decoder's peaks and
    thresholds unfiltered."""
    found: set[str] = set()
    visited: set[str] = set()
    stack = [o.name for o in graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in visited:
            continue
        visited.add(node.name)
        if any(t in sqnr for t in node.output):
            found.add(node.name)
        else:
            stack.extend(t for t in node.input if t)
    return found


@dataclass
class SearchStep:
    """One quantize-and-evaluate round: the nodes left in float and what it scored."""

    excluded: int
    score: dict
    within: bool

    def to_dict(self) -> dict:
        return {"excluded_nodes": self.excluded, **self.score, "within_tolerance": self.within}


@dataclass
class SearchResult:
    """The outcome of ``search_exclusions``: the smallest count found within the tolerance
    (``None``: none, even with every ranked node in float), and every round."""

    excluded: int | None
    steps: list[SearchStep] = field(default_factory=list)


def search_exclusions(
    count: int,
    evaluate: Callable[[int], tuple[dict, bool]],
    max_rounds: int = 16,
) -> SearchResult:
    """The fewest of ``count`` ranked nodes to leave in float for ``evaluate`` to pass.

    ``evaluate(k)`` quantizes with the ``k`` costliest nodes in float and returns ``(its
    scores, whether they are within the tolerance)``; ``k = 0`` (plain INT8) is taken as
    failed. Doubling ``k = 1, 2, 4, …, count`` until one passes, then bisection between the
    last failing and the first passing count; ``max_rounds`` caps the rounds (the best
    passing count so far is kept).
    """
    steps: list[SearchStep] = []

    def run(k: int) -> bool:
        score, within = evaluate(k)
        steps.append(SearchStep(k, score, within))
        return within

    failed, passed = 0, None
    k = 1
    while k <= count and len(steps) < max_rounds:
        if run(k):
            passed = k
            break
        failed = k
        if k == count:
            break
        k = min(2 * k, count)
    while passed is not None and passed - failed > 1 and len(steps) < max_rounds:
        middle = (failed + passed) // 2
        if run(middle):
            passed = middle
        else:
            failed = middle
    return SearchResult(passed, steps)
