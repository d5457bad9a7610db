"""PyTorch and `transformers` at arm's length: the one check that they are installed, and quiet loading.

Both are optional (`crossrank[torch]`); the core install runs ONNX models without them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from crossrank.errors import BackendUnavailable


def require_torch(feature: str) -> None:
    """Import torch and transformers, or raise `BackendUnavailable` naming `feature` and the extra to install."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable(feature, "torch", exc.name or "torch") from exc


@contextmanager
def hf_quiet() -> Iterator[None]:
    """Silence transformers' weight-loading bars and load reports for the duration; restore after."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
