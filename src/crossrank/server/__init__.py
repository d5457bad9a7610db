"""`crossrank serve`: HTTP handlers (app.py) -> batching queue (batcher.py) -> Reranker."""
