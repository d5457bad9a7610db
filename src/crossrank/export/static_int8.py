"""Static int8: every activation quantiser of a dynamically quantised model gets a fixed, calibrated scale.

Dynamic int8 (`quantize_dynamic`) measures each activation tensor's range at run time, so a pair's score
moved with its batch companions, and the range itself came out a few units apart on AVX2 and AVX-512
kernels. With one scale and zero point per tensor fixed in the file, quantising is an elementwise rounding,
the integer products are exact on every CPU, and a pair's score is a function of the pair alone: the same
bits in any batch and with any thread count. Across CPU kinds the float parts feeding the roundings differ in
the last place, which flips a few roundings: up to ~2e-3 on an emulated AVX2 CPU (`benchmarks/cross_cpu.py`).

The scales live beside the int8 file as `activation_scales.json`: the graph is rewritten at load, so one
int8 file serves the float path (`crossrank.backends.dequantize`), dynamic int8 and static int8.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crossrank.export.graph_edit import links, use_microsoft_domain
from crossrank.outputs import write_atomic

SCALES_FILE = "activation_scales.json"
FORMAT = 1


@dataclass(frozen=True, slots=True)
class ActivationScales:
    """One (scale, zero point) per activation tensor that a `DynamicQuantizeLinear` quantises (uint8)."""

    scales: dict[str, tuple[float, int]]
    source: str
    """What the ranges were measured on (pairs, quantile), for the record."""

    def write(self, path: Path) -> None:
        """Write as JSON, atomically."""
        body = {
            "format": FORMAT,
            "source": self.source,
            "scales": {name: [scale, zero] for name, (scale, zero) in sorted(self.scales.items())},
        }
        write_atomic(path, json.dumps(body, indent=1) + "\n")

    @classmethod
    def read(cls, path: Path) -> ActivationScales:
        body = json.loads(path.read_text(encoding="utf-8"))
        if body.get("format") != FORMAT:
            raise ValueError(f"{path}: unknown activation scales format {body.get('format')!r}")
        scales = {str(n): (float(s), int(z)) for n, (s, z) in body["scales"].items()}
        return cls(scales=scales, source=str(body.get("source", "")))


def scales_path(int8_file: Path) -> Path:
    """Where the activation scales of the int8 file `int8_file` live (beside it)."""
    return int8_file.with_name(SCALES_FILE)


def quantiser_inputs(model: Any) -> list[str]:
    """The float tensors a `DynamicQuantizeLinear` of `model` (an `onnx.ModelProto`) quantises, in order."""
    return [n.input[0] for n in model.graph.node if n.op_type == "DynamicQuantizeLinear"]


def calibrate(
    int8_file: Path, feeds: Iterable[Mapping[str, np.ndarray]], *, quantile: float, source: str
) -> ActivationScales:
    """Measure every quantiser input over `feeds` (padding left out) and fix its uint8 range.

    The range runs from the `1 - quantile` to the `quantile` quantile of the values (0 always inside);
    values beyond it saturate. Cutting the range much tighter than the largest values hurts: a few large
    activations carry the signal (measured on the built-in model, see docs/experiments/static-int8.md).
    """
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(int8_file))
    names = quantiser_inputs(model)
    model.graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in names)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]
    values: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for feed in feeds:
        mask = feed["attention_mask"].astype(bool)
        for name, value in zip(names, session.run(names, {n: feed[n] for n in inputs}), strict=True):
            rows = value[mask] if value.ndim == 3 else value.reshape(-1, value.shape[-1])
            values[name].append(rows.ravel())
    scales: dict[str, tuple[float, int]] = {}
    for name in names:
        flat = np.concatenate(values[name])
        low = min(float(np.quantile(flat, 1.0 - quantile)), 0.0)
        high = max(float(np.quantile(flat, quantile)), 0.0)
        scale = float(np.float32(max(high - low, 1e-8) / 255.0))
        scales[name] = (scale, int(np.clip(np.round(-low / scale), 0, 255)))
    return ActivationScales(scales=scales, source=source)


def static_graph(int8_file: Path) -> Any:
    """The static int8 model of `int8_file` (an `onnx.ModelProto`): `fixed_quantisers`, then `fuse_rescales`."""
    model = fixed_quantisers(int8_file)
    fuse_rescales(model)
    return model


def fixed_quantisers(int8_file: Path) -> Any:
    """The dynamically quantised model in `int8_file` with each `DynamicQuantizeLinear` replaced by a
    `QuantizeLinear` of its calibrated scale and zero point (from the scales file beside it, which also stand
    in for its scale and zero point outputs). Returns an `onnx.ModelProto`."""
    import onnx
    from onnx import numpy_helper

    scales = ActivationScales.read(scales_path(int8_file))
    model = onnx.load(str(int8_file))
    nodes = []
    for node in model.graph.node:
        if node.op_type != "DynamicQuantizeLinear":
            nodes.append(node)
            continue
        found = scales.scales.get(node.input[0])
        if found is None:
            raise ValueError(f"{int8_file}: no activation scale for {node.input[0]!r}")
        quantised, scale_name, zero_name = node.output
        model.graph.initializer.extend(
            [
                numpy_helper.from_array(np.array(found[0], dtype=np.float32), scale_name),
                numpy_helper.from_array(np.array(found[1], dtype=np.uint8), zero_name),
            ]
        )
        nodes.append(
            onnx.helper.make_node("QuantizeLinear", [node.input[0], scale_name, zero_name], [quantised], name=node.name)
        )
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def fuse_rescales(model: Any) -> int:
    """Fold each `MatMulInteger -> Cast -> Mul(activation scale x weight scale) [-> Add(bias)]` of `model` into
    one `com.microsoft.MatMulIntegerToFloat`, which rescales (and adds the bias) as its integer product leaves the
    kernel: the same bits, three passes over the output fewer (ONNX Runtime fuses the dynamic chain itself, not
    this one once the scales are constants). Returns how many were folded."""
    import onnx

    graph = model.graph
    before = list(graph.node)  # one set of node objects: they are told apart by identity below
    producer, consumers = links(before)
    constants = {t.name for t in graph.initializer}
    replaced: dict[int, Any] = {}
    dropped: set[int] = set()
    for product in before:
        chain = _rescale_chain(product, producer, consumers, constants)
        if chain is None:
            continue
        cast, rescale, scales, bias = chain
        zeros = [*product.input[2:4], "", ""][:2]
        inputs = [product.input[0], product.input[1], *producer[scales].input, *zeros]
        if bias is not None:
            inputs.append(next(i for i in bias.input if i != rescale.output[0]))
        last = bias or rescale
        replaced[id(product)] = onnx.helper.make_node(
            "MatMulIntegerToFloat", inputs, [last.output[0]], name=f"{product.name}_to_float", domain="com.microsoft"
        )
        dropped |= {id(cast), id(rescale), id(last)}
        if len(consumers[scales]) == 1:
            dropped.add(id(producer[scales]))
    nodes = [replaced.get(id(n), n) for n in before if id(n) not in dropped]
    del graph.node[:]
    graph.node.extend(nodes)
    if replaced:
        use_microsoft_domain(model)
    return len(replaced)


def _rescale_chain(
    product: Any, producer: dict[str, Any], consumers: dict[str, list[Any]], constants: set[str]
) -> tuple[Any, Any, str, Any | None] | None:
    """(the Cast, the rescaling Mul, the name of its scales product, the bias Add or None) after an integer
    product, when the chain has exactly that shape and nothing else reads its middle."""
    if product.op_type != "MatMulInteger":
        return None
    after = consumers.get(product.output[0], [])
    cast = after[0] if len(after) == 1 and after[0].op_type == "Cast" else None
    after = consumers.get(cast.output[0], []) if cast is not None else []
    rescale = after[0] if len(after) == 1 and after[0].op_type == "Mul" else None
    if cast is None or rescale is None:
        return None
    scales = next(i for i in rescale.input if i != cast.output[0])
    scales_node = producer.get(scales)
    if scales_node is None or scales_node.op_type != "Mul" or not set(scales_node.input) <= constants:
        return None
    after = consumers.get(rescale.output[0], [])
    bias = after[0] if len(after) == 1 and after[0].op_type == "Add" else None
    if bias is not None and not any(i in constants for i in bias.input if i != rescale.output[0]):
        bias = None
    return cast, rescale, scales, bias
