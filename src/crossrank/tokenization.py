"""Pair encoding: `[CLS] query [SEP] document [SEP]` ids, the truncation policy and long-document windows.
Batching the inputs for a forward pass is `crossrank.batching`'s.

The query is tokenized once per request. The document is truncated, never the query, unless the query
would leave less than a quarter of the window for the document: then the query is cut to three quarters
of the window and a `QueryTruncatedWarning` says so.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Encoding, Tokenizer

from crossrank.errors import ModelError, QueryTruncatedWarning


def load_tokenizer(folder: Path) -> Tokenizer:
    """The model's fast tokenizer, with its own truncation and padding switched off (we do both)."""
    path = folder / "tokenizer.json"
    tokenizer = Tokenizer.from_file(str(path)) if path.is_file() else _convert_slow_tokenizer(folder)
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _convert_slow_tokenizer(folder: Path) -> Tokenizer:
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise ModelError(
            f"{folder} has no tokenizer.json; converting its tokenizer needs transformers: "
            "pip install 'crossrank[torch]'"
        ) from exc
    try:
        slow = AutoTokenizer.from_pretrained(str(folder), use_fast=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means: no usable tokenizer
        raise ModelError(f"cannot load a tokenizer from {folder}: {exc}") from exc
    backend = getattr(slow, "backend_tokenizer", None)
    if not isinstance(backend, Tokenizer):
        raise ModelError(f"{folder} has no fast tokenizer crossrank can use")
    return backend


@dataclass(frozen=True, slots=True)
class EncodedPairs:
    """Token ids of model inputs; `owner[i]` is the document position that input `i` scores.

    With long-document windows one document owns several inputs. `pair_tokens[d]` (when known) counts the
    tokens document `d` makes with its query and the special tokens before the window cuts anything (after
    `max_document_tokens`): what a server bills and checks against the window; `document_tokens[d]` the
    document's own share of them (what a token budget counts).
    """

    ids: list[list[int]]
    type_ids: list[list[int]]
    owner: np.ndarray
    pair_tokens: np.ndarray | None = None
    document_tokens: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def tokens(self) -> int:
        """Tokens the model reads for these inputs (no padding: one input per pass)."""
        return sum(len(ids) for ids in self.ids)

    def select(self, owners: np.ndarray) -> EncodedPairs:
        """The inputs of the given document positions, renumbered 0..len(owners)-1 in that order."""
        rank = {int(o): i for i, o in enumerate(owners)}
        keep = [i for i, o in enumerate(self.owner) if int(o) in rank]
        return EncodedPairs(
            ids=[self.ids[i] for i in keep],
            type_ids=[self.type_ids[i] for i in keep],
            owner=np.array([rank[int(self.owner[i])] for i in keep], dtype=np.int64),
        )


@dataclass(frozen=True, slots=True)
class TokenizedDocuments:
    """Documents as tokens, before any window: `encodings[d]` document d's, `tokens[d]` how many it has."""

    encodings: list[Encoding]
    tokens: np.ndarray


class PairEncoder:
    """Builds model inputs for (query, documents) groups within a fixed token window."""

    def __init__(self, tokenizer: Tokenizer, *, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.special_tokens = tokenizer.num_special_tokens_to_add(is_pair=True)
        self.pad_id = pad_id_of(tokenizer)
        if max_length - self.special_tokens < 4:
            raise ModelError(f"max_length={max_length} leaves no room for text after special tokens")

    def same_tokens_as(self, other: PairEncoder) -> bool:
        """Whether `other` cuts text into the same tokens (then one `tokenize` serves both encoders)."""
        return self.tokenizer is other.tokenizer or self._signature == other._signature

    @functools.cached_property
    def _signature(self) -> str:
        """A digest of the whole tokenizer (~10 ms for a 30k vocabulary): taken once, and only by a cascade."""
        return hashlib.sha256(self.tokenizer.to_str().encode()).hexdigest()

    def encode(
        self,
        query: str,
        documents: list[str],
        *,
        window_overlap: int | None = None,
        max_document_tokens: int | None = None,
    ) -> EncodedPairs:
        """Encode one query against its documents: `tokenize`, then `assemble`."""
        tokenized = self.tokenize(documents, max_document_tokens=max_document_tokens)
        return self.assemble(query, tokenized, window_overlap=window_overlap)

    def tokenize(self, documents: list[str], *, max_document_tokens: int | None = None) -> TokenizedDocuments:
        """The documents' tokens (no special tokens), each first cut to `max_document_tokens` (Cohere's
        `max_tokens_per_doc`); any encoder with `same_tokens_as` this one may assemble them."""
        encodings = self.tokenizer.encode_batch_fast(documents, add_special_tokens=False)  # no offsets: unused
        if max_document_tokens is not None:
            for encoding in encodings:
                if len(encoding.ids) > max_document_tokens:
                    encoding.truncate(max_document_tokens)
        return TokenizedDocuments(encodings, np.array([len(e.ids) for e in encodings], dtype=np.int64))

    def assemble(self, query: str, documents: TokenizedDocuments, *, window_overlap: int | None = None) -> EncodedPairs:
        """The model inputs of one query against tokenized documents, within this encoder's window (the
        documents are left as they are: another window may assemble them again).

        `window_overlap=None` truncates each document to the window; an integer splits a long document
        into windows that overlap by that many tokens, each one input owned by the same document.
        """
        query_enc = self.tokenizer.encode(query, add_special_tokens=False)
        query_tokens = len(query_enc.ids)
        max_query = self._max_query
        if len(query_enc.ids) > max_query:
            warnings.warn(
                f"query of {len(query_enc.ids)} tokens cut to {max_query} so the document keeps "
                f"a quarter of the {self.max_length}-token window",
                QueryTruncatedWarning,
                stacklevel=3,
            )
            query_enc.truncate(max_query)
        doc_room, stride = self._layout(len(query_enc.ids), window_overlap)
        doc_encs = documents.encodings
        document_tokens = documents.tokens
        pair_tokens = document_tokens + query_tokens + self.special_tokens

        ids: list[list[int]] = []
        type_ids: list[list[int]] = []
        owner: list[int] = []
        post_process = self.tokenizer.post_process
        for position, doc_enc in enumerate(doc_encs):
            for piece in _pieces(doc_enc, doc_room, stride=stride, windows=window_overlap is not None):
                pair = post_process(query_enc, piece, add_special_tokens=True)
                ids.append(pair.ids)
                type_ids.append(pair.type_ids)
                owner.append(position)
        return EncodedPairs(
            ids=ids,
            type_ids=type_ids,
            owner=np.asarray(owner, dtype=np.int64),
            pair_tokens=pair_tokens,
            document_tokens=document_tokens,
        )

    @property
    def _max_query(self) -> int:
        """Most tokens a query keeps: the document keeps at least a quarter of the window."""
        budget = self.max_length - self.special_tokens
        return budget - max(budget // 4, 1)

    def _layout(self, query_tokens: int, window_overlap: int | None) -> tuple[int, int]:
        """The room a document has beside a query of `query_tokens` (cut to `_max_query`), and the tokens
        consecutive windows share (None: no windows)."""
        room = self.max_length - self.special_tokens - min(query_tokens, self._max_query)
        return room, 0 if window_overlap is None else max(0, min(window_overlap, room // 2))

    def window_spans(
        self, query: str, *, window_overlap: int | None, max_document_tokens: int | None = None
    ) -> Callable[[str, int], tuple[int, int]]:
        """For one query (its tokens counted once): (text, window) -> the characters of `text` that window of
        `assemble` held (-1: all of them, a mean's), as (start, end); the whole text when it fits one window.
        The text is tokenized again, with offsets, so only the results a caller asks about pay for them."""
        room, stride = self._layout(len(self.tokenizer.encode(query, add_special_tokens=False).ids), window_overlap)

        def span(text: str, window: int) -> tuple[int, int]:
            offsets = self.tokenizer.encode(text, add_special_tokens=False).offsets[:max_document_tokens]
            if not offsets or (len(offsets) <= room and max_document_tokens is None):
                return 0, len(text)
            if window < 0:
                return offsets[0][0], offsets[-1][1]
            first = window * (room - stride)
            last = min(first + room, len(offsets)) - 1
            return offsets[first][0], offsets[last][1]

        return span


def pad_id_of(tokenizer: Tokenizer) -> int:
    """The id of the padding token ([PAD] for WordPiece models, <pad> for RoBERTa-style ones), else 0."""
    for token in ("[PAD]", "<pad>", "<PAD>"):
        token_id = tokenizer.token_to_id(token)
        if token_id is not None:
            return token_id
    return 0


def _pieces(document: Encoding, room: int, *, stride: int, windows: bool) -> list[Encoding]:
    """A document's encoding as it enters the window: whole when it fits, else its head (and, with `windows`,
    the overlapping windows after it)."""
    if len(document.ids) <= room:
        return [document]
    document = copy.copy(document)  # the caller's encoding stays whole for another window
    document.truncate(room, stride=stride)
    return [document, *document.overflowing] if windows else [document]
