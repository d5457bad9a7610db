"""Dynamic micro-batching: requests queue up; one worker scores the pairs of several requests together.

Requests wait in a bounded asyncio queue (full -> `Overloaded`, answered 503 with Retry-After). The worker
takes as many waiting requests as fit `max_pairs` and scores them in one `rerank_batch` call (which spreads
its batches over the reranker's threads), one call at a time, so concurrent requests share forward passes.
A request whose client gave up before its turn is skipped. If a shared batch fails, its requests are scored
again one by one, so only the request that caused the failure receives it; nothing waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from crossrank.errors import CrossrankError
from crossrank.reranker import Reranker
from crossrank.types import RankedResult


class Overloaded(CrossrankError):
    """The queue is full; the client should retry later."""


@dataclass
class Job:
    query: str
    documents: list[str]
    raw: bool
    future: asyncio.Future[list[RankedResult]] = field(repr=False)


@dataclass(frozen=True, slots=True)
class BatchStats:
    requests: int
    pairs: int


class Batcher:
    """Owns the queue and the single inference worker for one `Reranker`."""

    def __init__(
        self,
        reranker: Reranker,
        *,
        max_queue: int = 64,
        max_pairs: int = 512,
        on_batch: Callable[[BatchStats], None] | None = None,
    ) -> None:
        self.reranker = reranker
        self.max_pairs = max_pairs
        self.queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=max_queue)
        self.on_batch = on_batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crossrank-infer")
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Finish what is queued, then stop the worker."""
        await self.queue.join()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        self._executor.shutdown(wait=True)

    def depth(self) -> int:
        return self.queue.qsize()

    async def submit(self, query: str, documents: list[str], *, raw: bool) -> list[RankedResult]:
        """Queue one request and wait for its ranking (cancel-safe: a gone client's job is skipped)."""
        job = Job(query, documents, raw, asyncio.get_running_loop().create_future())
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            raise Overloaded(f"the server is busy ({self.queue.maxsize} requests queued); retry shortly") from None
        return await job.future

    def _score(self, jobs: list[Job]) -> list[list[RankedResult]]:
        """Runs on the inference thread: all jobs' pairs share the reranker's length-sorted batches."""
        return self.reranker.rerank_batch(
            [j.query for j in jobs], [j.documents for j in jobs], raw=jobs[0].raw, return_documents=False
        )

    async def _run(self) -> None:
        carry: Job | None = None  # taken from the queue but left for the next batch (it did not fit)
        while True:
            jobs = [carry if carry is not None else await self.queue.get()]
            carry = None
            pairs = len(jobs[0].documents)
            while not self.queue.empty():
                nxt = self.queue.get_nowait()
                if pairs + len(nxt.documents) > self.max_pairs or nxt.raw != jobs[0].raw:
                    carry = nxt
                    break
                jobs.append(nxt)
                pairs += len(nxt.documents)
            live = [j for j in jobs if not j.future.done()]
            try:
                if live:
                    await self._score_isolated(live)
            finally:
                for _ in jobs:
                    self.queue.task_done()

    async def _score_isolated(self, jobs: list[Job]) -> None:
        """Score the jobs together; if that fails, each alone, so a failure reaches only the request that
        caused it (and every waiting request hears of its own outcome: nothing hangs)."""
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._executor, self._score, jobs)
        except Exception as exc:  # noqa: BLE001 - retried one by one below, or delivered
            if len(jobs) == 1:
                if not jobs[0].future.done():
                    jobs[0].future.set_exception(exc)
                return
            for job in jobs:
                await self._score_isolated([job])
            return
        if self.on_batch is not None:
            self.on_batch(BatchStats(requests=len(jobs), pairs=sum(len(j.documents) for j in jobs)))
        for job, ranked in zip(jobs, results, strict=True):
            if not job.future.done():
                job.future.set_result(ranked)
