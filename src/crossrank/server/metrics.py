"""Prometheus metrics in a registry of the app's own (no process-global state)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from crossrank.score_cache import CacheStats
from crossrank.server.batcher import BatchStats


class CacheCollector(Collector):
    """The score caches' counts, read when Prometheus scrapes: hits, misses and evictions (counters) and the
    bytes held (a gauge), one series per model of the served reranker (a cascade has two)."""

    def __init__(self, caches: Callable[[], dict[str, CacheStats]]) -> None:
        self.caches = caches

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        found = self.caches()
        families = {
            "hits": CounterMetricFamily(
                "crossrank_cache_hits", "document scores served from the cache", labels=["model"]
            ),
            "misses": CounterMetricFamily("crossrank_cache_misses", "document scores computed", labels=["model"]),
            "evictions": CounterMetricFamily(
                "crossrank_cache_evictions", "scores dropped to keep the memory bound", labels=["model"]
            ),
        }
        held = GaugeMetricFamily("crossrank_cache_bytes", "memory the cached scores take", labels=["model"])
        for model, stats in found.items():
            for name, family in families.items():
                family.add_metric([model], getattr(stats, name))
            held.add_metric([model], stats.bytes)
        yield from families.values()
        yield held


class Metrics:
    def __init__(self, caches: Callable[[], dict[str, CacheStats]] = dict) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(CacheCollector(caches))
        self.requests = Counter("crossrank_requests", "HTTP requests", ["path", "status"], registry=self.registry)
        self.latency = Histogram(
            "crossrank_request_seconds",
            "request latency",
            ["path"],
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.batch_requests = Histogram(
            "crossrank_batch_requests",
            "requests scored together in one batch",
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64),
        )
        self.batch_pairs = Histogram(
            "crossrank_batch_pairs",
            "pairs per batch",
            registry=self.registry,
            buckets=(1, 8, 32, 64, 128, 256, 512, 1024),
        )
        self.batch_tokens = Histogram(
            "crossrank_batch_tokens",
            "tokens per batch",
            registry=self.registry,
            buckets=(256, 1024, 4096, 16384, 65536, 262144),
        )
        self.pairs = Counter("crossrank_pairs_scored", "query-document pairs scored", registry=self.registry)
        self.dropped = Counter(
            "crossrank_requests_dropped",
            "requests whose scoring was skipped or stopped because the client timed out or disconnected",
            registry=self.registry,
        )
        self.disconnected = Counter(
            "crossrank_client_disconnects", "requests whose client closed the connection first", registry=self.registry
        )
        self.model_requests = Counter(
            "crossrank_model_requests", "rerank requests answered, by served model", ["model"], registry=self.registry
        )
        self.queue_depth = Gauge("crossrank_queue_depth", "requests waiting", registry=self.registry)

    def record_dropped(self, count: int) -> None:
        self.dropped.inc(count)

    def record_batch(self, stats: BatchStats) -> None:
        self.batch_requests.observe(stats.requests)
        self.batch_pairs.observe(stats.pairs)
        self.batch_tokens.observe(stats.tokens)
        self.pairs.inc(stats.pairs)
