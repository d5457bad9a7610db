"""What scoring one pair per forward pass costs against length-sorted batches, per pair length.

Both plans run the same encoded pairs on the same backend with 2 workers, interleaved three times (best kept),
so the ratio holds for this machine at this moment even when it is shared.

    python benchmarks/one_pair_per_pass.py --backend onnx-int8            # the built-in model
    python benchmarks/one_pair_per_pass.py --model models/minilm-untrained --backend onnx
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from crossrank import Reranker
from crossrank.batching import pad_batch, plan_batches
from crossrank.tokenization import EncodedPairs

TEXT = (
    "An experimental study of a wing in a propeller slipstream was made in order to determine the spanwise "
    "distribution of the lift increase due to slipstream at different angles of attack of the wing and at "
    "different free stream to slipstream velocity ratios. The results were intended in part as an evaluation "
    "basis for different theoretical treatments of this problem. "
)


def pairs_per_second(reranker: Reranker, encoded: EncodedPairs, batches: list[np.ndarray]) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda b: reranker.backend.run(pad_batch(encoded, b, pad_id=reranker.encoder.pad_id)), batches))
    return len(encoded) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model folder (default: the built-in model)")
    parser.add_argument("--backend", default="onnx-int8")
    args = parser.parse_args()
    reranker = Reranker(args.model, backend=args.backend, threads=2, cascade_model=None)
    words = (TEXT * 40).split()
    print(f"{reranker!r}, 200 pairs per length, 2 workers")
    for n in (8, 25, 60, 180):
        documents = [" ".join(words[i : i + n]) for i in range(200)]
        encoded = reranker.encoder.encode("how does a slipstream change the lift of a wing", documents)
        lengths = np.array([len(ids) for ids in encoded.ids])
        batched = plan_batches(lengths, batch_size=32, token_budget=512, min_batches=2)
        single = [np.array([i]) for i in np.argsort(-lengths)]
        best = {"batched": 0.0, "one pair": 0.0}
        for _ in range(3):
            best["batched"] = max(best["batched"], pairs_per_second(reranker, encoded, batched))
            best["one pair"] = max(best["one pair"], pairs_per_second(reranker, encoded, single))
        print(
            f"  {int(np.median(lengths)):4d} tokens: batched {best['batched']:7.1f} pairs/s, one pair per pass "
            f"{best['one pair']:7.1f} pairs/s ({best['one pair'] / best['batched']:.2f}x)"
        )


if __name__ == "__main__":
    main()
