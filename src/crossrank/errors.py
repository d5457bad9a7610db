"""One exception hierarchy: every error crossrank raises on purpose is a `CrossrankError`."""

from __future__ import annotations


class CrossrankError(Exception):
    """Base class of every error crossrank raises on purpose."""


class ModelError(CrossrankError):
    """A model cannot be found, downloaded, or is not a usable cross-encoder."""


class InputError(CrossrankError, ValueError):
    """The caller passed something crossrank cannot score (the message names the item).

    `item` locates a bad query or document for callers that name it their own way (the server's `documents.3`):
    ("query", None) or ("documents", 3); `where` is how the message names it (`documents[3]`)."""

    def __init__(self, message: str, *, item: tuple[str, int | None] | None = None, where: str = "") -> None:
        super().__init__(message)
        self.item, self.where = item, where


class MissingExtra(CrossrankError):
    """A feature (a backend, the server, plots, an adapter, the query generator) needs an optional dependency
    that is not installed; the message names the extra (or command) that brings it."""

    def __init__(self, backend: str, extra: str | None, missing: str, *, remedy: str | None = None) -> None:
        """`extra` names the optional extra that brings `missing`; None for a core dependency (a broken install);
        `remedy` replaces the install line where one extra cannot bring it."""
        self.backend = backend
        self.extra = extra
        self.missing = missing
        remedy = remedy or (
            f"install it with: pip install 'crossrank[{extra}]'"
            if extra
            else "it is part of crossrank's core install; reinstall it with: pip install --force-reinstall crossrank"
        )
        super().__init__(f"backend {backend!r} needs the Python package {missing!r}, which is not installed; {remedy}")


class QueryTruncatedWarning(UserWarning):
    """A query was longer than the model window allows and was cut."""


class OutputRefused(InputError):
    """A command was asked to write where it would destroy something it did not make."""


class IndexUnusable(InputError):
    """An index that cannot be used as it is (missing, corrupt, or built with other settings)."""


class Overloaded(CrossrankError):
    """The server's queue is full; the client should retry later."""


class Cancelled(CrossrankError):
    """Scoring was stopped at a batch boundary because nobody waits for its result any more."""


BackendUnavailable = MissingExtra
"""The name `MissingExtra` had before it said what it is (kept so callers' `except` clauses still work)."""
