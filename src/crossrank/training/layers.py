"""Which weights a training run moves: with `--train-layers N`, the top N encoder layers, the pooler and the
head; the embeddings and every lower layer keep the base's weights."""

from __future__ import annotations

from typing import Any

from crossrank.errors import InputError


def freeze_below(model: Any, *, top_layers: int | None) -> None:
    """Leave only the top `top_layers` encoder layers, the pooler and the head trainable: the embeddings and
    every lower layer keep the base's weights, so a large base trains in a fraction of the time (no backward
    pass through the frozen part, no optimizer state for it)."""
    if top_layers is None:  # every weight trains
        return
    prefix = model.base_model_prefix
    layers = len(model.base_model.encoder.layer)
    if top_layers > layers:
        raise InputError(f"--train-layers {top_layers}: the model has {layers} encoder layers")
    trained = tuple(f"{prefix}.encoder.layer.{i}." for i in range(layers - top_layers, layers))
    for name, param in model.named_parameters():
        in_base = name.startswith(f"{prefix}.")
        param.requires_grad = not in_base or name.startswith(trained) or f"{prefix}.pooler." in name
