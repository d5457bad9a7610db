"""The installed crossrank's version: declared once, in pyproject.toml, and read from the package's metadata."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def crossrank_version() -> str:
    """The version pip installed (`0+unknown` for a source tree that was never installed)."""
    try:
        return version("crossrank")
    except PackageNotFoundError:
        return "0+unknown"
