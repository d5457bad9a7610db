"""The README's code runs as written: every bash block in a shell from the project root (`.venv/bin` first on the
PATH, background processes stopped afterwards), every python block in a fresh interpreter, and a python block
written as a doctest (`>>>`) must print what the README shows. A block preceded by `<!-- not run: REASON -->`
is skipped, with its reason."""

from __future__ import annotations

import contextlib
import doctest
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DATASETS = ROOT.parent / "shared" / "datasets"
BLOCK = re.compile(r"(?:<!-- not run: (?P<reason>[^>]*) -->\n)?```(?P<lang>bash|python)\n(?P<code>.*?)```", re.S)


def blocks() -> list[tuple[int, str, str, str | None]]:
    """(line, language, code, reason not to run) for every bash and python block of the README."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start("code")), m["lang"], m["code"], m["reason"]) for m in BLOCK.finditer(text)]


@pytest.mark.slow  # the quick start trains, evaluates and serves: minutes
@pytest.mark.parametrize(
    ("line", "lang", "code", "reason"), [pytest.param(*b, id=f"line{b[0]}-{b[1]}") for b in blocks()]
)
def test_the_readme_block_runs_as_written(line: int, lang: str, code: str, reason: str | None) -> None:
    if reason is not None:
        pytest.skip(f"README line {line}: {reason}")
    if "../shared/datasets" in code and not DATASETS.is_dir():
        pytest.skip(f"README line {line}: ../shared/datasets is not beside the project")
    if lang == "python" and ">>>" in code:
        _doctest(code, line)
        return
    command = ["bash", "-euo", "pipefail", "-c", code] if lang == "bash" else [sys.executable, "-c", code]
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    with tempfile.TemporaryFile(mode="w+") as log:  # a file, not a pipe: a background server keeps a pipe open
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            proc.wait(timeout=900)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # what the block left running in the background (a server)
        log.seek(0)
        output = log.read()
    assert proc.returncode == 0, f"README line {line}:\n{output[-6000:]}"
    assert "Traceback" not in output, f"README line {line}:\n{output[-6000:]}"


def _doctest(code: str, line: int) -> None:
    test = doctest.DocTestParser().get_doctest(code, {}, f"README.md line {line}", str(README), line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    old_cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        runner.run(test)
    finally:
        os.chdir(old_cwd)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"README line {line}: {result.failed} example(s) printed something else"
