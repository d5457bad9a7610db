"""crossrank: fast cross-encoder reranking on CPU."""

from crossrank.backends import BACKENDS
from crossrank.errors import (
    BackendUnavailable,
    CrossrankError,
    InputError,
    MissingExtra,
    ModelError,
    QueryTruncatedWarning,
)
from crossrank.reranker import Reranker
from crossrank.types import Document, ModelSpec, RankedResult
from crossrank.version import crossrank_version


def __getattr__(name: str) -> str:
    """`crossrank.__version__`, read from the installed package's metadata when asked (pyproject.toml states it)."""
    if name == "__version__":
        return crossrank_version()
    raise AttributeError(f"module 'crossrank' has no attribute {name!r}")


__all__ = [
    "BACKENDS",
    "BackendUnavailable",
    "CrossrankError",
    "Document",
    "InputError",
    "MissingExtra",
    "ModelError",
    "ModelSpec",
    "QueryTruncatedWarning",
    "RankedResult",
    "Reranker",
    "__version__",
]
