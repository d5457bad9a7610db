"""An exact cache of document scores, one per engine (so per model, backend and calibration: a cache never serves
another model's or setting's score).

A document's score is a function of its model inputs alone (its windows' token ids, which hold the query, the
document and the window settings) on a backend whose batches keep bits (float32 and static int8 ONNX: the same
bits in any batch; dynamic int8: one pair per pass). So the key is a digest of those ids and whether the score
is raw, and a cached score is the score, bit for bit. RAG pipelines send the same pairs again and again.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crossrank.errors import InputError

ENTRY_BYTES = 256
"""What one cached score costs in memory, counted generously so the bound holds (measured with tracemalloc: 236
bytes for the digest key, the (score, window) pair and the ordered dict's share)."""


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Counts since the cache was made, and what it holds now."""

    hits: int
    misses: int
    evictions: int
    entries: int

    @property
    def bytes(self) -> int:
        return self.entries * ENTRY_BYTES


class ScoreCache:
    """A least-recently-used map from a document's inputs to its score, at most `max_entries` long; thread-safe
    (a server's batcher and the threads of a library caller may share one)."""

    def __init__(self, max_entries: int) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise InputError(f"cache_size must be a positive integer or None, got {max_entries!r}")
        self.max_entries = max_entries
        self._scores: OrderedDict[bytes, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = self._evictions = 0

    @staticmethod
    def key(inputs: Sequence[Sequence[int]], *, raw: bool) -> bytes:
        """The key of one document: its inputs' ids (every window, in order) and whether the score is raw."""
        digest = hashlib.blake2b(b"raw" if raw else b"score", digest_size=16)
        for ids in inputs:
            digest.update(len(ids).to_bytes(4, "little"))
            digest.update(np.asarray(ids, dtype=np.int32).tobytes())
        return digest.digest()

    def get_many(self, keys: Sequence[bytes]) -> list[tuple[float, int] | None]:
        """Each key's (score, window it came from), or None; hits become the most recently used."""
        found: list[tuple[float, int] | None] = []
        with self._lock:
            for key in keys:
                score = self._scores.get(key)
                if score is None:
                    self._misses += 1
                else:
                    self._hits += 1
                    self._scores.move_to_end(key)
                found.append(score)
        return found

    def put_many(self, items: Sequence[tuple[bytes, tuple[float, int]]]) -> None:
        """Keep these scores, dropping the least recently used beyond `max_entries`."""
        with self._lock:
            for key, score in items:
                self._scores[key] = score
                self._scores.move_to_end(key)
            while len(self._scores) > self.max_entries:
                self._scores.popitem(last=False)
                self._evictions += 1

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, self._evictions, len(self._scores))


def entries_for(megabytes: float) -> int:
    """How many scores fit in `megabytes` of memory (at least one)."""
    return max(1, int(megabytes * 1_000_000 // ENTRY_BYTES))
