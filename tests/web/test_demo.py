"""The in-browser demo: `crossrank demo --out` served by a plain static file server, driven in headless Chromium.

The page must rank as `Reranker().rerank` does (scores within the float32 cross-CPU bound: the browser runs the
same 8-bit weights with float32 arithmetic), tokenize exactly as `tokenizers` does, and talk to no other origin.
"""

from __future__ import annotations

import functools
import http.server
import random
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crossrank import Reranker
from crossrank.cli import main
from crossrank.errors import ModelError, OutputRefused
from crossrank.models import default_model_dir
from crossrank.tokenization import load_tokenizer
from crossrank.web.demo import EXAMPLE_PASSAGES, EXAMPLE_QUERY, VENDOR_FILES, build_demo, static_dir
from tests.conftest import BROWSER_BOUND_INT8 as CROSS_CPU_BOUND  # the page runs static int8, as Python

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BUILT = all((static_dir() / "vendor" / f).is_file() for f in VENDOR_FILES)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
    pytest.mark.skipif(not BUILT, reason="the demo's JavaScript is not built: run scripts/build_web.sh (npm)"),
]


def _serve(tmp_path_factory: pytest.TempPathFactory, *model: str) -> Iterator[str]:
    """A demo written by the CLI (`model`: extra arguments) and served by Python's plain static file server."""
    out = tmp_path_factory.mktemp("demo") / "site"
    assert main(["demo", "--out", str(out), *model]) == 0
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    handler.log_message = lambda *args: None  # type: ignore[assignment,method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built-in model's demo."""
    yield from _serve(tmp_path_factory)


@pytest.fixture(scope="module")
def tiny_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """crossrank-tiny's demo: a 5 MB download, re-scoring as you type."""
    yield from _serve(tmp_path_factory, "--model", "crossrank-tiny")


@pytest.fixture(scope="module")
def user_site(tmp_path_factory: pytest.TempPathFactory, tiny_bert: Path) -> Iterator[tuple[str, Path]]:
    """The demo of a model the user brought: a toy BERT optimised by `crossrank optimize` (static int8)."""
    folder = tmp_path_factory.mktemp("optimized") / "toy-bert"
    assert main(["optimize", str(tiny_bert), "--out", str(folder)]) == 0
    for url in _serve(tmp_path_factory, "--model", str(folder)):
        yield url, folder


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


def _shown(page: object) -> list[tuple[int, float]]:
    rows = page.eval_on_selector_all(  # type: ignore[attr-defined]
        "#results li", "els => els.map(e => [Number(e.dataset.index), Number(e.dataset.score)])"
    )
    return [(int(i), float(s)) for i, s in rows]


def _pass_ms(page: object, query: str, passages: list[str]) -> float:
    """One scoring pass of the page's scorer, timed inside the page."""
    return float(
        page.evaluate(  # type: ignore[attr-defined]
            "async ([q, docs]) => { const t = performance.now(); await crossrankScorer.score(q, docs);"
            " return performance.now() - t; }",
            [query, passages],
        )
    )


def test_the_page_ranks_as_python_does_and_stays_on_its_origin(site: str, browser: object) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    origins: list[str] = []
    page.on("request", lambda request: origins.append(urlsplit(request.url).netloc))
    started = time.perf_counter()
    page.goto(site)
    page.wait_for_selector("#results li", timeout=120_000)
    first_visit_s = time.perf_counter() - started
    reranker = Reranker()
    expected = reranker.rerank(EXAMPLE_QUERY, EXAMPLE_PASSAGES)
    shown = _shown(page)
    assert [i for i, _ in shown] == [r.index for r in expected]
    assert [s for _, s in shown] == pytest.approx([r.score for r in expected], abs=CROSS_CPU_BOUND)

    words = (" ".join(EXAMPLE_PASSAGES) + " ").split() * 20
    typed = [" ".join(words[7 * i : 7 * i + 40]) for i in range(10)]  # 10 passages of 40 words
    page.fill("#query", "what makes a wing stall")
    page.fill("#passages", "\n".join(typed))
    page.wait_for_function("document.getElementById('status').textContent.startsWith('10 passages in')")
    expected = reranker.rerank("what makes a wing stall", typed)
    shown = _shown(page)
    assert [i for i, _ in shown] == [r.index for r in expected]
    assert [s for _, s in shown] == pytest.approx([r.score for r in expected], abs=CROSS_CPU_BOUND)
    assert set(origins) == {urlsplit(site).netloc}  # nothing leaves for another origin
    assert page.locator("#progress").is_hidden() and "Downloading" not in page.inner_text("#status")
    assert "(s)" not in page.inner_text("#engine") and "1 thread" in page.inner_text("#engine")
    bars = page.eval_on_selector_all("#results .bar", "els => els.map(e => e.getBoundingClientRect().left)")
    assert len(bars) == 10 and len(set(bars)) == 1, bars  # #10's bar lines up with #1-#9's
    load_ms = int(page.evaluate("document.body.dataset.loadMs"))
    timings = [_pass_ms(page, "what makes a wing stall", typed) for _ in range(3)]
    print(
        f"\nin-browser demo (headless Chromium, 1 thread): first visit to first ranking {first_visit_s:.2f} s, "
        f"model load {load_ms} ms, 10 passages of 40 words in {min(timings):.0f} ms (best of 3)"
    )
    page.close()


def test_the_page_runs_the_default_path_as_python_does(site: str, browser: object) -> None:
    """Over 15 passages the page runs the cascade (crossrank-tiny first), and ranks, scores and names the scoring
    model as `Reranker()` does; the slider greys out what `min_score` would drop."""
    page = browser.new_page(viewport={"width": 1000, "height": 900})  # type: ignore[attr-defined]
    page.goto(site)
    page.wait_for_selector("#results li", timeout=120_000)
    assert page.text_content("#model") == "crossrank-tiny top-15 → crossrank-default"
    words = (" ".join(EXAMPLE_PASSAGES) + " ").split() * 30
    typed = [" ".join(words[5 * i : 5 * i + 25]) for i in range(24)]  # 24 passages > 15 kept
    page.fill("#query", "what makes a wing stall")
    page.fill("#passages", "\n".join(typed))
    page.wait_for_function("document.getElementById('status').textContent.startsWith('24 passages in')")
    expected = Reranker().rerank("what makes a wing stall", typed)
    shown = _shown(page)
    assert [i for i, _ in shown] == [r.index for r in expected]
    assert [s for _, s in shown] == pytest.approx([r.score for r in expected], abs=CROSS_CPU_BOUND)
    scored_by = page.eval_on_selector_all("#results li", "els => els.map(e => e.dataset.scoredBy)")
    assert scored_by == [r.scored_by for r in expected]
    assert "crossrank-tiny" in page.inner_text(
        "#status"
    ) and "then crossrank-default on the best 15" in page.inner_text("#status")
    threshold = expected[5].score
    page.evaluate(
        "v => { const s = document.getElementById('min-score'); s.value = v; s.dispatchEvent(new Event('input')); }",
        threshold,
    )
    dropped = page.eval_on_selector_all("#results li", "els => els.map(e => e.classList.contains('dropped'))")
    slider = float(page.input_value("#min-score"))  # the range input rounds to its 0.05 steps
    assert dropped == [r.score < slider for r in expected] and any(dropped)
    page.close()


def test_the_tiny_model_runs_in_the_page_as_in_python(tiny_site: str, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(tiny_site)
    page.wait_for_selector("#results li", timeout=120_000)
    assert page.text_content("#model") == "crossrank-tiny"
    reranker = Reranker("crossrank-tiny")
    expected = reranker.rerank(EXAMPLE_QUERY, EXAMPLE_PASSAGES)
    shown = _shown(page)
    assert [i for i, _ in shown] == [r.index for r in expected]
    assert [s for _, s in shown] == pytest.approx([r.score for r in expected], abs=CROSS_CPU_BOUND)
    words = (" ".join(EXAMPLE_PASSAGES) + " ").split() * 20
    typed = [" ".join(words[7 * i : 7 * i + 40]) for i in range(10)]
    timings = [_pass_ms(page, "what makes a wing stall", typed) for _ in range(3)]
    load_ms = int(page.evaluate("document.body.dataset.loadMs"))
    print(f"\ncrossrank-tiny in the page: model load {load_ms} ms, 10 passages of 40 words in {min(timings):.0f} ms")
    page.close()


def test_an_optimised_model_of_the_user_s_runs_in_the_page_as_in_python(
    user_site: tuple[str, Path], browser: object
) -> None:
    url, folder = user_site
    reranker = Reranker(folder)
    assert reranker.backend.arithmetic == "static int8"  # the page runs the same static int8 graph
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(url)
    page.wait_for_selector("#results li", timeout=120_000)
    assert page.text_content("#model") == "toy-bert"
    expected = reranker.rerank(EXAMPLE_QUERY, EXAMPLE_PASSAGES)
    shown = _shown(page)
    assert [i for i, _ in shown] == [r.index for r in expected]
    assert [s for _, s in shown] == pytest.approx([r.score for r in expected], abs=CROSS_CPU_BOUND)
    page.close()


def test_a_model_too_large_for_a_page_is_refused_plainly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crossrank.web import demo

    monkeypatch.setattr(demo, "PAGE_MODEL_LIMIT", 1_000_000)  # crossrank-default's 23 MB is then too large
    with pytest.raises(ModelError, match=r"crossrank-default: its browser model is 2\d MB, too large for a page"):
        build_demo(tmp_path / "site", cascade=False, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "site").exists()


def test_tokenizer_ids_equal_tokenizers(site: str, browser: object) -> None:
    """Over 1,000 strings: accents, CJK, emoji, punctuation runs, controls, very long text, the empty string."""
    rng = random.Random(5)
    pieces = [
        "Café",
        "naïve",
        "Ångström",
        "İstanbul",
        "ΟΔΟΣ",
        "straße",
        "Œuvre",
        "résumé",
        "東京タワー",
        "北京大学",
        "한국어",
        "😀",
        "👩🏽‍🚀",
        "🇫🇷",
        "...",
        "?!?!",
        "—",
        "«»",
        "(a)",
        "$5.00",
        "a+b=c",
        "e.g.",
        "don't",
        "\t",
        "\n",
        "\r\n",
        "\x00",
        "\x0c",
        "\u200b",
        "\u2028",
        "\ufeff",
        "\u00a0",
        "x\u0301",
        "ﬁ",
        "ＡＢＣ",
        "unaffable",
        "hyperparameterisation",
        "COVID-19",
        "3.14159",
        "@user",
        "#tag",
        "http://a.b/c?d=e",
    ]
    texts = [""]
    for n in range(1, 1_050):
        texts.append(" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 12))))
        if n % 100 == 0:
            texts.append("word " * 3_000 + rng.choice(pieces))  # very long
    tokenizer = load_tokenizer(default_model_dir())
    expected = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(site)
    page.wait_for_function("window.crossrankScorer !== undefined", timeout=120_000)
    got = page.evaluate("texts => texts.map(t => crossrankScorer.tokenizer.encode(t))", texts)
    mismatches = [(t[:60], e[:12], g[:12]) for t, e, g in zip(texts, expected, got, strict=True) if e != g]
    assert not mismatches, mismatches[:5]
    assert len(texts) >= 1_000
    page.close()


def test_demo_refuses_foreign_folders(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(OutputRefused, match="notes.txt"):
        build_demo(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_the_wheel_carries_the_built_demo(tmp_path: Path) -> None:
    """`pip install` users get a working demo without node: the wheel holds the page and ONNX Runtime Web."""
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(root),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("crossrank-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = [f"crossrank/web/static/{f}" for f in ("index.html", "demo.js", "scorer.js", "tokenizer.js")]
    wanted += [f"crossrank/web/static/vendor/{f}" for f in VENDOR_FILES]
    assert [w for w in wanted if w not in names] == []


def test_the_site_follows_the_umask(tmp_path: Path) -> None:
    """Every folder and file of the site, ONNX Runtime Web's included, is made as the user's umask says."""
    import os
    import stat

    mask = os.umask(0o077)
    try:
        site = build_demo(tmp_path / "site", model="crossrank-tiny", cascade=False, cache_dir=tmp_path / "cache")
    finally:
        os.umask(mask)
    entries = [site.out, *site.out.rglob("*")]
    assert any(p.parent.name == "vendor" for p in entries)
    loose = [
        (str(p.relative_to(tmp_path)), oct(stat.S_IMODE(p.stat().st_mode))) for p in entries if p.stat().st_mode & 0o077
    ]
    assert not loose


def test_a_demo_is_rewritten_over_its_own_earlier_site(tmp_path: Path) -> None:
    """Every file the site holds is one the demo kind owns, so writing the demo again to the same folder replaces
    it (a page file missing from that list made the second run refuse its own site)."""
    from crossrank.outputs import DEMO
    from crossrank.web.demo import PAGE_FILES

    assert DEMO.entries is not None and set(PAGE_FILES) <= DEMO.entries
    first = build_demo(tmp_path / "site", model="crossrank-tiny", cascade=False, cache_dir=tmp_path / "cache")
    again = build_demo(tmp_path / "site", model="crossrank-tiny", cascade=False, cache_dir=tmp_path / "cache")
    assert again.out == first.out and (again.out / "page.js").is_file()
