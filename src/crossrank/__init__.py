"""crossrank: fast cross-encoder reranking on CPU."""

from crossrank.backends import BACKENDS
from crossrank.errors import BackendUnavailable, CrossrankError, InputError, ModelError, QueryTruncatedWarning
from crossrank.reranker import Reranker
from crossrank.types import Document, ModelSpec, RankedResult

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "BackendUnavailable",
    "CrossrankError",
    "Document",
    "InputError",
    "ModelError",
    "ModelSpec",
    "QueryTruncatedWarning",
    "RankedResult",
    "Reranker",
    "__version__",
]
