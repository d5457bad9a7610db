"""Batch chunks on Ray: every pending chunk a row of a Ray Data dataset mapped by a pool of actors, each loading
the model once; an actor that dies is restarted and its chunk retried, and a retried chunk rewrites the same
part. Ray runs for the length of one job and never talks to the user's terminal."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from crossrank.batch.rows import BatchJob, Workers, job_from_dict, part_path, score_chunk, write_part
from crossrank.errors import InputError, MissingExtra


class _ChunkActor:
    """A Ray Data actor: loads the model once, then scores whole chunks and writes their parts itself."""

    def __init__(self, rows: str, parts: str, job: dict[str, Any]) -> None:
        self.rows, self.parts = Path(rows), Path(parts)
        self.job = job_from_dict(job)
        self.reranker = self.job.model.load()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        written = []
        for start, offset, line in zip(batch["start"], batch["offset"], batch["line"], strict=True):
            records, _ = score_chunk(self.reranker, self.rows, int(start), int(offset), int(line), self.job)
            write_part(self.parts, int(start), records)
            written.append(int(start))
        return {"start": written}


def run_ray(rows: Path, parts: Path, todo: Sequence[tuple[int, int, int]], job: BatchJob, workers: Workers) -> None:
    """The pending chunks as a Ray Data dataset mapped by a pool of actors. The rows file and
    the output folder must be reachable at the same path from every node (local disk on one machine, a shared
    file system on a cluster)."""
    try:
        import ray
    except ImportError as exc:
        raise MissingExtra("ray", "ray", "ray") from exc
    if not todo:
        return
    with ray_session(ray, workers.ray_address, log=parts.parent / RAY_LOG):
        _map_chunks(ray, rows, parts, todo, job, workers)


RAY_LOG = "ray.log"
"""Where Ray's own messages go (in the output folder): its C++ core writes to the process's stderr directly."""


@contextmanager
def ray_session(ray: Any, address: str | None, *, log: Path) -> Iterator[None]:
    """Ray for the length of one job: started (or joined) here and shut down on every way out, Ctrl-C included,
    so no Ray process outlives the command; Ray's log lines go to `log`, not to the user's terminal, and Ray Data
    draws no progress bars. Ctrl-C during start-up is held until `ray.init` returns (interrupting it crashed the
    process) and then raised as `KeyboardInterrupt`."""
    started = not ray.is_initialized()
    if started and address not in (None, "local", "auto"):
        check_reachable(address)  # Ray itself retries an unreachable address for minutes, saying nothing
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "ab") as sink:
        os.dup2(sink.fileno(), 2)
    try:
        if started:
            with _ctrl_c_held():
                ray.init(
                    address=None if address == "local" else address,
                    log_to_driver=False,
                    logging_level=logging.WARNING,
                    include_dashboard=False,
                )
        ray.data.DataContext.get_current().enable_progress_bars = False  # one line per task on stderr otherwise
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        yield
    finally:
        try:
            if started:
                ray.shutdown()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def check_reachable(address: str, *, timeout_s: float = 5.0) -> None:
    """Refuse a cluster address nothing answers on within `timeout_s`, naming it (`host:port` or `ray://...`)."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray {address!r}: a cluster address is HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else exc.strerror or type(exc).__name__
        raise InputError(
            f"cannot reach a Ray cluster at {address} ({reason} within {timeout_s:g} s); start one there with "
            "`ray start --head`, or give --ray without an address for a Ray on this machine"
        ) from None


@contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Ctrl-C inside the block is remembered, not raised, and raised as `KeyboardInterrupt` when the block ends
    (however it ends). Only in the main thread, where Python handles signals; elsewhere a plain block."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    except Exception:
        if not pressed:
            raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def _map_chunks(
    ray: Any, rows: Path, parts: Path, todo: Sequence[tuple[int, int, int]], job: BatchJob, workers: Workers
) -> None:
    """Score the pending chunks on Ray Data, one chunk a row, mapped by a pool of `_ChunkActor`s."""
    threads = max(1, int(workers.cpus_per_actor))
    settings = asdict(job)
    settings["model"] = {**settings["model"], "threads": threads}
    dataset = ray.data.from_items([{"start": s, "offset": o, "line": n} for s, o, n in todo])
    mapped = dataset.map_batches(
        _ChunkActor,
        fn_constructor_kwargs={"rows": str(rows), "parts": str(parts), "job": settings},
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=workers.actors),
        num_cpus=workers.cpus_per_actor,
    )  # Ray Data restarts a dead actor and retries its chunk (max_restarts / max_task_retries default to -1)
    finished = {int(row["start"]) for row in mapped.iter_rows()}
    missing = [s for s, _, _ in todo if s not in finished or not part_path(parts, s).is_file()]
    if missing:
        raise RuntimeError(f"Ray finished without chunks starting at rows {missing[:5]}")
