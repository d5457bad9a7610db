"""Errors to HTTP answers, in one place: the table of statuses, and the handlers FastAPI calls.

Every error body is `ErrorBody` (`message`, `type`, `field`); a server bug is a 500 with a generic message
(the details go to the log, never to the client).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from crossrank.errors import InputError, Overloaded
from crossrank.server.schemas import ErrorBody


class ApiError(Exception):
    """An error with its HTTP status, shown to the client as `ErrorBody`."""

    def __init__(self, status: int, message: str, *, type: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.field = status, message, type, field


STATUS: dict[type[Exception], tuple[int, str]] = {
    InputError: (422, "invalid_request"),
    Overloaded: (503, "overloaded"),
    TimeoutError: (504, "timeout"),
}
"""Library and runtime errors a request can meet, and the status and type each is answered with."""

DECLARED = {
    401: "missing or wrong API key (only with --api-key)",
    413: "a body over the server's byte limit, or (TEI, truncate=false) a pair over the model's window",
    422: "malformed JSON, a wrong type, an empty query, text that is not valid Unicode, or more documents or a "
    "longer query than the server's limits",
    503: "the model is loading, the server is shutting down, or the queue is full (Retry-After)",
    504: "scoring took longer than the server's timeout",
}
"""Statuses the rerank endpoints may answer besides 200, as the OpenAPI document declares them."""

MALFORMED_STATUS = {"/v2/rerank": 400, "/v1/rerank": 400}
"""Each route answers a malformed request as its own API does: Cohere (and so its SDK's `BadRequestError`) with
400; TEI, and every other route, with 422."""


def declared(path: str) -> dict[int, str]:
    """`DECLARED` as `path` answers it."""
    status = MALFORMED_STATUS.get(path, 422)
    return {status if code == 422 else code: text for code, text in DECLARED.items()}


def from_exception(exc: Exception, *, field: str | None = None) -> ApiError:
    """The `ApiError` for an exception of the table, by its class (or a base class)."""
    for kind, (status, name) in STATUS.items():
        if isinstance(exc, kind):
            return ApiError(status, str(exc) or name, type=name, field=field)
    raise exc


def error_response(exc: ApiError, headers: Mapping[str, str] | None = None, *, path: str = "") -> JSONResponse:
    """The answer for `exc` on the route `path` (a malformed request: that API's status, `MALFORMED_STATUS`)."""
    extra = dict(headers or {})
    if exc.status == 503:
        extra["Retry-After"] = "1"
    status = MALFORMED_STATUS.get(path, 422) if exc.status == 422 else exc.status
    body = ErrorBody(message=exc.message, type=exc.type, field=exc.field).model_dump()
    return JSONResponse(body, status_code=status, headers=extra or None)


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc, path=request.url.path)


UNION_MEMBERS = {"str": "a string", "TextDocument": "an object with a string 'text'"}
"""Names pydantic puts into an error's location for each member of a union (`documents.0.str`): not fields
the client wrote, so they are cut off and the message names the choices instead."""


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Pydantic's findings as one 422 naming the first bad field as the client wrote it (`documents.3`)."""
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(p) for p in first.get("loc", ())]
    message = str(first.get("msg", "invalid request"))
    if location == ["body"] or first.get("type") == "json_invalid":
        return error_response(ApiError(422, _body_problem(first), type="invalid_request"), path=request.url.path)
    location = location[1:] if location[:1] == ["body"] else location
    union = next((i for i, part in enumerate(location) if part in UNION_MEMBERS), None)
    if union is not None:
        location = location[:union]
        message = "must be " + " or ".join(UNION_MEMBERS.values())
        if isinstance(exc.body, dict) and "rank_fields" in exc.body:
            message += " (rank_fields is not supported: send the text to score under 'text')"
    field_name = ".".join(location) or None
    return error_response(
        ApiError(422, f"{field_name}: {message}" if field_name else message, type="invalid_request", field=field_name),
        path=request.url.path,
    )


def _body_problem(error: Mapping[str, object]) -> str:
    """What is wrong with the body as a whole: empty, not JSON at all, or JSON that is not an object."""
    if error.get("type") == "missing":
        return "request body is empty; send a JSON object"
    if error.get("type") == "json_invalid" or isinstance(error.get("input"), bytes | str):
        return "request body is not valid JSON; send a JSON object with Content-Type: application/json"
    return "request body must be a JSON object"


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (404, 405 with its `Allow` header, a body it could not parse) as `ErrorBody`."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:  # a body Starlette could not parse: the same answer as any malformed body
        problem = ApiError(422, "request body is not valid JSON", type="invalid_request")
        return error_response(problem, path=request.url.path)
    return error_response(ApiError(exc.status_code, str(exc.detail), type="http_error"), headers=exc.headers)
