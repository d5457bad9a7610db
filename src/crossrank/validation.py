"""What a reranker accepts: queries and documents checked once, with errors that name the bad item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crossrank.errors import InputError


def check_query(query: object, where: str) -> str:
    """`query` if it is a non-empty string of valid text, else an `InputError` naming `where`."""
    item = ("query", None)
    if not isinstance(query, str):
        raise InputError(f"{where} must be a string, got {type(query).__name__}", item=item, where=where)
    if not query.strip():
        raise InputError(f"{where} is empty; a reranker needs a query to score against", item=item, where=where)
    return check_text(query, where, item=item)


def check_text(text: str, where: str, *, item: tuple[str, int | None] | None = None) -> str:
    """`text` if it is valid Unicode text; lone surrogates (which no tokenizer or UTF-8 output accepts) and NUL
    (the mark of binary data or UTF-16 read as UTF-8) raise `InputError` naming `where`, the same rule for the
    library, files and HTTP. Other control characters are text: the tokenizer's normaliser drops them."""
    nul = text.find("\x00")
    if nul >= 0:
        raise InputError(
            f"{where} holds a NUL character (U+0000) at character {nul}; crossrank reads text, not binary data",
            item=item,
            where=where,
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(
                f"{where} holds a lone surrogate (U+{ord(text[exc.start]):04X}) at character {exc.start}, "
                "which is not valid Unicode",
                item=item,
                where=where,
            ) from None
    return text


def texts_of(documents: object, text_field: str) -> list[str]:
    """The text of every document, or an `InputError` naming the first bad one."""
    if isinstance(documents, str | bytes) or not isinstance(documents, Sequence):
        raise InputError(f"documents must be a list of strings or mappings, got {type(documents).__name__}")
    texts: list[str] = []
    for i, doc in enumerate(documents):
        if isinstance(doc, str):
            texts.append(check_text(doc, f"documents[{i}]", item=("documents", i)))
        elif isinstance(doc, Mapping):
            text = doc.get(text_field)
            if not isinstance(text, str):
                problem = "has no" if text is None else f"has a non-string ({type(text).__name__})"
                raise InputError(f"documents[{i}] {problem} {text_field!r} field")
            texts.append(check_text(text, f"documents[{i}][{text_field!r}]", item=("documents", i)))
        else:
            raise InputError(f"documents[{i}] must be a string or a mapping, got {type(doc).__name__}")
    return texts


def check_arguments(
    batch_size: int, long_documents: str, aggregate: str, window_overlap: int, threads: int | None
) -> None:
    """`InputError` for the first `Reranker` argument out of its range."""
    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, got {batch_size}")
    if long_documents not in ("truncate", "window"):
        raise InputError(f"long_documents must be 'truncate' or 'window', got {long_documents!r}")
    if aggregate not in ("max", "first", "mean"):
        raise InputError(f"aggregate must be 'max', 'first' or 'mean', got {aggregate!r}")
    if window_overlap < 0:
        raise InputError(f"window_overlap must be >= 0, got {window_overlap}")
    if threads is not None and threads < 1:
        raise InputError(f"threads must be at least 1, got {threads}")
