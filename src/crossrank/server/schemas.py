"""Wire formats: Cohere v2/v1 and Jina (`/v2/rerank`, `/v1/rerank`) and Hugging Face TEI (`/rerank`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


class TextDocument(BaseModel):
    """A document given as an object (Cohere v1, Jina); other fields are kept out of scoring."""

    model_config = ConfigDict(extra="allow")
    text: str


class CohereRerankRequest(BaseModel):
    """Cohere v2 (documents are strings), v1 and Jina (strings or objects with `text`)."""

    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    query: str = Field(max_length=100_000)
    documents: list[str | TextDocument]
    top_n: int | None = Field(default=None, ge=1)
    return_documents: bool = False
    max_tokens_per_doc: int | None = Field(default=None, ge=1)
    priority: int | None = None  # accepted for client compatibility; requests are served in arrival order

    _query = field_validator("query")(_non_blank)


class DocumentOut(BaseModel):
    text: str


class CohereResult(BaseModel):
    index: int
    relevance_score: float
    document: DocumentOut | None = None


class CohereRerankResponse(BaseModel):
    id: str
    results: list[CohereResult]
    meta: dict[str, Any]
    usage: dict[str, int]


class TeiRerankRequest(BaseModel):
    """Hugging Face text-embeddings-inference `/rerank`."""

    model_config = ConfigDict(extra="ignore")
    query: str = Field(max_length=100_000)
    texts: list[str]
    raw_scores: bool = False
    return_text: bool = False
    truncate: bool = False

    _query = field_validator("query")(_non_blank)


class TeiResult(BaseModel):
    index: int
    score: float
    text: str | None = None


class ErrorBody(BaseModel):
    """Every error answer: what went wrong, and the request field it concerns when there is one."""

    message: str
    type: str
    field: str | None = None
