"""The cascade's quality and latency: crossrank-tiny scores all candidates, the built-in model re-scores the best K.

For each collection (BM25 top-100): nDCG@10 of BM25, crossrank-tiny alone, the built-in model alone and the
cascade at every K, with paired tests against the built-in model and BM25. The cascade's rankings are assembled
from the two models' scores of every candidate: a pair's score does not depend on what else is scored with it
(the ONNX backends run one pair per pass), so this equals running the cascade, which the latency section does on
the first queries and checks. Latency: p50 / p95 to rank one query's 100 candidates, with sentence-transformers'
CrossEncoder on the built-in model's fp32 weights as the reference. Everything on one machine, in one run.

    .venv/bin/python benchmarks/cascade.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from crossrank import Reranker
from crossrank.cache import content_key
from crossrank.corpora import Dataset, load_dataset
from crossrank.evaluation.harness import build_retrievers, percentile
from crossrank.evaluation.metrics import mean, paired_test, per_query
from crossrank.fusion import fuse_with_first_stage
from crossrank.machine import describe
from crossrank.outputs import write_atomic
from crossrank.types import Run

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"


def candidates(data: Dataset, k: int) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Judged queries and their BM25 top-k document ids."""
    queries = data.judged_queries()
    bm25 = build_retrievers(data, ["bm25"])["bm25"]
    doc_ids = list(data.corpus)
    hits = bm25.retrieve(list(queries.values()), k=k)
    return queries, {q: [doc_ids[p] for p in h.positions.tolist()] for q, h in zip(queries, hits, strict=True)}


def all_scores(
    reranker: Reranker, data: Dataset, queries: dict[str, str], shortlist: dict[str, list[str]], cache: Path
) -> Run:
    """The reranker's score of every candidate of every query, kept in `cache` (a pair's score never changes:
    one pair per pass), so a rerun of the benchmark scores nothing twice; keyed by the model's weights, so a
    new version of a built-in model is scored afresh."""
    weights = content_key(Path(reranker.spec.path).rglob("*.onnx"))[:12]
    depth = len(next(iter(shortlist.values())))
    path = cache / f"{data.name.replace('/', '-')}-{data.checksum}-{reranker.name}-{weights}-{depth}.json"
    kept: Run = json.loads(path.read_text()) if path.is_file() else {}
    missing = [qid for qid in queries if qid not in kept]
    for qid in missing:  # a run over a subset of the queries leaves the others to score later
        texts = [data.corpus[d].full_text for d in shortlist[qid]]
        kept[qid] = dict(zip(shortlist[qid], reranker.score([(queries[qid], t) for t in texts]), strict=True))
    if missing:
        cache.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(kept))
    return {qid: kept[qid] for qid in queries}


def cascade_run(
    first: Run, full: Run, shortlist: dict[str, list[str]], keep: int, *, fuse_with: dict[str, list[str]] | None = None
) -> Run:
    """The cascade's ranking: the best `keep` by `first` (`fuse_with`: by `first`'s order fused with that input
    order, as `rerank(..., ranked_input=True)` keeps them), ordered by `full`; the rest after them in BM25 order."""
    run: Run = {}
    for qid, docs in shortlist.items():
        kept = sorted(docs, key=lambda d: (-first[qid][d], d))
        if fuse_with is not None:
            kept = [d for d, _ in fuse_with_first_stage(kept, fuse_with[qid])]
        kept = kept[:keep]
        scores = {d: full[qid][d] for d in kept}
        floor = min(scores.values())
        scores.update({d: floor - 1.0 - i for i, d in enumerate(d for d in docs if d not in scores)})
        run[qid] = scores
    return run


def bm25_run(shortlist: dict[str, list[str]]) -> Run:
    return {q: {d: -float(i) for i, d in enumerate(docs)} for q, docs in shortlist.items()}


def quality(
    name: str, data: Dataset, tiny: Reranker, full: Reranker, keeps: Sequence[int], k: int, cache: Path
) -> dict[str, float]:
    """nDCG@10 of each system (printed with paired tests); returns the means."""
    queries, shortlist = candidates(data, k)
    qrels = {q: data.qrels[q] for q in queries}
    start = time.perf_counter()
    tiny_scores = all_scores(tiny, data, queries, shortlist, cache)
    tiny_seconds = time.perf_counter() - start
    full_scores = all_scores(full, data, queries, shortlist, cache)
    pairs = sum(len(d) for d in shortlist.values())
    ndcg = {"BM25": per_query(qrels, bm25_run(shortlist), ("nDCG@10",))["nDCG@10"]}
    ndcg["crossrank-tiny"] = per_query(qrels, tiny_scores, ("nDCG@10",))["nDCG@10"]
    ndcg["crossrank-default"] = per_query(qrels, full_scores, ("nDCG@10",))["nDCG@10"]
    fused_tiny = {
        q: {
            d: -float(i)
            for i, (d, _) in enumerate(
                fuse_with_first_stage(sorted(docs, key=lambda d: (-tiny_scores[q][d], docs.index(d))), docs)
            )
        }
        for q, docs in shortlist.items()
    }
    ndcg["tiny + BM25 (RRF)"] = per_query(qrels, fused_tiny, ("nDCG@10",))["nDCG@10"]
    for keep in keeps:
        run = cascade_run(tiny_scores, full_scores, shortlist, keep)
        ndcg[f"cascade K={keep}, a set"] = per_query(qrels, run, ("nDCG@10",))["nDCG@10"]
    rng = np.random.default_rng(0)
    shuffled = {q: [docs[i] for i in rng.permutation(len(docs))] for q, docs in shortlist.items()}
    for keep in keeps:  # ranked_input=True: the input order (BM25's) fused in; and what it did to unordered input
        run = cascade_run(tiny_scores, full_scores, shortlist, keep, fuse_with=shortlist)
        ndcg[f"cascade K={keep} ranked input"] = per_query(qrels, run, ("nDCG@10",))["nDCG@10"]
        run = cascade_run(tiny_scores, full_scores, shortlist, keep, fuse_with=shuffled)
        ndcg[f"K={keep} fused, shuffled"] = per_query(qrels, run, ("nDCG@10",))["nDCG@10"]
    rate = pairs / tiny_seconds
    print(f"\n{name}: {len(queries)} queries, BM25 top-{k} ({pairs} pairs); crossrank-tiny scored {rate:.0f} pairs/s")
    print(f"  {'system':<26} {'nDCG@10':>8} {'vs BM25':>8} {'p':>7} {'vs default':>10} {'p':>7}")
    for system, values in ndcg.items():
        versus_bm25 = paired_test(ndcg["BM25"], values)
        versus_full = paired_test(ndcg["crossrank-default"], values)
        print(
            f"  {system:<26} {mean(values):>8.4f} {versus_bm25.delta:>+8.4f} {versus_bm25.t_test_p:>7.3f} "
            f"{versus_full.delta:>+10.4f} {versus_full.t_test_p:>7.3f}"
        )
    return {system: round(mean(values), 4) for system, values in ndcg.items()} | {"queries": len(queries)}


def latency(data: Dataset, keeps: Sequence[int], queries: int, threads: int, k: int) -> None:
    """p50/p95 ms to rank one query's candidates, every system on the same queries, interleaved."""
    from sentence_transformers import CrossEncoder

    from crossrank.basemodels import default_as_base

    judged, shortlist = candidates(data, k)
    chosen = list(judged)[:queries]
    tiny = Reranker("crossrank-tiny", threads=threads)
    full = Reranker(threads=threads, cascade_model=None)  # the built-in model alone
    st = CrossEncoder(str(default_as_base()), device="cpu", max_length=full.spec.max_length)
    systems: dict[str, Callable[[str, list[str]], object]] = {
        "sentence-transformers fp32 (reference)": lambda q, docs: st.rank(q, docs, batch_size=32),
        "crossrank-default (onnx)": lambda q, docs: full.rerank(q, docs),
        "crossrank-default (onnx-int8)": lambda q, docs: int8.rerank(q, docs),
        "crossrank-tiny (onnx)": lambda q, docs: tiny.rerank(q, docs),
    }
    int8 = Reranker(backend="onnx-int8", threads=threads, cascade_model=None)
    cascades = {keep: Reranker(threads=threads, cascade_keep=keep, cascade_model="crossrank-tiny") for keep in keeps}
    for keep, reranker in cascades.items():
        systems[f"cascade tiny -> default, K={keep}"] = reranker.rerank  # type: ignore[assignment]
    times: dict[str, list[float]] = {name: [] for name in systems}
    lengths = []
    for qid in chosen:
        docs = [data.corpus[d].full_text for d in shortlist[qid]]
        lengths += [len(ids) for ids in full.encoder.encode(judged[qid], docs).ids]
        for name, run in systems.items():
            start = time.perf_counter()
            run(judged[qid], docs)
            times[name].append((time.perf_counter() - start) * 1000)
        for keep, reranker in cascades.items():  # each cascade's kept documents are in the full model's order
            real = [r.index for r in reranker.rerank(judged[qid], docs)][:keep]
            scores = np.array(full.score([(judged[qid], docs[i]) for i in real]))
            assert list(np.argsort(-scores, kind="stable")) == list(range(len(real))), f"cascade K={keep} order"
    reference = statistics.median(times["sentence-transformers fp32 (reference)"])
    default = statistics.median(times["crossrank-default (onnx)"])
    print(
        f"\nlatency: {len(chosen)} {data.name} queries x {k} candidates, pair tokens median "
        f"{int(statistics.median(lengths))} (max {max(lengths)}), {threads} threads"
    )
    print(f"  {'system':<40} {'p50 ms':>8} {'p95 ms':>8} {'x faster than ST':>17} {'of default':>11}")
    for name, values in times.items():
        p50 = percentile(values, 50)
        print(
            f"  {name:<40} {p50:>8.0f} {percentile(values, 95):>8.0f} {reference / p50:>17.2f} {p50 / default:>11.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=f"{DATASETS / 'cranfield'},{DATASETS / 'scifact'}")
    parser.add_argument("--keeps", default="10,15,20,30", help="comma-separated K values for the cascade")
    parser.add_argument("--k", type=int, default=100, help="BM25 candidates per query")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--latency-queries", type=int, default=20)
    parser.add_argument("--skip", choices=["quality", "latency"], action="append", default=[])
    parser.add_argument("--scores-cache", default=str(ROOT / "runs" / "cascade-scores"), help="scores kept here")
    parser.add_argument("--out", default=None, help="write the quality figures as JSON here (benchmarks/results/)")
    args = parser.parse_args()
    keeps = [int(k) for k in args.keeps.split(",")]
    print(f"machine: {describe()}, {os.cpu_count()} logical cores; threads={args.threads}")
    datasets = [load_dataset(path) for path in args.datasets.split(",")]
    if "quality" not in args.skip:
        tiny = Reranker("crossrank-tiny", threads=args.threads)
        full = Reranker(threads=args.threads, cascade_model=None)
        figures = {
            data.name: quality(data.name, data, tiny, full, keeps, args.k, Path(args.scores_cache)) for data in datasets
        }
        if args.out:
            from crossrank.machine import cpu_family, cpu_features, cpu_name

            kept = {
                "kind": "benchmarks/cascade.py",
                "machine": {"cpu": cpu_name(), "family": cpu_family(), "features": cpu_features()},
                "settings": {"first_stage": "bm25", "k": args.k, "keeps": keeps, "metric": "nDCG@10"},
                "ndcg": figures,
            }
            Path(args.out).write_text(json.dumps(kept, indent=2) + "\n", encoding="utf-8")
    if "latency" not in args.skip:
        latency(datasets[0], keeps, args.latency_queries, args.threads, args.k)


if __name__ == "__main__":
    main()
