"""Wire formats: Cohere v2/v1 and Jina (`/v2/rerank`, `/v1/rerank`) and Hugging Face TEI (`/rerank`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

NO_NUL = "^[^\\u0000]*$"
"""JSON Schema pattern of every text: no NUL character (refused as binary data, by the server as everywhere)."""
NOT_BLANK = (
    "^[^\\u0000]*"
    "[^\\u0000\\t\\n\\u000b\\u000c\\r\\u001c-\\u001f \\u0085\\u00a0"
    "\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    "[^\\u0000]*$"
)
"""JSON Schema pattern of a query: no NUL, and one character that Python's `str.isspace` does not call
whitespace (the server's and the library's test; the pattern spells it out because ECMA's `\\S` differs)."""
Text = Annotated[str, WithJsonSchema({"type": "string", "pattern": NO_NUL})]
"""A document's text: any string in Python (the route refuses NUL with a message naming the item), and a
string without NUL in the OpenAPI document."""


MIN_SCORE = (
    "crossrank extension: return only documents whose score (a calibrated probability of relevance) is at least "
    "this; best first, as always"
)
RANKED_INPUT = (
    "crossrank extension: the documents come in a first stage's order, best first, and that order may count "
    "(the cascade keeps the best of its first pass fused with it; equal scores keep it). Default false: the "
    "ranking is a function of the set of documents, whatever their order"
)
RETURN_EVIDENCE = (
    "crossrank extension: add to each result `evidence`, the character span {start, end} of the part of the "
    "document its score came from (the best window with long-document windows; the whole text when it fits one)"
)
BUDGET_COUNTS = (
    'crossrank extension: what max_tokens counts: each whole document ("documents", the default) or only the part '
    'its score came from ("evidence", which each result then carries): for a caller that sends only that part on'
)
MAX_TOKENS = (
    "crossrank extension: return documents best first while their tokens (the model's tokenizer, documents "
    "only) fit in this budget; stops at the first that does not"
)


def _whole(value: object) -> object:
    """JSON writes some integers as 1.0; accept those as integers, and nothing else that is not one."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


class TextDocument(BaseModel):
    """A document given as an object (Cohere v1, Jina); other fields are kept out of scoring."""

    model_config = ConfigDict(extra="allow")
    text: Text


class CohereRerankRequest(BaseModel):
    """Cohere v2 (documents are strings), v1 and Jina (strings or objects with `text`)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    model: str | None = None
    query: str = Field(min_length=1, json_schema_extra={"pattern": NOT_BLANK})
    documents: list[Text | TextDocument] = Field(min_length=1)
    top_n: int | None = Field(default=None, ge=1)  # the Cohere / Jina wire name of what the library calls top_k
    return_documents: bool | None = Field(
        default=None,
        description="return each document's text; default false on /v2/rerank (Cohere v2), true on /v1/rerank "
        "(Jina's default; a Cohere v1 client that wants none sends false)",
    )
    max_tokens_per_doc: int | None = Field(default=None, ge=1)
    priority: int | None = None  # accepted for client compatibility; requests are served in arrival order
    min_score: float | None = Field(default=None, ge=0, le=1, description=MIN_SCORE)
    max_tokens: int | None = Field(default=None, ge=1, description=MAX_TOKENS)
    budget_counts: Literal["documents", "evidence"] = Field(default="documents", description=BUDGET_COUNTS)
    ranked_input: bool = Field(default=False, description=RANKED_INPUT)
    return_evidence: bool = Field(default=False, description=RETURN_EVIDENCE)

    _query = field_validator("query")(_non_blank)
    _integers = field_validator("top_n", "max_tokens_per_doc", "priority", "max_tokens", mode="before")(_whole)


class DocumentOut(BaseModel):
    text: str


class EvidenceOut(BaseModel):
    """`text[start:end]` is the part of the document the score came from (crossrank extension)."""

    start: int
    end: int


class CohereResult(BaseModel):
    index: int
    relevance_score: float
    document: DocumentOut | None = None
    evidence: EvidenceOut | None = None


class CohereRerankResponse(BaseModel):
    id: str
    model: str  # the served model's name (Jina's answers name it; Cohere clients ignore it)
    results: list[CohereResult]
    meta: dict[str, Any]
    usage: dict[str, int]


class TeiRerankRequest(BaseModel):
    """Hugging Face text-embeddings-inference `/rerank`."""

    model_config = ConfigDict(extra="ignore", strict=True)
    query: str = Field(min_length=1, json_schema_extra={"pattern": NOT_BLANK})
    texts: list[Text] = Field(min_length=1)
    raw_scores: bool = False
    return_text: bool = False
    truncate: bool = False
    min_score: float | None = Field(default=None, ge=0, le=1, description=MIN_SCORE)
    max_tokens: int | None = Field(default=None, ge=1, description=MAX_TOKENS)
    budget_counts: Literal["documents", "evidence"] = Field(default="documents", description=BUDGET_COUNTS)
    ranked_input: bool = Field(default=False, description=RANKED_INPUT)
    return_evidence: bool = Field(default=False, description=RETURN_EVIDENCE)

    _query = field_validator("query")(_non_blank)
    _integers = field_validator("max_tokens", mode="before")(_whole)


class TeiResult(BaseModel):
    index: int
    score: float
    text: str | None = None
    evidence: EvidenceOut | None = None


class ErrorBody(BaseModel):
    """Every error answer: what went wrong, and the request field it concerns when there is one."""

    message: str
    type: str
    field: str | None = None
