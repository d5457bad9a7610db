"""Where a command may write: a new path, an empty folder, or its own earlier output of the same kind.

Every folder crossrank writes gets a marker file (`.crossrank-output.json`) naming its kind and the crossrank
version that wrote it; the marker alone makes a folder crossrank's own. Ordinary file names (`report.json`,
`manifest.json`, ...) prove nothing: a user's folder may hold them. Anything else named as an output (a file,
a folder with other things in it, a symbolic link, the input itself, a folder inside an input or holding
one) is refused before anything is touched, with a message naming the path and what would be lost.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from crossrank.errors import OutputRefused

MARKER = ".crossrank-output.json"


@dataclass(frozen=True, slots=True)
class OutputKind:
    """What one command writes: its name, its main file (named in the message for an output written before
    markers existed), and (for outputs replaced whole) the only entries such a folder may hold."""

    name: str
    main_file: str
    entries: frozenset[str] | None = None  # None: the command adds files and removes nothing
    listed: bool = False
    """Replaced whole, holding entries that vary from one output to the next (a model's own files): its marker
    lists what the command wrote, and only those may be there when it is replaced."""

    @property
    def article(self) -> str:
        return "an" if self.name[0] in "aeiou" else "a"


INDEX = OutputKind("index", "manifest.json", frozenset({"manifest.json", "passages.sqlite", "bm25", "vectors.npy"}))
EVAL = OutputKind("eval", "report.json")
MODEL = OutputKind("model", "training.json")
DEMO = OutputKind(
    "demo",
    "demo.json",
    frozenset(
        {
            "index.html",
            "style.css",
            "demo.js",
            "scorer.js",
            "tokenizer.js",
            "cut.js",
            "page.js",
            "vendor",
            "model.onnx",
            "tokenizer.json",
            "demo.json",
            "first_pass.onnx",
            "first_pass_tokenizer.json",
        }
    ),
)


BATCH = OutputKind(
    "batch", "job.json", frozenset({"job.json", "parts", "rows.jsonl", "results.jsonl", "results.run", "ray.log"})
)


def check_output(out: Path, kind: OutputKind, *, inputs: Iterable[Path] = ()) -> Path:
    """Return `out` if `kind`'s command may write there; raise `OutputRefused` naming the path otherwise."""
    if out.is_symlink():
        raise OutputRefused(f"{out} is a symbolic link; name a real folder for the {kind.name} (nothing was written)")
    target = out.resolve()
    for source in inputs:
        real = source.resolve()
        if target == real:
            raise OutputRefused(f"{out} is also the input; the {kind.name} needs a folder of its own")
        if real in target.parents:
            raise OutputRefused(f"{out} lies inside the input {source}; put the {kind.name} outside it")
        if target in real.parents:
            raise OutputRefused(f"the input {source} lies inside {out}; put the {kind.name} elsewhere")
    if not out.exists():
        return out
    if not out.is_dir():
        raise OutputRefused(f"{out} is a file crossrank did not write; name a new or empty folder for the {kind.name}")
    found = sorted(entry.name for entry in out.iterdir())
    if not found:
        return out
    if not _owned(out, kind):
        raise OutputRefused(
            f"{out} holds {_sample(found)} that crossrank did not write as {kind.article} {kind.name}; "
            "name a new or empty folder (nothing was touched)"
        )
    allowed = kind.entries if not kind.listed else _listed(out)
    if allowed is not None:
        foreign = [name for name in found if name not in allowed and name != MARKER]
        if foreign:
            raise OutputRefused(
                f"{out} is {kind.article} {kind.name} but also holds {_sample(foreign)}, which replacing it would "
                "delete; move those away or name another folder"
            )
    return out


def mark_output(folder: Path, kind: OutputKind) -> None:
    """Write the marker that lets a later run recognise `folder` as its own output."""
    from crossrank.version import crossrank_version

    marker: dict[str, object] = {"written_by": "crossrank", "kind": kind.name, "version": crossrank_version()}
    if kind.listed:
        marker["entries"] = sorted(entry.name for entry in folder.iterdir() if entry.name != MARKER)
    write_atomic(folder / MARKER, json.dumps(marker) + "\n")


def write_atomic(path: Path, text: str) -> Path:
    """Write `text` to `path` through a new file in the same folder, so readers see old or new, never half.

    The temporary file is created as `open` would create it (the user's umask applies), so the finished file
    has the mode the user expects."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_lines_atomic(path: Path, lines: Iterable[str]) -> Path:
    """`write_atomic` for text produced line by line (each line without its newline): memory holds one line."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line + "\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def follow_umask(paths: Iterable[Path]) -> None:
    """Give files that another library wrote with a mode of its own (safetensors writes 0600) the mode `open`
    would have given them under the user's umask. The mode is learnt from a probe file in the same folder, so
    the process-wide umask is never changed."""
    for path in paths:
        probe = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.mode")
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        try:
            os.chmod(path, probe.stat().st_mode & 0o777)
        finally:
            probe.unlink()


def new_folder_beside(out: Path) -> Path:
    """A new temporary folder next to `out` (same file system, so it can be renamed into place), made as
    `mkdir` makes folders (the user's umask applies)."""
    tmp = out.with_name(f".{out.name}.building.{uuid.uuid4().hex[:12]}")
    tmp.mkdir()
    return tmp


def replace_folder(new: Path, out: Path, kind: OutputKind) -> None:
    """Swap a finished build in for `out`. `out` is checked again first (`check_output`): a long build must
    not delete what was put there meanwhile. The old folder is removed only after the new one is in place,
    so readers see the old or the new, never neither."""
    check_output(out, kind)
    if out.exists():
        old = out.with_name(f".{out.name}.old.{time.time_ns()}")
        out.rename(old)
        new.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(out)


def _owned(folder: Path, kind: OutputKind) -> bool:
    """True only when `folder` holds crossrank's marker for `kind` (a real file, not a link)."""
    marker = folder / MARKER
    if marker.is_symlink() or not marker.is_file():
        return False
    try:
        found = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(found, dict) and found.get("written_by") == "crossrank" and found.get("kind") == kind.name


def _listed(folder: Path) -> frozenset[str]:
    """The entries the marker of a `listed` kind's folder says its command wrote (none if it lists none)."""
    try:
        found = json.loads((folder / MARKER).read_text(encoding="utf-8")).get("entries")
    except (OSError, ValueError, AttributeError):
        return frozenset()
    return frozenset(str(name) for name in found) if isinstance(found, list) else frozenset()


def _sample(names: Sequence[str]) -> str:
    shown = ", ".join(names[:3])
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return f"{len(names)} entr{'y' if len(names) == 1 else 'ies'} ({shown}{more})"
