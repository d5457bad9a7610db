"""Find a cross-encoder (local folder, hub id, or the built-in default) and read its config.

The model kind comes from the model's own config (`architectures`, `id2label`), never from its name.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from crossrank.errors import ModelError
from crossrank.types import ModelSpec

# Files fetched from the hub: configs, tokenizer files and weights, not every ONNX variant a repo carries.
HUB_PATTERNS = ["*.json", "*.txt", "*.model", "model.safetensors", "onnx/model.onnx"]
# Position-embedding slots that RoBERTa-family models reserve for padding (ids start at pad_token_id + 1).
_POSITION_OFFSET = {"roberta": 2, "xlm-roberta": 2, "camembert": 2, "xlm-roberta-xl": 2}


BUILT_IN = {"crossrank-default": "default_model", "crossrank-tiny": "tiny_model"}
"""crossrank's own models, shipped inside the package, by name; `None` means crossrank-default."""


def built_in_dir(name: str = "crossrank-default") -> Path:
    """The folder of a built-in model inside the package (see `BUILT_IN`)."""
    return Path(str(resources.files("crossrank") / BUILT_IN[name]))


def is_built_in(folder: Path) -> bool:
    """Whether `folder` is one of the built-in models shipped inside the package."""
    return any(folder.resolve() == built_in_dir(name).resolve() for name in BUILT_IN)


def default_model_dir() -> Path:
    """The built-in cross-encoder used when no model is named."""
    return built_in_dir("crossrank-default")


def display_name(model: str | Path | None) -> str:
    """How a model is named in output: "crossrank-default" for the built-in, else its folder or hub id basename."""
    return "crossrank-default" if model is None else str(model).rstrip("/").rsplit("/", 1)[-1]


def resolve_model(model: str | Path | None) -> Path:
    """Return a local folder for `model`: a built-in name (None is crossrank-default), a path, or a hub id.

    The built-in names are reserved: `crossrank-tiny` is the shipped model even where a folder of that name exists
    (write `./crossrank-tiny` for the folder).
    """
    name = "crossrank-default" if model is None else str(model)
    if name in BUILT_IN:
        path = built_in_dir(name)
        if not (path / "config.json").is_file():
            raise ModelError(
                f"the built-in model {name} is not installed in this copy of crossrank; pass a model folder or "
                "hub id (--model PATH)"
            )
        return path
    return resolve_local(model) or _download(str(model))


def resolve_local(model: str | Path | None) -> Path | None:
    """`resolve_model` without the hub: the folder of a built-in name or a path, None for a hub id (which would
    need a download), `ModelError` for a path that cannot be a model. Lets a command refuse a mistyped folder at
    once, before it starts anything."""
    name = "crossrank-default" if model is None else str(model)
    if name in BUILT_IN:
        return resolve_model(name)
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelError(f"model {str(model)!r} is a file; crossrank needs a model folder or a hub id")
    text = str(model)
    if text.startswith((".", "/", "~")) or text.count("/") > 1 or not text.strip():
        raise ModelError(f"model folder {text!r} does not exist")
    return None


def _download(repo_id: str) -> Path:
    """Fetch a hub model into the Hugging Face cache (reusing a cached copy when offline)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, allow_patterns=HUB_PATTERNS, local_files_only=True))
    except Exception:  # noqa: BLE001 - not cached yet: fall through to the network
        pass
    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=HUB_PATTERNS))
    except Exception as exc:  # noqa: BLE001 - every hub failure becomes one clear message
        raise ModelError(
            f"could not load model {repo_id!r}: it is not a local folder and the Hugging Face hub "
            f"did not provide it ({type(exc).__name__}). On an offline machine, leave --model out to "
            "use crossrank's built-in default, or pass a downloaded model folder with --model PATH"
        ) from exc
    if not (folder / "model.safetensors").exists() and not (folder / "onnx" / "model.onnx").exists():
        try:
            snapshot_download(repo_id, allow_patterns=["pytorch_model.bin"])
        except Exception as exc:  # noqa: BLE001
            raise ModelError(f"model {repo_id!r} has no weights crossrank can read") from exc
    return folder


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path} does not hold a JSON object")
    return data


def read_spec(folder: Path, *, name: str | None = None, max_length: int | None = None) -> ModelSpec:
    """Read what the reranker needs from a model folder and refuse anything that is not a cross-encoder."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelError(f"{folder} has no config.json; it is not a Hugging Face model folder")
    config = _read_json(config_path)
    architectures = config.get("architectures") or []
    if not any(str(a).endswith("ForSequenceClassification") for a in architectures):
        raise ModelError(
            f"{folder} is not a sequence-classification model (architectures: {architectures or 'none'}); "
            "a cross-encoder reranker needs a *ForSequenceClassification model"
        )
    id2label = config.get("id2label") or {}
    num_labels = len(id2label) if id2label else int(config.get("num_labels", 2))
    if num_labels not in (1, 2):
        raise ModelError(
            f"{folder} has {num_labels} output labels; crossrank scores relevance with one logit "
            "(sigmoid) or two (softmax, positive class 1)"
        )
    activation = "sigmoid" if num_labels == 1 else "softmax"
    st_activation = str((config.get("sentence_transformers") or {}).get("activation_fn", ""))
    if num_labels == 1 and st_activation.endswith("Identity"):
        activation = "identity"

    model_type = str(config.get("model_type", "unknown"))
    limit = _position_limit(config, model_type)
    model_max = _declared_max_length(folder)
    window = min(x for x in (limit, model_max) if x is not None) if (limit or model_max) else 512
    if max_length is not None:
        if max_length < 8:
            raise ModelError(f"max_length must be at least 8 tokens, got {max_length}")
        if limit is not None and max_length > limit:
            raise ModelError(f"max_length={max_length} exceeds the model's {limit} position embeddings")
        window = max_length
    return ModelSpec(
        path=str(folder),
        name=name or folder.resolve().name,
        model_type=model_type,
        num_labels=num_labels,
        max_length=window,
        activation=activation,
    )


def _position_limit(config: dict[str, Any], model_type: str) -> int | None:
    positions = config.get("max_position_embeddings")
    if not isinstance(positions, int):
        return None
    return positions - _POSITION_OFFSET.get(model_type, 0)


def _declared_max_length(folder: Path) -> int | None:
    """The window the model was trained with, as its tokenizer or sentence-transformers config says."""
    found: list[int] = []
    tokenizer_max = _read_json(folder / "tokenizer_config.json").get("model_max_length")
    if isinstance(tokenizer_max, int | float) and 0 < tokenizer_max < 100_000:
        found.append(int(tokenizer_max))
    st_max = _read_json(folder / "sentence_bert_config.json").get("max_seq_length")
    if isinstance(st_max, int) and st_max > 0:
        found.append(st_max)
    return min(found) if found else None


def ships_int8_only(folder: Path) -> bool:
    """True for a folder whose only weights are an int8 ONNX file (like the built-in model)."""
    return (
        (folder / "onnx" / "model_int8.onnx").is_file()
        and not (folder / "onnx" / "model.onnx").is_file()
        and not has_torch_weights(folder)
    )


def has_torch_weights(folder: Path) -> bool:
    """Whether `folder` holds PyTorch weights in one file (`model.safetensors` or `pytorch_model.bin`)."""
    return any((folder / f).is_file() for f in ("model.safetensors", "pytorch_model.bin"))
