"""The import graph between crossrank's parts (subpackages and top-level modules) has no cycle, lazy imports
inside functions included: each part can be read knowing only the parts below it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "crossrank"  # tests of another tree: set PACKAGE


def _part(module: str) -> str | None:
    """`crossrank.retrieval.index` -> `retrieval`; the package's own `__init__` is not a part."""
    pieces = module.split(".")
    return pieces[1] if pieces[0] == "crossrank" and len(pieces) > 1 else None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        source = _part(".".join(relative.parts))
        if source is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            for name in names:
                target = _part(name)
                if (
                    target is not None
                    and target != source
                    and (PACKAGE / target).exists()
                    or (target is not None and target != source and (PACKAGE / f"{target}.py").exists())
                ):
                    graph.setdefault(source, set()).add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycle = path[path.index(nxt) :] + [nxt]
                if min(cycle[:-1]) == cycle[0]:  # report each cycle once, from its smallest name
                    found.append(cycle)
            else:
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    return found


def test_no_import_cycle_between_parts() -> None:
    graph = import_graph()
    assert "retrieval" in graph and "evaluation" in graph  # the walk sees the package
    assert cycles(graph) == []


CORE = {
    "reranker",
    "encoded",
    "calibration",
    "ranking",
    "fusion",
    "tokenization",
    "batching",
    "version",
    "models",
    "backends",
    "export",
    "types",
    "errors",
    "cache",
    "hf",
    "progress",
    "documents",
}
"""The request-to-score path and what it stands on."""
UPPER = {"evaluation", "training", "retrieval", "server", "web", "cli", "batch", "integrations", "scorers", "corpora"}
"""What is built on the core: none of it may be imported by the core."""


def test_the_core_imports_nothing_built_on_it() -> None:
    graph = import_graph()
    names = {p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()}
    assert names >= CORE  # the core's names still exist
    wrong = {(part, target) for part in CORE for target in graph.get(part, ()) if target in UPPER}
    assert not wrong, f"core parts importing upper layers: {sorted(wrong)}"


ARGUMENT_DECLARATIONS = {"add", "add_model_arguments"}
"""Functions that only declare command-line arguments: long by nature, and read as a table."""


def test_modules_and_functions_stay_small_enough_to_hold_in_your_head() -> None:
    """No source module over 400 lines, no function over 60 (argument declarations aside)."""
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if source.count("\n") > 400:
            too_long.append(f"{path.relative_to(PACKAGE)}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name not in ARGUMENT_DECLARATIONS:
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > 60:
                    too_long.append(f"{path.relative_to(PACKAGE)}: {node.name} has {length} lines")
    assert not too_long, too_long


def test_no_module_imports_the_package_front_file() -> None:
    """`crossrank/__init__.py` is the public front door: nothing inside the package imports from it (which would run
    upward, and load the reranker into every module that only wanted a name)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "crossrank":
                offenders.append(str(path.relative_to(PACKAGE)))
            if isinstance(node, ast.Import) and any(a.name == "crossrank" for a in node.names):
                offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []


def test_batching_lives_in_its_own_module() -> None:
    """`tokenization` tokenizes; planning and padding batches is `batching`'s alone."""
    tree = ast.parse((PACKAGE / "tokenization.py").read_text(encoding="utf-8"))
    functions = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert not functions & {"concat", "plan_batches", "pad_batch", "_fill"}
    batching = ast.parse((PACKAGE / "batching.py").read_text(encoding="utf-8"))
    assert {"concat", "plan_batches", "pad_batch"} <= {n.name for n in batching.body if isinstance(n, ast.FunctionDef)}


def test_names_say_what_they_are() -> None:
    """One sigmoid; "calibration" means a score's calibration only (activation ranges are `activation_pairs`);
    runtime calibration apart from fitting and ECE (evaluation); one spelling of tokenize."""
    sigmoids, spellings = [], []
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        sigmoids += [
            f"{path.name}:{n.name}" for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and "sigmoid" in n.name
        ]
        spellings += [path.name] if "tokenis" in source.lower() else []
    assert sigmoids == ["calibration.py:sigmoid"] and spellings == []
    assert not (PACKAGE / "export" / "calibration.py").exists()
    runtime = {
        n.name for n in ast.parse((PACKAGE / "calibration.py").read_text()).body if isinstance(n, ast.FunctionDef)
    }
    assert runtime == {"load_calibration", "sigmoid"}


def test_one_page_codebase_serves_both_pages() -> None:
    """The static demo and the page of `crossrank serve` are built from one folder and share their code."""
    static = PACKAGE / "web" / "static"
    assert not (PACKAGE / "server" / "static").exists()
    for page in ("demo.js", "served.js"):
        assert 'from "./page.js"' in (static / page).read_text(encoding="utf-8")
    assert '<script type="module">' not in (static / "served.html").read_text(encoding="utf-8")  # no inline copy
