"""A deployed reranker measured like a local one: `crossrank eval --url URL --api cohere|jina|tei` sends each
query's candidates to the endpoint and reads its ranking back, so the report sets it beside local rerankers
with the same figures (latency includes the network).

Requests go one at a time (the harness times each query as a user would see it), with retries on 429 and 503
(honouring `Retry-After`) and a clear error for a refused key. The wire formats: Cohere v2 (`/v2/rerank`,
`documents` as strings), Jina (`/v1/rerank`) and Hugging Face TEI (`/rerank`, `texts`).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from crossrank.errors import InputError
from crossrank.ranking import best_first
from crossrank.types import RankedResult

Api = Literal["cohere", "jina", "tei"]
PATHS: dict[str, str] = {"cohere": "/v2/rerank", "jina": "/v1/rerank", "tei": "/rerank"}


class RemoteReranker:
    """Reranks through an HTTP endpoint; meets the harness's `CandidateReranker` protocol."""

    gives_probabilities = True  # Cohere's and Jina's relevance scores, and TEI's without raw_scores, are 0..1

    def __init__(
        self,
        url: str,
        *,
        api: Api,
        api_key: str | None = None,
        model: str | None = None,
        timeout_s: float = 60.0,
        retries: int = 5,
    ) -> None:
        if api not in PATHS:
            raise InputError(f"api must be one of {', '.join(PATHS)}, got {api!r}")
        if not url.startswith(("http://", "https://")):
            raise InputError(f"--url must start with http:// or https://, got {url!r}")
        base = url.rstrip("/")
        self.url = base if base.endswith(tuple(PATHS.values())) else base + PATHS[api]
        self.api, self.api_key, self.model = api, api_key, model
        self.timeout_s, self.retries = timeout_s, retries
        self.name = f"{api} at {self.url}"

    def rerank(self, query: str, documents: Sequence[str], *, ranked_input: bool = False) -> list[RankedResult]:
        """Every document ranked by the endpoint, best first (equal scores in input order). `ranked_input` is not
        sent: other services have no such option, so the candidates go as the list they are."""
        if self.api == "tei":
            body: dict[str, Any] = {"query": query, "texts": list(documents), "truncate": True}
        else:
            body = {"query": query, "documents": list(documents), "top_n": len(documents)}
            body["model"] = self.model or "rerank"
        answer = self._post(body)
        results = answer if isinstance(answer, list) else answer.get("results") if isinstance(answer, dict) else None
        scores = [float("-inf")] * len(documents)
        try:
            for item in results or []:
                scores[int(item["index"])] = float(item["score" if self.api == "tei" else "relevance_score"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise InputError(f"{self.url} answered in a form this --api does not read ({exc!r})") from None
        if any(s == float("-inf") for s in scores):
            raise InputError(f"{self.url} did not score every document; is --api {self.api} its format?")
        order = best_first(np.array(scores))
        return [RankedResult(index=int(i), score=scores[i]) for i in order]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Tokens as crossrank-default's tokenizer counts them (the endpoint's own is unknown): what the cut
        table's token budgets spend."""
        from crossrank.models import resolve_model
        from crossrank.tokenization import load_tokenizer

        tokenizer = load_tokenizer(resolve_model(None))
        return [len(e.ids) for e in tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def _post(self, body: dict[str, Any]) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(body).encode("utf-8")
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return json.load(response)
            except urllib.error.HTTPError as exc:
                if exc.code in (429, 503) and attempt < self.retries:
                    time.sleep(_wait(exc.headers.get("Retry-After"), attempt))
                    continue
                raise InputError(_refusal(self.url, exc)) from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise InputError(f"cannot reach {self.url}: {reason}") from None
        raise AssertionError("unreachable")  # the loop returns or raises


def _wait(retry_after: str | None, attempt: int) -> float:
    """Seconds before the next try: the server's `Retry-After` (seconds, at most 30), else 0.5 s doubling."""
    backoff = min(30.0, 0.5 * 2.0**attempt)
    try:
        return min(30.0, max(0.0, float(retry_after))) if retry_after else backoff
    except ValueError:
        return backoff


def _refusal(url: str, exc: urllib.error.HTTPError) -> str:
    """What an error answer says, for the user."""
    try:
        detail = json.loads(exc.read().decode("utf-8", "replace"))
        message = detail.get("message") or detail.get("detail") or detail if isinstance(detail, dict) else detail
    except (ValueError, OSError):
        message = exc.reason
    if exc.code in (401, 403):
        return f"{url} refused the API key ({exc.code}: {message}); pass it with --api-key-env NAME"
    return f"{url} answered {exc.code}: {message}"
