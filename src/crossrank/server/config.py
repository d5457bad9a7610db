"""A server's settings (`ServerConfig`), declared once: the defaults of `crossrank serve`'s options are these
fields' defaults. No web framework is imported here, so the CLI can read them without the server extra."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from crossrank.errors import InputError


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Limits and switches of one server; the OpenAPI document states the same limits."""

    max_documents: int = 1000
    max_request_bytes: int = 4_000_000
    max_query_chars: int = 10_000
    request_timeout_s: float = 60.0
    max_queue: int = 64
    max_batch_tokens: int = 65_536
    api_key: str | None = None
    cors_origins: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Every limit a positive, finite number (a NaN or zero timeout would fail every request)."""
        for name in ("max_documents", "max_request_bytes", "max_query_chars", "max_queue", "max_batch_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        timeout = self.request_timeout_s
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            raise InputError(f"request_timeout_s must be a positive number of seconds, got {timeout!r}")


def default(name: str) -> object:
    """The default of one `ServerConfig` field (what `crossrank serve` shows and uses)."""
    return next(f.default for f in fields(ServerConfig) if f.name == name)
