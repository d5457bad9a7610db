"""`crossrank demo --out DIR`: write a self-contained static site that reranks in the visitor's browser.

The site holds the page, its JavaScript (ONNX Runtime Web, built from the npm registry by
`scripts/build_web.sh` and shipped inside the package), the model's ONNX file and its `tokenizer.json`. Any
static host serves it; nothing is fetched from another origin. Browsers give WebAssembly threads only to a
cross-origin-isolated page (`Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy:
require-corp`); without those headers it runs on one thread.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from crossrank.calibration import Calibration, load_calibration
from crossrank.cascade import MODEL_CASCADE_KEEP, default_first_pass
from crossrank.errors import ModelError
from crossrank.export.optimize import runnable_folder
from crossrank.models import display_name, read_spec, resolve_model
from crossrank.outputs import DEMO, check_output, mark_output, new_folder_beside, replace_folder
from crossrank.types import ModelSpec

EXAMPLE_QUERY = "how do aircraft wings produce lift"
EXAMPLE_PASSAGES = [
    "The recipe calls for two cups of flour, a pinch of salt and three eggs.",
    "Jet engines compress air, burn fuel in it, and push the hot exhaust out through a nozzle.",
    "Lift is produced when air moving over the curved upper surface of a wing travels faster than the air below it.",
    "Paris has been the capital of France since the tenth century.",
    "A wing's angle of attack changes how much lift it produces, until the flow separates and the wing stalls.",
    "Flaps on the trailing edge increase a wing's camber, giving more lift at low speed.",
]
PAGE_FILES = ("index.html", "style.css", "demo.js", "page.js", "scorer.js", "tokenizer.js", "cut.js")
"""The static site's page (`served.html` and `served.js` are the page of `crossrank serve`, built on the same)."""
PAGE_MODEL_LIMIT = 400_000_000
"""The largest model file a page is given: the browser downloads it whole and ONNX Runtime Web holds the file,
its session and the activations in one 32-bit WebAssembly memory (4 GiB at most, often less on phones)."""
VENDOR_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm", "LICENSES.txt")


@dataclass(frozen=True, slots=True)
class DemoSite:
    """What `build_demo` wrote: the folder, the model it runs and the bytes the browser downloads for it."""

    out: Path
    model: str  # what ranks in the page: "crossrank-tiny -> crossrank-default" on the default path
    model_bytes: int


def static_dir() -> Path:
    return Path(str(resources.files("crossrank.web") / "static"))


def build_demo(
    out: Path, *, model: str | Path | None = None, cascade: bool = True, cache_dir: Path | None = None
) -> DemoSite:
    """Write the demo site for `model` (None: the built-in model, on its default path: crossrank-tiny first,
    unless `cascade` is False) into `out`, atomically.

    `out` must be new, empty or an earlier demo (`crossrank.outputs`). The model must be a BERT-style
    WordPiece cross-encoder (the tokenizer the browser side implements).
    """
    check_output(out, DEMO)
    static = static_dir()
    missing = [f for f in VENDOR_FILES if not (static / "vendor" / f).is_file()]
    if missing:
        raise ModelError(
            f"the demo's JavaScript is not built ({static / 'vendor'} lacks {', '.join(missing)}); "
            "run scripts/build_web.sh (needs node and npm) or install a crossrank wheel that carries it"
        )
    folder = runnable_folder(resolve_model(model), name=display_name(model), backend=None, cache_dir=cache_dir)
    spec = read_spec(folder, name=display_name(model))
    check_browser_tokenizer(folder, spec.name)
    first_name = default_first_pass(folder) if cascade else None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = new_folder_beside(out)
    try:
        for file in PAGE_FILES:
            shutil.copyfile(static / file, tmp / file)
        (tmp / "vendor").mkdir()  # made and filled as `mkdir` and `open` make them: the user's umask applies
        for path in sorted((static / "vendor").iterdir()):
            if path.is_file():
                shutil.copyfile(path, tmp / "vendor" / path.name)
        shutil.copyfile(folder / "tokenizer.json", tmp / "tokenizer.json")
        model_bytes = browser_model(folder, spec.name, cache_dir=cache_dir)
        check_page_size(spec.name, len(model_bytes))
        (tmp / "model.onnx").write_bytes(model_bytes)
        size = len(model_bytes)
        config = demo_config(spec.name, spec.max_length, size, load_calibration(folder))
        if first_name is not None:  # the default path: crossrank-tiny first, as `Reranker()` runs it
            first = resolve_model(first_name)
            first_spec = read_spec(first, name=first_name)
            shutil.copyfile(first / "tokenizer.json", tmp / "first_pass_tokenizer.json")
            first_bytes = browser_model(first, first_spec.name, cache_dir=cache_dir)
            (tmp / "first_pass.onnx").write_bytes(first_bytes)
            size += len(first_bytes)
            config["first_pass"] = first_pass_config(
                first_spec, len(first_bytes), load_calibration(first), keep=MODEL_CASCADE_KEEP
            )
        (tmp / "demo.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        mark_output(tmp, DEMO)
        replace_folder(tmp, out, DEMO)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    label = spec.name if first_name is None else f"{first_name} -> {spec.name}"
    return DemoSite(out=out, model=label, model_bytes=size)


def check_page_size(name: str, size: int) -> None:
    """Refuse a model too large for a page, saying so plainly (a 12-layer base model in int8 is ~110 MB)."""
    if size > PAGE_MODEL_LIMIT:
        raise ModelError(
            f"{name}: its browser model is {size / 1e6:.0f} MB, too large for a page (the demo's limit is "
            f"{PAGE_MODEL_LIMIT / 1e6:.0f} MB: every visitor downloads it, and the browser runs it in one "
            "WebAssembly memory); serve it with crossrank serve instead"
        )


def check_browser_tokenizer(folder: Path, name: str) -> None:
    """Refuse a model whose tokenizer the browser side does not implement (BERT WordPiece only)."""
    path = folder / "tokenizer.json"
    tokenizer = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    model = tokenizer.get("model") or {}
    normalizer = tokenizer.get("normalizer") or {}
    if model.get("type") != "WordPiece" or normalizer.get("type") != "BertNormalizer":
        raise ModelError(f"{name}: the browser demo runs BERT-style WordPiece tokenizers only (tokenizer.json)")


def demo_config(
    name: str, max_length: int, model_bytes: int, calibration: Calibration | None = None
) -> dict[str, object]:
    """`demo.json`: what the page loads, how it encodes pairs and how it turns logits into scores (the model's
    calibration, applied as Python applies it)."""
    return {
        "name": name,
        "max_length": max_length,
        "model": "model.onnx",
        "model_bytes": model_bytes,
        "tokenizer": "tokenizer.json",
        "calibration": None if calibration is None else {"scale": calibration.scale, "bias": calibration.bias},
        "example": {"query": EXAMPLE_QUERY, "passages": EXAMPLE_PASSAGES},
    }


def first_pass_config(
    spec: ModelSpec, model_bytes: int, calibration: Calibration | None, *, keep: int
) -> dict[str, object]:
    """`demo.json`'s `first_pass`: the cascade's first model and how many of its best the full model scores
    (passages typed into a page are a set, not a ranking: their order never counts, as in `Reranker.rerank`)."""
    return {
        "name": spec.name,
        "max_length": spec.max_length,
        "model": "first_pass.onnx",
        "model_bytes": model_bytes,
        "tokenizer": "first_pass_tokenizer.json",
        "calibration": None if calibration is None else {"scale": calibration.scale, "bias": calibration.bias},
        "keep": keep,
    }


def browser_model(folder: Path, name: str, *, cache_dir: Path | None) -> bytes:
    """The ONNX file the browser runs, with the arithmetic of the model's default Python backend: static int8
    where the folder ships activation scales (the built-in models), else float32 (int8-only weights kept
    8-bit behind `DequantizeLinear`; any other model its float32 ONNX file, exported if needed)."""
    from crossrank.backends import default_backend
    from crossrank.backends.onnx import arithmetic_of, runtime_graph
    from crossrank.export.onnx import onnx_file
    from crossrank.models import ships_int8_only

    int8 = folder / "onnx" / "model_int8.onnx"
    if default_backend(folder) == "onnx-int8":
        graph = runtime_graph(int8, arithmetic_of(int8, quantized=True), int8_weights=True)
    elif ships_int8_only(folder):
        graph = runtime_graph(int8, "float32", int8_weights=True, keep_int8_weights=True)
    else:
        graph = runtime_graph(
            onnx_file(folder, name, quantized=False, cache_dir=cache_dir), "float32", int8_weights=False
        )
    return graph.read_bytes() if isinstance(graph, Path) else graph
