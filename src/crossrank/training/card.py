"""The adapted model's card (README.md in its folder): what it is, what it learned from, how long it took and
whose licences it carries, the query generator's included."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from crossrank.cascade import FIRST_PASS_FOLDER
from crossrank.outputs import write_atomic
from crossrank.training.generate import GENERATOR, GENERATOR_LICENCE

QUERIES = {
    "rules": "titles, headings and inverse-cloze sentences",
    "generated": f"written by {GENERATOR} and filtered",
    "both": f"titles, headings, inverse-cloze sentences, and queries written by {GENERATOR}",
}
"""How each `--queries` choice made the pseudo-queries, as the card says it."""

if TYPE_CHECKING:
    from crossrank.training.adapt import AdaptConfig
    from crossrank.training.trainer import EpochResult


def write_card(
    out: Path,
    config: AdaptConfig,
    *,
    documents: int,
    groups: int,
    histories: dict[str, list[EpochResult]],
    minutes: str,
) -> None:
    """README.md: what the model is, what it learned from, how long it took and whose licences it carries."""
    base_licence = {
        "default": "crossrank-default: CC BY-NC (trained on data with non-commercial terms)",
        "minilm": "all-MiniLM-L6-v2: Apache-2.0",
    }.get(config.base, f"{config.base}: see its own licence")
    lines = [
        "---",
        "library_name: crossrank",
        "pipeline_tag: text-ranking",
        "tags: [cross-encoder, reranker, crossrank-adapt]",
        "---",
        "",
        f"# Adapted reranker for {Path(config.docs).name}",
        "",
        f"Made by `crossrank adapt` from {documents} documents alone ({groups} pseudo-queries:",
        f"{QUERIES[config.queries]}; {config.negatives} BM25 hard negatives each; teachers "
        f"{', '.join(config.teacher_names)}), in {minutes} minutes. No queries or judgements were used.",
        "",
        f"- Full model: from `{config.base}`; first pass (`{FIRST_PASS_FOLDER}/`): from `{config.first_pass_base}`.",
        f"- Licence lineage: {base_licence}; teachers: {teacher_licences(config.teacher_names)};",
        *([f"  query generator: {GENERATOR_LICENCE};"] if config.queries != "rules" else []),
        "  the documents: their owner's terms.",
        "",
        "| model | epochs | held-out MRR | seconds |",
        "|---|---:|---:|---:|",
    ]
    for label, history in histories.items():
        if history:
            last = history[-1]
            lines.append(f"| {label} | {last.epoch} | {last.heldout_mrr:.3f} | {sum(h.seconds for h in history):.0f} |")
    write_atomic(out / "README.md", "\n".join(lines) + "\n")


def teacher_licences(teachers: Sequence[str]) -> str:
    from crossrank.training.teachers import teacher_weights

    known = {
        "biencoder": "all-MiniLM-L6-v2 (Apache-2.0)",
        "bm25": "BM25 (no weights)",
        "default": "crossrank-default (CC BY-NC)",
        "mpnet": "all-mpnet-base-v2 (Apache-2.0)",
    }
    names = teacher_weights(teachers)  # the teachers by name ("default:2" is the built-in model, weighted)
    return ", ".join(known.get(t, f"{t} (see its package)") for t in names)
