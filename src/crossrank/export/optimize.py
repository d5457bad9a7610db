"""Optimise any cross-encoder the way the built-in models are: a self-contained folder with a static int8 graph
(weights int8, every activation scale fixed by calibration, so a pair's score is the same bits in any batch and
thread count), checked against float32 before it is kept.

Steps: export float32 ONNX (or take the folder's own `onnx/model.onnx`), quantise the matrix products with the
outlier channels smoothed, fit the activation scales on pairs (`PAIRS`, each query crossed with every passage,
or the caller's), then the quality guard: float32 and the graph that will run (static int8 with the last layer
cut to the first token and each attention block in one operator where the shapes allow) score `HELD_OUT`
pairs, and the int8 graph is kept only when it agrees (`Bound`); otherwise the outlier channels are multiplied
in float32 instead of smoothed, then the feed-forward products are kept in float32 a part at a time
(`float_parts`), and where none of those agrees either the folder keeps float32 and says why. The folder's
`optimization.json` and `README.md` say what was done and what was measured.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from crossrank.cache import build_once, cache_name, cache_root, content_key
from crossrank.errors import ModelError
from crossrank.export.activation_pairs import HELD_OUT, PAIRS, crossed, pair_feeds
from crossrank.models import has_torch_weights
from crossrank.outputs import write_atomic

log = logging.getLogger(__name__)
Outliers = Literal["smooth", "split"]
VERSION = "3"
"""Bump when the recipe changes, so optimised folders in the cache are rebuilt."""
REPORT = "optimization.json"
_WEIGHTS = (".safetensors", ".bin", ".pt", ".h5", ".msgpack", ".ckpt", ".onnx", ".onnx_data")


@dataclass(frozen=True, slots=True)
class Bound:
    """What the int8 graph must keep of float32's ranking on the held-out pairs to be kept."""

    rank_correlation: float = 0.99
    """Spearman correlation of all held-out pairs' logits, int8 against float32."""
    top10: float = 0.9
    """Mean share of each query's float32 top 10 that int8 also ranks in its top 10."""


@dataclass(frozen=True, slots=True)
class Agreement:
    """How an optimised graph's logits agree with float32's on held-out pairs."""

    rank_correlation: float
    top10: float
    largest_difference: float
    pairs: int
    queries: int

    def holds(self, bound: Bound) -> bool:
        """Whether this agreement is within `bound`."""
        return self.rank_correlation >= bound.rank_correlation and self.top10 >= bound.top10


@dataclass(frozen=True, slots=True)
class Attempt:
    """One static int8 graph the guard measured: which products it kept in float32, and how it agreed."""

    label: str
    kept_float: int
    rank_correlation: float
    top10: float
    outliers: Outliers = "smooth"
    """How the input channels that run far larger than the rest were handled: smoothed into the weights, or
    split out and multiplied in float32 (`crossrank.export.outliers`)."""


@dataclass(frozen=True, slots=True)
class Optimized:
    """What `optimize` wrote: the arithmetic the folder runs by default, the rewrites found in its graph, the
    guard's measurement, and why the result is what it is."""

    folder: Path
    arithmetic: Literal["static int8", "float32"]
    agreement: Agreement
    attention_fused: int
    first_token_only: bool
    reason: str
    calibration_pairs: str
    attempts: tuple[Attempt, ...] = ()

    def summary(self) -> str:
        """One line for the CLI and the log."""
        a = self.agreement
        return (
            f"{self.arithmetic} ({self.reason}); against float32 on {a.pairs} held-out pairs: rank correlation "
            f"{a.rank_correlation:.4f}, top-10 agreement {a.top10:.3f}, largest logit difference "
            f"{a.largest_difference:.4f}; attention blocks in one operator: {self.attention_fused}"
        )


def optimize(
    source: Path,
    out: Path,
    *,
    name: str,
    pairs: Sequence[tuple[str, Sequence[str]]] | None = None,
    pairs_source: str | None = None,
    bound: Bound = Bound(),
    final: Path | None = None,
) -> Optimized:
    """Write the optimised folder of the model in `source` into `out` (an empty or new folder; `final`: where it
    will be moved once written, which its card names)."""
    out.mkdir(parents=True, exist_ok=True)
    onnx_dir = out / "onnx"
    onnx_dir.mkdir(exist_ok=True)
    _copy_model_files(source, out)
    fp32 = onnx_dir / "model.onnx"
    shipped = source / "onnx" / "model.onnx"
    if shipped.is_file():
        shutil.copyfile(shipped, fp32)
    else:
        from crossrank.export.onnx import export

        export(source, fp32)
    from crossrank.export.onnx import quantize
    from crossrank.export.static_int8 import calibrate, scales_path

    fitting = list(pairs) if pairs is not None else crossed(PAIRS, joined=True)
    fitted_on = pairs_source or f"crossrank's {len(PAIRS)} written pairs, each query with every passage"
    feeds = [feed for _, feed in pair_feeds(out, fitting)]
    int8 = onnx_dir / "model_int8.onnx"
    held_out = HeldOut.score(out, fp32)  # float32's side of the guard, the same for every attempt
    tried: list[Attempt] = []
    for label, keep_float, outliers in float_parts(fp32):
        quantize(fp32, int8, embeddings=True, calibration=feeds, keep_float=keep_float, outliers=outliers)
        calibrate(int8, feeds, quantile=0.99999, source=fitted_on).write(scales_path(int8))
        agreement, fused, first_token = guard(held_out, int8)
        tried.append(Attempt(label, len(keep_float), agreement.rank_correlation, agreement.top10, outliers))
        held = agreement.holds(bound)
        if held:
            break
    if held:
        arithmetic: Literal["static int8", "float32"] = "static int8"
        last = tried[-1]
        reason = "within the quality bound"
        if last.kept_float:
            reason += f", {last.label} kept in float32 ({last.kept_float} products)"
        elif last.outliers == "split":
            reason += ", outlier channels multiplied in float32"
        fp32.unlink()
    else:
        arithmetic = "float32"
        reason = "int8 fell below the quality bound" + (", also with parts in float32" if len(tried) > 1 else "")
        reason += "; kept in float32"
        int8.unlink()
        scales_path(int8).unlink()
    result = Optimized(out, arithmetic, agreement, fused, first_token, reason, fitted_on, tuple(tried))
    _write_record(result, source=name, bound=bound, final=final or out)
    return result


def float_parts(fp32: Path) -> list[tuple[str, tuple[str, ...], Outliers]]:
    """What the guard tries, in order, each kept only when it holds: every matrix product in int8 with the
    outlier channels smoothed (the fastest graph); the same with them split out into float32 instead (exact
    for them, and the weights keep their precision); then the narrowing products (the feed-forward output,
    whose input after the activation has the widest range) in float32; then the widening ones (the feed-forward
    input) as well. Found by weight shape, so any architecture's feed-forward block is found without knowing
    its node names."""
    import onnx

    graph = onnx.load(str(fp32), load_external_data=False).graph
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    products = [
        (node.name, shapes[node.input[1]])
        for node in graph.node
        if node.op_type in ("MatMul", "Gemm") and len(shapes.get(node.input[1], ())) == 2
    ]
    gemm_transposed = {
        n.name for n in graph.node if n.op_type == "Gemm" and any(a.name == "transB" and a.i for a in n.attribute)
    }
    narrowing, widening = [], []
    for name, (rows, cols) in products:
        inputs, outputs = (cols, rows) if name in gemm_transposed else (rows, cols)
        if inputs > outputs:
            narrowing.append(name)
        elif outputs > inputs:
            widening.append(name)
    steps: list[tuple[str, tuple[str, ...], Outliers]] = [
        ("every product in int8", (), "smooth"),
        ("every product in int8, outlier channels in float32", (), "split"),
    ]
    if narrowing:
        steps.append(("the feed-forward outputs", tuple(narrowing), "split"))
    if widening:
        steps.append(("the feed-forward blocks", tuple(narrowing + widening), "split"))
    return steps


@dataclass(frozen=True, slots=True)
class HeldOut:
    """`HELD_OUT` (each query with every passage) as batches, and float32's logits of them: the reference every
    attempt of the guard is measured against, scored once."""

    batches: list[tuple[np.ndarray, dict[str, np.ndarray]]]
    expected: np.ndarray
    queries: int

    @classmethod
    def score(cls, folder: Path, fp32: Path) -> HeldOut:
        """Tokenize the held-out pairs with `folder`'s tokenizer and score them with the float32 graph `fp32`
        (its last layer cut to the first token, as the int8 graph will be)."""
        import onnx

        from crossrank.export.cls_only import cls_only

        queries = crossed(HELD_OUT, joined=False)
        batches = pair_feeds(folder, queries)
        reference = onnx.load(str(fp32))
        cls_only(reference)
        return cls(batches, _logits(reference, batches), len(queries))


def guard(held_out: HeldOut, int8: Path) -> tuple[Agreement, int, bool]:
    """Score the held-out pairs with the static int8 graph as it will run; its agreement with float32, and how
    many attention blocks were fused and whether the last layer was cut."""
    from crossrank.export.attention import fuse_attention
    from crossrank.export.cls_only import cls_only
    from crossrank.export.static_int8 import static_graph

    optimised = static_graph(int8)
    first_token = cls_only(optimised)
    fused = fuse_attention(optimised)
    expected, got = held_out.expected, _logits(optimised, held_out.batches)
    per_query = len(expected) // held_out.queries
    top10 = [
        len(set(np.argsort(-e)[:10]) & set(np.argsort(-g)[:10])) / 10
        for e, g in zip(expected.reshape(-1, per_query), got.reshape(-1, per_query), strict=True)
    ]
    agreement = Agreement(
        rank_correlation=_spearman(expected, got),
        top10=float(np.mean(top10)),
        largest_difference=float(np.max(np.abs(expected - got))),
        pairs=len(expected),
        queries=held_out.queries,
    )
    return agreement, fused, first_token


def _logits(model: Any, batches: Sequence[tuple[np.ndarray, dict[str, np.ndarray]]]) -> np.ndarray:
    """The positive-class logit of every pair (a two-logit model: the difference), in pair order."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    size = sum(len(positions) for positions, _ in batches)
    out = np.zeros(size, dtype=np.float64)
    for positions, feed in batches:
        (logits,) = session.run(["logits"], {n: feed[n] for n in names})
        logits = np.asarray(logits, dtype=np.float64)
        out[positions] = logits[:, 0] if logits.shape[1] == 1 else logits[:, 1] - logits[:, 0]
    return out


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ranks = [np.argsort(np.argsort(x, kind="stable"), kind="stable").astype(np.float64) for x in (a, b)]
    if np.std(ranks[0]) == 0 or np.std(ranks[1]) == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(np.corrcoef(ranks[0], ranks[1])[0, 1])


def _copy_model_files(source: Path, out: Path) -> None:
    """Config, tokenizer and licence files of `source` (everything but weights and folders)."""
    for path in sorted(source.iterdir()):
        wanted = not path.name.endswith(_WEIGHTS) and not path.name.startswith(".")
        if path.is_file() and wanted and path.name not in ("README.md", REPORT):
            shutil.copyfile(path, out / path.name)
    if not (out / "config.json").is_file():
        raise ModelError(f"{source} has no config.json; it is not a Hugging Face model folder")


def _write_record(result: Optimized, *, source: str, bound: Bound, final: Path) -> None:
    """`optimization.json` (the record) and `README.md` (the card) in the optimised folder."""
    record = {
        "kind": "crossrank-optimized",
        "version": VERSION,
        "source": source,
        "arithmetic": result.arithmetic,
        "reason": result.reason,
        "agreement": asdict(result.agreement),
        "bound": asdict(bound),
        "attention_fused": result.attention_fused,
        "first_token_only": result.first_token_only,
        "activation_scales_fitted_on": result.calibration_pairs,
        "attempts": [asdict(a) for a in result.attempts],
    }
    write_atomic(result.folder / REPORT, json.dumps(record, indent=2) + "\n")
    a = result.agreement
    rewrites = (
        f"{result.attention_fused} attention blocks in one operator each"
        if result.attention_fused
        else "attention left as separate operators (its pattern was not recognised)"
    )
    outlier_note = (
        "outlier channels multiplied in float32"
        if result.attempts and result.attempts[-1].outliers == "split"
        else "outlier channels smoothed"
    )
    last = "the last layer computes the first token only" if result.first_token_only else "the last layer in full"
    card = "\n".join(
        [
            f"# {source}, optimised by crossrank",
            "",
            f"Made by `crossrank optimize` from `{source}`: its own licence and card apply to these weights; its",
            "files other than the weights are copied here unchanged.",
            "",
            f"- Runs as **{result.arithmetic}** by default: {result.reason}.",
            f"- Graph: weights int8 per channel, {outlier_note}, activation scales fixed (fitted on",
            f"  {result.calibration_pairs}); {rewrites}; {last}.",
            f"- Quality guard, against float32 on {a.pairs} held-out pairs ({a.queries} queries written for crossrank,",
            f"  never fitted on): rank correlation {a.rank_correlation:.4f} (bound {bound.rank_correlation}), top-10",
            f"  agreement {a.top10:.3f} (bound {bound.top10}), largest logit difference {a.largest_difference:.4f}.",
            *[
                f"- Tried {t.label} ({t.kept_float} products in float32): rank correlation {t.rank_correlation:.4f},"
                f" top-10 agreement {t.top10:.3f}."
                for t in result.attempts
            ],
            "",
            f'Load it with `Reranker("{final}")`, `crossrank serve --model {final}` or',
            f"`crossrank demo --model {final}`.",
            "",
        ]
    )
    write_atomic(result.folder / "README.md", card)


def read_record(folder: Path) -> dict[str, Any] | None:
    """The optimisation record of `folder`, or None when `optimize` did not write it."""
    path = folder / REPORT
    if not path.is_file():
        return None
    body = json.loads(path.read_text(encoding="utf-8"))
    return body if isinstance(body, dict) and body.get("kind") == "crossrank-optimized" else None


def needs_optimizing(folder: Path) -> bool:
    """A model folder with float weights and no int8 graph of its own: what loading optimises once into the
    cache (the built-in models and optimised folders ship theirs)."""
    has_graph = (folder / "onnx" / "model_int8.onnx").is_file() or read_record(folder) is not None
    return (has_torch_weights(folder) or (folder / "onnx" / "model.onnx").is_file()) and not has_graph


def optimized_in_cache(
    folder: Path, *, name: str, cache_dir: Path | None, say: Callable[[str], None] = lambda line: None
) -> Path:
    """The optimised folder of `folder` in the cache, built once (keyed by its files and the recipe)."""
    files = [p for p in folder.iterdir() if p.is_file() and p.name != "README.md"]
    if (folder / "onnx" / "model.onnx").is_file():
        files.append(folder / "onnx" / "model.onnx")
    key = content_key(files, VERSION)
    entry = cache_root(cache_dir) / "optimized" / f"{cache_name(name)}-{key}"
    if entry.is_dir():
        return entry

    def build(tmp: Path) -> None:
        say(f"crossrank: optimising {name} once into {entry} (static int8, checked against float32)")
        say(f"crossrank: {optimize(folder, tmp, name=name, final=entry).summary()}")

    return build_once(entry, build)


def runnable_folder(folder: Path, *, name: str, backend: str | None, cache_dir: str | Path | None) -> Path:
    """What `Reranker` loads: a folder of float weights, for int8 (the default backend or "onnx-int8"), runs
    from its optimised folder, built once into the cache (static int8 where it keeps float32's ranking); "onnx"
    and "torch" keep the folder as it is, as do folders that ship their own int8 graph (the built-in models)."""
    if backend not in (None, "onnx-int8") or not needs_optimizing(folder):
        return folder
    cache = Path(cache_dir) if cache_dir is not None else None
    return optimized_in_cache(folder, name=name, cache_dir=cache, say=log.warning)
