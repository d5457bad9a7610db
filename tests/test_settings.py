"""Every knob that shapes a score is declared once: `ModelSettings` holds each argument of `Reranker`, and the
command line's model options (shared by rerank, serve, search, eval and batch, which hand them to server replicas
and Ray actors) fill each one."""

from __future__ import annotations

import inspect
from dataclasses import fields

from crossrank import Reranker
from crossrank.cli import build_parser
from crossrank.cli.common import model_settings
from crossrank.settings import ModelSettings

# One non-default value per knob, as a command line would give it.
COMMAND_LINE = {
    "model": (["--model", "m"], "m"),
    "backend": (["--backend", "onnx-int8"], "onnx-int8"),
    "max_length": (["--max-length", "77"], 77),
    "batch_size": (["--batch-size", "5"], 5),
    "token_budget": (["--token-budget", "999"], 999),
    "threads": (["--threads", "3"], 3),
    "cache_dir": (["--cache-dir", "/tmp/c"], "/tmp/c"),
    "long_documents": (["--window"], "window"),
    "window_overlap": (["--window-overlap", "9"], 9),
    "aggregate": (["--aggregate", "mean"], "mean"),
    "cascade_keep": (["--cascade-keep", "7"], 7),
    "cascade_model": (["--no-cascade"], None),
    "cascade_length": (["--cascade-length", "33"], 33),
    "calibration": (["--calibration", "c.json"], "c.json"),
    "cache_size": (["--cache-size", "100"], 100),
}


def test_model_settings_hold_every_argument_of_the_reranker() -> None:
    arguments = [p for p in inspect.signature(Reranker.__init__).parameters if p != "self"]
    assert [f.name for f in fields(ModelSettings)] == arguments
    defaults = {p.name: p.default for p in inspect.signature(Reranker.__init__).parameters.values()}
    assert all(f.default == defaults[f.name] for f in fields(ModelSettings))  # the same defaults too


def test_every_knob_has_a_command_line_option() -> None:
    assert set(COMMAND_LINE) == {f.name for f in fields(ModelSettings)}, "a knob without a CLI option"
    parser = build_parser()
    for command in ("rerank", "serve", "search", "eval", "batch"):
        base = {
            "rerank": ["rerank", "-q", "q", "-d", "d.txt"],
            "serve": ["serve"],
            "search": ["search", "idx", "q"],
            "eval": ["eval", "--dataset", "x"],
            "batch": ["batch", "rows.jsonl", "--out", "o"],
        }[command]
        for name, (argv, value) in COMMAND_LINE.items():
            settings = model_settings(parser.parse_args([*base, *argv]))
            assert getattr(settings, name) == value, f"{command} {' '.join(argv)} does not set {name}"


def test_the_cli_options_are_made_from_the_one_declaration() -> None:
    """Each field of `ModelSettings` declares its option: the parser's action has its flags, help and default."""
    parser = build_parser()
    rerank = next(a for a in parser._subparsers._group_actions[0].choices["rerank"]._actions if a.dest == "model")  # type: ignore[union-attr]
    assert rerank.option_strings == ["--model", "-m"]
    for command in ("rerank", "serve", "search", "eval", "batch"):
        actions = parser._subparsers._group_actions[0].choices[command]._actions  # type: ignore[union-attr]
        for setting in fields(ModelSettings):
            declared = setting.metadata["option"]
            action = next(a for a in actions if declared.flags[0] in a.option_strings)
            assert action.dest == setting.name and action.help.startswith(declared.help)
            assert action.default == setting.default


def test_a_reranker_builds_from_its_settings(tiny_bert: object, cache_dir: object) -> None:
    settings = ModelSettings(model=str(tiny_bert), cache_dir=str(cache_dir), max_length=32)
    built = settings.load()
    direct = Reranker(str(tiny_bert), cache_dir=str(cache_dir), max_length=32)
    pairs = [("wing flow", "supersonic flow over a wing"), ("cat", "the cat sat on the mat")]
    assert built.score(pairs) == direct.score(pairs) and built.spec.max_length == 32
