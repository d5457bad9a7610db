"""Dynamic batching: encoded requests queue up; one worker scores the pairs of several requests together.

Requests arrive already tokenized (`Reranker.encode`, run off the event loop), each queue entry carrying its
token count. The worker takes waiting requests in arrival order while their tokens fit `max_batch_tokens` and
scores them in one `rerank_encoded` call (which spreads the pairs over the reranker's threads), one call at a
time, so concurrent requests share the workers. A request whose client gave up (timed out or disconnected) costs
nothing more: before its turn it is skipped, and a batch whose every request has gone stops before its next
forward pass. If a shared batch fails, its requests are scored again one by one, so only the request that caused
the failure receives it; nothing waits forever. A full queue raises `Overloaded`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from crossrank.encoded import EncodedQuery
from crossrank.errors import Cancelled, Overloaded
from crossrank.ranking import Ranking
from crossrank.reranker import Reranker


@dataclass
class Job:
    """One request in the queue: its encoded pairs, how many tokens they hold, and who waits for them.
    `gone` is set (on the event loop) once the future is done, answered or given up; the inference thread
    reads it to stop work nobody waits for."""

    encoded: EncodedQuery
    raw: bool
    tokens: int
    future: asyncio.Future[Ranking] = field(repr=False)
    gone: threading.Event = field(default_factory=threading.Event, repr=False)


@dataclass(frozen=True, slots=True)
class BatchStats:
    requests: int
    pairs: int
    tokens: int


class Batcher:
    """Owns the queue and the single inference worker for one `Reranker`."""

    def __init__(
        self,
        reranker: Reranker,
        *,
        max_queue: int = 64,
        max_batch_tokens: int = 65_536,
        on_batch: Callable[[BatchStats], None] | None = None,
        on_dropped: Callable[[int], None] | None = None,
    ) -> None:
        self.reranker = reranker
        self.max_batch_tokens = max_batch_tokens
        self.queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=max_queue)
        self.on_batch = on_batch
        self.on_dropped = on_dropped  # told how many requests' work was dropped because nobody waited
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

    async def submit(self, encoded: EncodedQuery, *, raw: bool) -> Ranking:
        """Queue one encoded request and wait for its ranking (cancel-safe: a gone client's job is skipped)."""
        tokens = encoded.tokens
        job = Job(encoded, raw, tokens, asyncio.get_running_loop().create_future())
        job.future.add_done_callback(lambda _: job.gone.set())
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            raise Overloaded(f"the server is busy ({self.queue.maxsize} requests queued); retry shortly") from None
        return await job.future

    async def _run(self) -> None:
        carry: Job | None = None  # taken from the queue but left for the next batch (it did not fit)
        while True:
            jobs = [carry if carry is not None else await self.queue.get()]
            carry = None
            tokens = jobs[0].tokens
            while not self.queue.empty():
                nxt = self.queue.get_nowait()
                if tokens + nxt.tokens > self.max_batch_tokens or nxt.raw != jobs[0].raw:
                    carry = nxt
                    break
                jobs.append(nxt)
                tokens += nxt.tokens
            live = [j for j in jobs if not j.future.done()]
            self._dropped(len(jobs) - len(live))
            try:
                if live:
                    await self._score_isolated(live)
            finally:
                for _ in jobs:
                    self.queue.task_done()

    async def _score_isolated(self, jobs: list[Job]) -> None:
        """Score the jobs together; if that fails, each alone, so a failure reaches only its own request."""
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self._executor, self._score, jobs)
        except Cancelled:  # every request of the batch has gone
            self._dropped(len(jobs))
            return
        except Exception as exc:  # noqa: BLE001 - retried one by one below, or delivered to its request
            if len(jobs) == 1:
                if not jobs[0].future.done():
                    jobs[0].future.set_exception(exc)
                return
            for job in jobs:
                await self._score_isolated([job])
            return
        if self.on_batch is not None:
            pairs = sum(j.encoded.documents for j in jobs)
            self.on_batch(BatchStats(requests=len(jobs), pairs=pairs, tokens=sum(j.tokens for j in jobs)))
        for job, ranked in zip(jobs, results, strict=True):
            if not job.future.done():
                job.future.set_result(ranked)

    def _score(self, jobs: list[Job]) -> list[Ranking]:
        """Runs on the inference thread: all jobs' pairs share the reranker's workers; stops once all have gone."""

        def nobody_waits() -> bool:
            return all(j.gone.is_set() for j in jobs)

        return self.reranker.rerank_encoded([j.encoded for j in jobs], raw=jobs[0].raw, should_stop=nobody_waits)

    def _dropped(self, count: int) -> None:
        if count and self.on_dropped is not None:
            self.on_dropped(count)
