"""Never destroy what a user owns: every output a command is pointed at is checked before anything is written."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from crossrank.cli import main
from crossrank.errors import OutputRefused
from crossrank.outputs import EVAL, INDEX, MODEL, check_output, new_folder_beside, replace_folder, write_atomic


def tree_hash(root: Path) -> str:
    """A hash of every path, link target and file's bytes below `root` (the folder's whole state)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_symlink():
            digest.update(str(path.readlink()).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture()
def world(tmp_path: Path) -> Path:
    """A user's folder: documents to index, a folder of their own, a file, a link to their folder."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Glaciers carve valleys as they move downhill over thousands of years.\n")
    (docs / "b.md").write_text("Rain forms when water vapour condenses around dust in cold air.\n")
    (docs / "notes.bin").write_bytes(b"\x00\x01 never indexed")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("important")
    (tmp_path / "file.txt").write_text("a file, not a folder")
    (tmp_path / "link").symlink_to(mine)
    return tmp_path


@pytest.mark.parametrize(
    ("out", "expected"),
    [
        ("mine", "holds 1 entry (keep.txt) that crossrank did not write"),
        ("file.txt", "is a file crossrank did not write"),
        ("docs", "is also the input"),
        (".", "the input {root}/docs lies inside"),
        ("link", "is a symbolic link"),
        ("docs/sub", "lies inside the input"),
    ],
)
def test_index_refuses_what_it_did_not_make(
    world: Path, out: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_hash(world)
    code = main(["index", str(world / "docs"), "--out", str(world / out), "--no-dense", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert expected.format(root=world) in err and "crossrank: error:" in err
    assert tree_hash(world) == before


def test_index_replaces_its_own_earlier_index_but_not_what_was_added_to_it(
    world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["index", str(world / "docs"), "--out", str(world / "idx"), "--no-dense", "--no-progress"]
    assert main(args) == 0
    (world / "docs" / "c.txt").write_text("Wind turbines turn the wind's motion into electricity.\n")
    assert main(args) == 0
    assert "indexed 3 documents" in capsys.readouterr().out
    assert sorted(p.name for p in world.iterdir() if p.name.startswith(".idx")) == []  # no leftovers
    (world / "idx" / "my-notes.txt").write_text("mine")
    before = tree_hash(world)
    assert main(args) == 2
    assert "also holds 1 entry (my-notes.txt), which replacing it would delete" in capsys.readouterr().err
    assert tree_hash(world) == before


def test_an_empty_folder_is_a_fine_output(world: Path) -> None:
    (world / "empty").mkdir()
    assert main(["index", str(world / "docs"), "--out", str(world / "empty"), "--no-dense", "--no-progress"]) == 0
    assert (world / "empty" / "manifest.json").is_file()


def test_kinds_do_not_mistake_each_other(world: Path) -> None:
    assert main(["index", str(world / "docs"), "--out", str(world / "idx"), "--no-dense", "--no-progress"]) == 0
    with pytest.raises(OutputRefused, match="did not write as an eval"):
        check_output(world / "idx", EVAL)
    with pytest.raises(OutputRefused, match="did not write as a model"):
        check_output(world / "idx", MODEL)
    assert check_output(world / "idx", INDEX) == world / "idx"


def test_eval_and_train_refuse_before_any_work(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_hash(world)
    assert main(["eval", "--dataset", str(world / "docs"), "--out", str(world / "mine")]) == 2
    assert main(["train", "--data", str(world / "file.txt"), "--out", str(world / "mine"), "--no-export"]) == 2
    err = capsys.readouterr().err
    assert "mine holds 1 entry (keep.txt) that crossrank did not write as an eval" in err
    assert "mine holds 1 entry (keep.txt) that crossrank did not write as a model" in err
    assert tree_hash(world) == before


def test_the_swap_checks_again_what_appeared_during_a_long_build(world: Path) -> None:
    """A file the user puts into the output while a build runs is not deleted by the final swap."""
    assert main(["index", str(world / "docs"), "--out", str(world / "idx"), "--no-dense", "--no-progress"]) == 0
    new = new_folder_beside(world / "idx")
    (new / "manifest.json").write_text("{}")
    (world / "idx" / "added-meanwhile.txt").write_text("mine")
    before = tree_hash(world / "idx")
    with pytest.raises(OutputRefused, match="added-meanwhile.txt"):
        replace_folder(new, world / "idx", INDEX)
    assert tree_hash(world / "idx") == before


def test_written_files_and_folders_get_the_users_usual_mode(world: Path) -> None:
    import os
    import stat

    mask = os.umask(0o027)
    try:
        folder = new_folder_beside(world / "out")
        written = write_atomic(folder / "f.txt", "text")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert stat.S_IMODE(written.stat().st_mode) == 0o640
    assert [p.name for p in folder.iterdir()] == ["f.txt"]  # no temporary file left behind


# A user's folders that happen to hold a file named like crossrank's output: none of them is crossrank's.
USERS_LOOKALIKES = {
    "site": {"index.html": "<h1>my site</h1>", "style.css": "h1 {}", "demo.json": '{"my": 1}'},
    "results": {"report.json": '{"my": 1}', "notes.txt": "keep"},
    "webapp": {"manifest.json": '{"name": "my app"}'},
    "jobs": {"job.json": '{"mine": true}', "results.jsonl": '{"mine": true}\n'},
    "checkpoint": {"training.json": "{}", "config.json": '{"mine": true}', "notes.txt": "keep"},
}


@pytest.fixture()
def lookalikes(world: Path) -> Path:
    for folder, files in USERS_LOOKALIKES.items():
        (world / folder).mkdir()
        for name, text in files.items():
            (world / folder / name).write_text(text)
    return world


@pytest.mark.parametrize(
    ("folder", "argv"),
    [
        ("site", ["demo", "--out", "{out}"]),
        ("results", ["eval", "--dataset", "{beir}", "--no-rerank", "--out", "{out}"]),
        ("webapp", ["index", "{docs}", "--out", "{out}", "--no-dense", "--no-progress"]),
        ("jobs", ["batch", "{rows}", "--out", "{out}"]),
        ("checkpoint", ["train", "--data", "{rows}", "--out", "{out}", "--no-export"]),
    ],
)
def test_a_file_named_like_our_output_does_not_make_a_folder_ours(
    lookalikes: Path, folder: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.conftest import write_beir

    beir = write_beir(lookalikes.parent / f"{lookalikes.name}-beir")
    rows = lookalikes.parent / f"{lookalikes.name}-rows.jsonl"
    rows.write_text('{"query": "q", "documents": ["a", "b"]}\n')
    filled = [a.format(out=lookalikes / folder, beir=beir, docs=lookalikes / "docs", rows=rows) for a in argv]
    before = tree_hash(lookalikes)
    assert main(filled) == 2
    err = capsys.readouterr().err
    assert f"crossrank: error: {lookalikes / folder} holds" in err and "crossrank did not write" in err
    assert tree_hash(lookalikes) == before


def test_a_marker_counts_only_when_crossrank_wrote_it_for_that_kind(world: Path) -> None:
    out = world / "out"
    out.mkdir()
    (out / "report.json").write_text("{}")
    for text in ('{"kind": "eval"}', "[]", "not json", '{"kind": "index", "written_by": "crossrank"}'):
        (out / ".crossrank-output.json").write_text(text)
        with pytest.raises(OutputRefused, match="did not write as an eval"):
            check_output(out, EVAL)
    (out / ".crossrank-output.json").write_text('{"kind": "eval", "written_by": "crossrank", "version": "0.0.1"}')
    assert check_output(out, EVAL) == out


def test_a_users_folder_holding_a_report_json_is_refused_as_the_users(world: Path) -> None:
    (world / "theirs").mkdir()
    (world / "theirs" / "report.json").write_text("{}")
    with pytest.raises(OutputRefused) as refused:
        check_output(world / "theirs", EVAL)
    assert "crossrank did not write" in str(refused.value) and "older crossrank" not in str(refused.value)


def test_the_marker_names_kind_and_version(world: Path) -> None:
    import json

    from crossrank import __version__

    assert main(["index", str(world / "docs"), "--out", str(world / "idx"), "--no-dense", "--no-progress"]) == 0
    marker = json.loads((world / "idx" / ".crossrank-output.json").read_text())
    assert marker == {"written_by": "crossrank", "kind": "index", "version": __version__}


def test_the_plot_and_the_model_weights_follow_the_umask(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os
    import stat

    from crossrank.outputs import follow_umask
    from tests.conftest import write_beir

    beir = write_beir(world / "beir")
    weights = world / "model.safetensors"
    weights.write_bytes(b"weights")
    os.chmod(weights, 0o600)  # as safetensors leaves it
    mask = os.umask(0o022)
    try:
        assert main(["eval", "--dataset", str(beir), "--no-rerank", "--out", str(world / "report")]) == 0
        follow_umask([weights])
    finally:
        os.umask(mask)
    assert stat.S_IMODE((world / "report" / "plot.png").stat().st_mode) == 0o644
    assert stat.S_IMODE((world / "report" / "report.json").stat().st_mode) == 0o644
    assert stat.S_IMODE(weights.stat().st_mode) == 0o644
    assert sorted(p.name for p in world.iterdir() if p.name.startswith(".")) == []  # no probe or temporary left
