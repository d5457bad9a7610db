"""The demo page, driven in headless Chromium by Playwright: the displayed order is the API's order, the
page is keyboard-usable and labelled, and server errors appear in plain words."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crossrank import Reranker
from crossrank.server.config import ServerConfig
from tests.server.live import LiveServer
from tests.tiny_models import CORPUS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(tiny_bert: Path, cache_dir: Path) -> Iterator[LiveServer]:
    reranker = Reranker(tiny_bert, cache_dir=cache_dir)
    with LiveServer(reranker, ServerConfig(max_documents=12)) as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


def _order(page: object) -> list[int]:
    return [int(i) for i in page.eval_on_selector_all("#results li", "els => els.map(e => e.dataset.index)")]  # type: ignore[attr-defined]


def test_page_shows_the_api_order(server: LiveServer, browser: object, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    page.goto(server.url)
    page.wait_for_selector("#results li")  # the preloaded example renders on first visit
    assert page.locator("#model").inner_text().startswith("tiny")
    passages = CORPUS[:6]
    page.fill("#query", "supersonic wing flow")
    page.fill("#passages", "\n".join(passages))
    page.keyboard.press("Enter")  # submits the form from the query box
    page.wait_for_function(  # the new passages, not the preloaded example, are on screen
        "wanted => { const shown = [...document.querySelectorAll('#results li .text')].map(e => e.textContent);"
        " return shown.length === wanted.length && shown.every(t => wanted.includes(t)); }",
        arg=passages,
    )
    api = httpx.post(f"{server.url}/v2/rerank", json={"query": "supersonic wing flow", "documents": passages}).json()
    assert _order(page) == [r["index"] for r in api["results"]]
    assert page.evaluate("document.body.dataset.scoredIn") == "browser"  # the default: on the visitor's device
    assert page.evaluate("self.crossOriginIsolated") is True  # COOP + COEP: WebAssembly may use threads
    cores = int(page.evaluate("navigator.hardwareConcurrency"))
    threads = min(4, cores)
    assert page.inner_text("#where-note").endswith(f"{threads} thread{'s' if threads > 1 else ''}")
    assert "in this browser" in page.inner_text("#status")
    browser_scores = page.eval_on_selector_all("#results li", "els => els.map(e => Number(e.dataset.score))")
    assert browser_scores == pytest.approx([r["relevance_score"] for r in api["results"]], abs=2e-4)
    page.check("#where-server")
    page.wait_for_function("document.body.dataset.scoredIn === 'server'")
    assert "on the server" in page.inner_text("#status")
    assert _order(page) == [r["index"] for r in api["results"]]
    texts = page.eval_on_selector_all("#results li .text", "els => els.map(e => e.textContent)")
    assert texts == [passages[r["index"]] for r in api["results"]]
    page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    assert (tmp_path / "page.png").stat().st_size > 1000
    page.close()


def test_accessibility_basics(server: LiveServer, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(server.url)
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input, textarea')]"
        '.filter(e => !document.querySelector(`label[for="${e.id}"]`)).map(e => e.id)'
    )
    assert unlabelled == []
    focus = []
    for _ in range(4):
        page.keyboard.press("Tab")
        focus.append(page.evaluate("document.activeElement.id"))
    assert focus == ["where-browser", "query", "passages", "rerank"]
    ratios = page.evaluate(
        """() => {
        const rgb = s => s.match(/\\d+/g).slice(0, 3).map(Number).map(v => v / 255)
            .map(c => c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
        const lum = s => { const [r, g, b] = rgb(s); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        const ratio = (a, b) => {
            const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
            return (x + 0.05) / (y + 0.05);
        };
        const bg = getComputedStyle(document.body).backgroundColor;
        const button = document.getElementById('rerank');
        return {
          body: ratio(getComputedStyle(document.body).color, bg),
          lead: ratio(getComputedStyle(document.querySelector('p.lead')).color, bg),
          button: ratio(getComputedStyle(button).color, getComputedStyle(button).backgroundColor),
        };
    }"""
    )
    assert all(value >= 4.5 for value in ratios.values()), ratios  # WCAG AA for normal text
    page.close()


def test_server_errors_in_plain_words(server: LiveServer, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(server.url)
    page.wait_for_selector("#results li")
    page.check("#where-server")  # the limit is the server's: the browser scores any number
    page.fill("#passages", "\n".join(f"passage number {i}" for i in range(20)))
    page.click("#rerank")
    page.wait_for_function("document.getElementById('error').textContent.length > 0")
    assert "at most 12 per request" in page.inner_text("#error")
    page.close()


def test_page_works_with_an_api_key(tiny_bert: Path, cache_dir: Path, browser: object) -> None:
    """Started with --api-key: the page asks for the key, keeps it for the tab only, never puts it in a URL."""
    reranker = Reranker(tiny_bert, cache_dir=cache_dir)
    with LiveServer(reranker, ServerConfig(api_key="s3cret")) as live:
        page = browser.new_page()  # type: ignore[attr-defined]
        urls: list[str] = []
        page.on("request", lambda request: urls.append(request.url))
        page.goto(live.url)
        page.wait_for_function("document.getElementById('error').textContent.length > 0")
        assert page.inner_text("#error") == "This server needs an API key: enter it above."
        assert page.locator("#keybox").get_attribute("open") is not None
        page.fill("#key", "wrong")
        page.wait_for_function("document.getElementById('error').textContent.includes('refused this API key')")
        assert page.is_checked("#where-browser")  # a missing key is no reason to leave the browser
        assert "cannot" not in page.inner_text("#where-note")
        page.fill("#key", "s3cret")
        page.wait_for_selector("#results li")
        assert page.inner_text("#error") == ""
        assert page.evaluate("document.body.dataset.scoredIn") == "browser"
        assert page.inner_text("#where-note").startswith("model loaded in")
        page.check("#where-server")
        page.wait_for_function("document.body.dataset.scoredIn === 'server'")
        assert page.inner_text("#where-note") == ""  # the browser's model and threads are not the server's
        assert page.locator("#model").inner_text().startswith("tiny")
        assert page.evaluate("sessionStorage.getItem('crossrank-key')") == "s3cret"
        assert page.evaluate("localStorage.length") == 0
        assert not any("s3cret" in url for url in urls)
        assert httpx.get(f"{live.url}/favicon.ico").headers["content-type"].startswith("image/svg+xml")
        page.close()


def test_the_page_runs_the_served_cascade_in_the_browser(
    tiny_bert: Path, tiny_bert_two_logits: Path, cache_dir: Path, browser: object
) -> None:
    """A server whose model has a first pass sends both models to the page, which ranks as the server does."""
    cascade = Reranker(tiny_bert, cache_dir=cache_dir, cascade_model=tiny_bert_two_logits)
    passages = [f"{CORPUS[i % len(CORPUS)]} (copy {i})" for i in range(20)]  # 20 > the 15 kept
    with LiveServer(cascade, ServerConfig(max_documents=50)) as live:
        config = httpx.get(f"{live.url}/demo/demo.json").json()
        assert config["first_pass"]["keep"] == 15 and config["first_pass"]["name"] == tiny_bert_two_logits.name
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(live.url)
        page.wait_for_selector("#results li")
        page.fill("#query", "supersonic wing flow")
        page.fill("#passages", "\n".join(passages))
        page.wait_for_function("document.getElementById('status').textContent.startsWith('Scored 20 passages')")
        page.wait_for_function("document.body.dataset.scoredIn === 'browser'")
        api = httpx.post(f"{live.url}/v2/rerank", json={"query": "supersonic wing flow", "documents": passages}).json()
        assert _order(page) == [r["index"] for r in api["results"]]
        shown = page.eval_on_selector_all("#results li", "els => els.map(e => Number(e.dataset.score))")
        assert shown == pytest.approx([r["relevance_score"] for r in api["results"]], abs=2e-4)
        assert f"then {tiny_bert.name} on the best 15" in page.inner_text("#status")
        page.close()


def test_the_page_marks_the_part_that_matched(tiny_bert: Path, cache_dir: Path, browser: object) -> None:
    """Scored on the server over windows, each passage shows the window its score came from marked, the same
    characters as the library's evidence (code points: an emoji before it must not shift the mark)."""
    reranker = Reranker(tiny_bert, cache_dir=cache_dir, max_length=32, long_documents="window", window_overlap=8)
    long = "🙂 " + " ".join(CORPUS * 3) + " wind tunnel tests of supersonic flow over a wing"
    passages = [long, CORPUS[1]]
    query = "supersonic wing flow"
    expected = {r.index: r.evidence for r in reranker.rerank(query, passages, return_evidence=True)}
    assert expected[0] is not None and 0 < expected[0].end - expected[0].start < len(long)
    with LiveServer(reranker, ServerConfig()) as live:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(live.url)
        page.wait_for_selector("#results li")
        page.check("#where-server")
        page.fill("#query", query)
        page.fill("#passages", "\n".join(passages))
        page.keyboard.press("Enter")
        page.wait_for_function(
            "document.querySelectorAll('#results li .text').length === 2 && "
            "[...document.querySelectorAll('#results li .text')].some(e => e.querySelector('mark'))"
        )
        shown = page.eval_on_selector_all(
            "#results li",
            "els => els.map(e => [Number(e.dataset.index), e.querySelector('mark')?.textContent ?? null,"
            " e.querySelector('.text').textContent])",
        )
        page.close()
    marks = {index: mark for index, mark, _ in shown}
    span = expected[0]
    assert marks[0] == long[span.start : span.end]
    assert marks[1] is None  # a passage that fits one window: all of it matched, nothing to mark
    assert {index: text for index, _, text in shown} == {0: long, 1: CORPUS[1]}
