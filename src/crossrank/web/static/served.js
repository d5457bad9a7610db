// The page of `crossrank serve` at /: the static demo's page code (page.js, scorer.js) plus what a server adds:
// scoring in this browser or on the server, the API key, and the served model's name from /v1/models.
import { applyCut, passages, showResults } from "./page.js";

const $ = (id) => document.getElementById(id);
let pending = null, seq = 0;
function headers() {
  const key = $("key").value.trim();
  const h = { "Content-Type": "application/json" };
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}
function needKey() {
  $("keybox").open = true;
  $("error").textContent = $("key").value ? "The server refused this API key." : "This server needs an API key: enter it above.";
}
let browserScorer = null, browserLoading = null;
function where() { return $("where-browser").checked ? "browser" : "server"; }
function note() {  // what the chosen place needs saying: the browser's model and threads, or nothing
  if (where() === "server") { $("where-note").textContent = ""; return; }
  if (!browserScorer) return;
  const threads = browserScorer.threads === 1 ? "1 thread" : `${browserScorer.threads} threads`;
  $("where-note").textContent = `model loaded in ${Math.round(browserScorer.loadMs)} ms, ${threads}`;
}
async function loadBrowser() {
  if (!browserLoading) {
    browserLoading = import("./scorer.js")
      .then(({ Scorer }) => Scorer.load(new URL("/demo/", location.href), (f) => {
        $("where-note").textContent = f < 1 ? `downloading the model: ${Math.round(f * 100)}%` : "preparing the model…";
      }, headers()))
      .then((s) => { browserScorer = s; note(); return s; })
      .catch((e) => {
        browserLoading = null;
        if (e.status === 401) { $("where-note").textContent = ""; const k = new Error("key"); k.key = true; throw k; }
        $("where-server").checked = true;
        $("where-note").textContent = `scoring on the server: this browser cannot (${e.message || e})`;
        throw e;
      });
  }
  return browserLoading;
}
let passes = "";  // what the browser's last ranking took, pass by pass
async function scoreInBrowser(query, docs) {
  const scorer = browserScorer || await loadBrowser();
  const { results, timings } = await scorer.rank(query, docs);
  passes = timings.first === undefined ? "" : ` (${scorer.firstPass.name} ${Math.round(timings.first)} ms, ` +
    `then ${scorer.model.name} on the best ${scorer.config.first_pass.keep}: ${Math.round(timings.full)} ms)`;
  return results.map((r) => ({ index: r.index, relevance_score: r.score }));
}
async function scoreOnServer(query, docs) {
  const response = await fetch("/v2/rerank", { method: "POST", headers: headers(),
    body: JSON.stringify({ query, documents: docs, return_evidence: true }) });
  const body = await response.json().catch(() => ({}));
  if (response.status === 401) { const e = new Error("key"); e.key = true; throw e; }
  if (!response.ok) throw new Error(body.message || ("The server answered " + response.status + "."));
  return body.results;
}
async function rerank() {
  const query = $("query").value.trim(), docs = passages(), mine = ++seq, place = where();
  $("error").textContent = "";
  if (!query || docs.length === 0) { $("results").innerHTML = ""; $("status").textContent = "Type a query and at least one passage."; return; }
  $("status").textContent = "Scoring " + docs.length + " passages " + (place === "browser" ? "in this browser…" : "on the server…");
  const started = performance.now();
  let results;
  try {
    results = place === "browser" ? await scoreInBrowser(query, docs) : await scoreOnServer(query, docs);
  } catch (e) {
    if (mine !== seq) return;
    $("status").textContent = "";
    if (e.key) { needKey(); return; }
    if (place === "browser" && where() === "server") { rerank(); return; } // fell back to the server
    $("error").textContent = e instanceof TypeError ? "The server cannot be reached. Is crossrank serve still running?" : e.message;
    return;
  }
  if (mine !== seq) return;
  const ms = Math.round(performance.now() - started);
  $("status").textContent = "Scored " + docs.length + " passages in " + ms + " ms " +
    (place === "browser" ? "in this browser" + passes + "." : "on the server.");
  document.body.dataset.scoredIn = place;
  showResults(docs, results.map((r) => ({ index: r.index, score: r.relevance_score, evidence: r.evidence })));
}
function schedule() { clearTimeout(pending); pending = setTimeout(rerank, 400); }
$("form").addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(pending); rerank(); });
$("query").addEventListener("input", schedule);
$("where-browser").addEventListener("change", () => { note(); clearTimeout(pending); rerank(); });
$("where-server").addEventListener("change", () => { note(); clearTimeout(pending); rerank(); });
$("passages").addEventListener("input", schedule);
$("min-score").addEventListener("input", applyCut);
function loadModel() {
  fetch("/v1/models", { headers: headers() }).then((r) => {
    if (r.status === 401) { $("model").textContent = "(enter the API key to see it)"; return null; }
    return r.json();
  }).then((m) => { const d = m && m.data && m.data[0]; if (d) $("model").textContent = (d.ranks_with || d.id).replace(" > ", " → ") + " (" + (d.backend || "loading") + ")"; }).catch(() => {});
}
$("key").value = sessionStorage.getItem("crossrank-key") || "";
$("key").addEventListener("input", () => { sessionStorage.setItem("crossrank-key", $("key").value); loadModel(); schedule(); });
loadModel();
rerank();
