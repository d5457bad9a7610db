"""One query's documents as `Reranker.encode` prepares them: what the scoring needs, tokenized once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossrank.tokenization import EncodedPairs


@dataclass(frozen=True, slots=True)
class EncodedQuery:
    """One query's documents, tokenized once (each distinct text once), from `Reranker.encode`.

    `slots[d]` is document d's distinct text; `pairs` are the model inputs of the distinct texts (owner =
    distinct text); `first_pass` the cascade's short-window inputs, when it will run; `pair_tokens[d]` the
    tokens document d makes with the query before any cut; `document_tokens[d]` its own tokens (what a token
    budget counts). `ties[d]` orders documents of equal score: by text (code points) unless `ranked_input`
    says the input order is a first stage's ranking, then by position.
    """

    slots: np.ndarray
    ties: np.ndarray
    ranked_input: bool
    unique: int
    pairs: EncodedPairs
    first_pass: EncodedPairs | None
    pair_tokens: np.ndarray
    document_tokens: np.ndarray

    @property
    def documents(self) -> int:
        return len(self.slots)

    @property
    def tokens(self) -> int:
        """Model tokens this query may cost: its full-model inputs and its first-pass inputs (a server's unit
        of work when it packs requests)."""
        return self.pairs.tokens + (self.first_pass.tokens if self.first_pass is not None else 0)
