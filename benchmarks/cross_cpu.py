"""How far can the same pair's score move between CPU kinds? Two answers, both on one machine.

The noise model: different CPUs (AVX2, AVX-512, AMX) run different float32 kernels, which sum in different
orders: each result differs by a few units in the last place (a dot product of length K summed in another
order moves by at most ~K * 2**-24 of the sum of its terms' magnitudes, typically ~sqrt(K) * 2**-24: 2e-6 for
K = 1536). This script injects seeded uniform relative noise of that size (and ten times it) into every matrix
product's output (float32) or every tensor entering an activation quantiser (static and dynamic int8): the
worst case, where every float kernel feeding a quantiser sums in another order.

The emulation (`--emulate CPU`): the same pairs scored by this Python under `qemu-x86_64 -cpu CPU` (Debian's
qemu-user), where ONNX Runtime detects that CPU's instruction sets and dispatches its kernels for them (e.g.
EPYC-Rome: AVX2 and FMA, no AVX-512), compared with the native run: what ONNX Runtime's kernels really do.

    python benchmarks/cross_cpu.py --seeds 20
    python benchmarks/cross_cpu.py --emulate EPYC-Rome
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

from crossrank import Reranker
from crossrank.backends.dequantize import float_graph
from crossrank.batching import pad_batch
from crossrank.export.attention import fuse_attention
from crossrank.export.cls_only import cls_only
from crossrank.export.static_int8 import static_graph
from crossrank.models import default_model_dir

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "passages.txt"


def pairs() -> list[tuple[str, str]]:
    """The pairs `tests/test_default_model.py` pins: the example passages and two France pairs."""
    passages = [line.strip() for line in EXAMPLES.read_text().splitlines() if line.strip()]
    france = "what is the capital of france"
    return [("how do wings produce lift", p) for p in passages] + [
        (france, "Paris has been the capital of France since the tenth century."),
        (france, "The recipe calls for two cups of flour, a pinch of salt and three eggs."),
    ]


def with_noise(model: onnx.ModelProto, *, at: str, eps: float, seed: int) -> bytes:
    """`model` with every input of an `at` node (first input) scaled by 1 + U(-eps, eps), seeded."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    nodes = []
    for k, node in enumerate(copy.graph.node):
        if node.op_type == at:
            x, noise, factor, one, y = (node.input[0], f"n{k}_u", f"n{k}_f", f"n{k}_1", f"n{k}_y")
            nodes += [
                helper.make_node(
                    "RandomUniformLike", [x], [noise], low=-eps, high=eps, seed=float(seed * 1000 + k), dtype=1
                ),
                helper.make_node("Constant", [], [one], value=helper.make_tensor(one, TensorProto.FLOAT, [], [1.0])),
                helper.make_node("Add", [noise, one], [factor]),
                helper.make_node("Mul", [x, factor], [y]),
            ]
            node.input[0] = y
        nodes.append(node)
    del copy.graph.node[:]
    copy.graph.node.extend(nodes)
    return copy.SerializeToString()


def scores(session: ort.InferenceSession, reranker: Reranker) -> np.ndarray:
    out = []
    for query, document in pairs():
        encoded = reranker.encoder.encode(query, [document])
        (logits,) = session.run(["logits"], pad_batch(encoded, np.array([0]), pad_id=reranker.encoder.pad_id))
        out.append(1.0 / (1.0 + np.exp(-float(logits[0, 0]))))
    return np.array(out)


def graphs() -> dict[str, tuple[onnx.ModelProto, str]]:
    """Each arithmetic path of the built-in model, with the operator whose first input the noise model perturbs."""
    int8_path = default_model_dir() / "onnx" / "model_int8.onnx"
    float32, static = float_graph(int8_path), static_graph(int8_path)
    cls_only(float32)  # the graphs the backends run (the rewrites change no bit on one CPU)
    cls_only(static)
    fuse_attention(static)
    return {
        # float32 arithmetic: noise on every MatMul's input stands in for the previous product's reordering
        "onnx (float32)": (float32, "MatMul"),
        "onnx-int8 (static int8, the default)": (static, "QuantizeLinear"),
        "dynamic int8 (other models' onnx-int8)": (onnx.load(str(int8_path)), "DynamicQuantizeLinear"),
    }


def session(model: onnx.ModelProto | bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    source = model if isinstance(model, bytes) else model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def noise_model(seeds: int) -> None:
    reranker = Reranker(cascade_model=None)
    print(f"noise model: built-in model, {len(pairs())} pinned pairs, {seeds} seeds; largest |score change|")
    for name, (model, at) in graphs().items():
        clean = scores(session(model), reranker)
        for eps in (1e-7, 1e-6, 1e-5):
            worst = max(
                np.abs(scores(session(with_noise(model, at=at, eps=eps, seed=s)), reranker) - clean).max()
                for s in range(seeds)
            )
            print(f"  {name:40s} relative noise {eps:.0e}: {worst:.2e}")


def emulate(cpu: str) -> None:
    """Score the pinned pairs natively and under qemu emulating `cpu`; print each path's largest difference."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        native, emulated = Path(tmp) / "native.npz", Path(tmp) / "emulated.npz"
        subprocess.run([sys.executable, __file__, "--scores-to", str(native)], check=True)
        command = ["qemu-x86_64", "-cpu", cpu, sys.executable, __file__, "--scores-to", str(emulated)]
        subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
        a, b = np.load(native), np.load(emulated)
        print(f"emulated {cpu} (qemu-user) against this CPU: {len(pairs())} pinned pairs; largest |score change|")
        for name in a.files:
            print(f"  {name:40s} {np.abs(a[name] - b[name]).max():.2e}")


def scores_to(path: Path) -> None:
    reranker = Reranker(cascade_model=None)
    np.savez(path, **{name: scores(session(model), reranker) for name, (model, _) in graphs().items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--emulate", metavar="CPU", help="a qemu CPU model, e.g. EPYC-Rome (AVX2, no AVX-512)")
    parser.add_argument("--scores-to", type=Path, help=argparse.SUPPRESS)  # the child process of --emulate
    args = parser.parse_args()
    if args.scores_to:
        scores_to(args.scores_to)
    elif args.emulate:
        emulate(args.emulate)
    else:
        noise_model(args.seeds)


if __name__ == "__main__":
    main()
