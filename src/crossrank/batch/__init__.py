"""Offline reranking of a file of queries and their candidates: streaming, resumable, on one machine or on Ray.

Input: JSONL rows `{"id"?, "query", "documents": [text | {"id"?, <text_field>: text, ...}]}`, or a TREC run with
the BEIR `corpus.jsonl` and `queries.jsonl` it ranks (converted once into such rows). The rows are cut into
chunks of `chunk_rows` in file order; each chunk's results are written as one part file, atomically, and a
rerun skips the parts that exist, so an interrupted job continues where it stopped. Parts are merged in order
into `results.jsonl` (or `results.run`), so the output is the same whatever ran the chunks, in what order, or
how many times: a pair's score depends on the pair alone.

On Ray (`ray_address`), every chunk is a row of a Ray Data dataset mapped by a pool of actors, each loading the
model once; an actor that dies is restarted and its chunk retried, and a retried chunk rewrites the same part.
"""

from crossrank.batch.rows import BatchReport, Workers, rerank_file
from crossrank.batch.trec import rerank_trec

__all__ = ["BatchReport", "Workers", "rerank_file", "rerank_trec"]
