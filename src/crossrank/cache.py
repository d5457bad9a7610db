"""The cache folder (exported ONNX models, later indexes): keyed by content and settings, written
atomically, safe to delete at any time."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path


def cache_root(cache_dir: Path | str | None = None) -> Path:
    """`cache_dir` if given, else `$CROSSRANK_CACHE`, else `$XDG_CACHE_HOME/crossrank` (~/.cache/crossrank)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("CROSSRANK_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "crossrank"


def cache_name(name: str) -> str:
    """`name` as the start of a cache folder's name: letters, digits and `-_.` kept, anything else `_`, 60 at most."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60] or "model"


def content_key(files: Iterable[Path], *settings: str) -> str:
    """A short hex digest of the files' bytes and the settings that shape what is derived from them."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.name.encode())
        with path.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    for setting in settings:
        digest.update(b"\0" + setting.encode())
    return digest.hexdigest()[:20]


def build_once(final: Path, build: Callable[[Path], None]) -> Path:
    """Create folder `final` by calling `build(tmp)` on a private temporary folder, then renaming it.

    Readers never see a half-written folder; if another process finished first, its result is kept.
    """
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        build(tmp)
        try:
            tmp.rename(final)
        except OSError:
            if not final.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
