// crossrank's in-browser demo page: download the model once, then rerank the passages live as you type, on
// this device.
import { applyCut as applyCutTo } from "./cut.js";
import { Scorer } from "./scorer.js";

const $ = (id) => document.getElementById(id);

function passages() {
  const text = $("passages").value.replace(/\r/g, "");
  const parts = /\n\s*\n/.test(text) ? text.split(/\n\s*\n/) : text.split("\n");
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function show(docs, results) {
  const list = $("results");
  list.innerHTML = "";
  results.forEach((r, rank) => {
    const li = document.createElement("li");
    li.dataset.index = r.index;
    li.dataset.score = r.score;
    li.dataset.scoredBy = r.scoredBy;
    const moved = r.index - rank;
    const arrow = moved > 0 ? `<span class="up">▲ ${moved}</span>` : moved < 0 ? `<span class="down">▼ ${-moved}</span>` : "<span>=</span>";
    li.innerHTML = `<div class="meta"><strong>#${rank + 1}</strong><span class="score">${r.score.toFixed(3)}</span>` +
      `<span class="bar" aria-hidden="true"><span style="width:${Math.round(r.score * 100)}%"></span></span>` +
      `<span>was #${r.index + 1}</span>${arrow}</div><div class="text"></div>`;
    li.querySelector(".text").textContent = docs[r.index];
    list.appendChild(li);
  });
  applyCut();
}

/** Grey out the passages scoring below the slider's minimum (what `min_score` would drop); no rescoring. */
function applyCut() {  // grey out what min_score would drop; no rescoring
  applyCutTo($("results"), $("min-score"), $("min-score-value"), $("cut-note"));
}

let scorer = null, pending = null, seq = 0;
async function rerank() {
  if (!scorer) return;
  const query = $("query").value.trim(), docs = passages(), mine = ++seq;
  $("error").textContent = "";
  if (!query || docs.length === 0) { $("results").innerHTML = ""; $("status").textContent = "Type a query and at least one passage."; return; }
  $("status").textContent = `Scoring ${docs.length} passages…`;
  const started = performance.now();
  let ranked;
  try {
    ranked = await scorer.rank(query, docs);
  } catch (e) {
    if (mine === seq) { $("status").textContent = ""; $("error").textContent = `Scoring failed: ${e.message || e}`; }
    return;
  }
  if (mine !== seq) return; // a newer keystroke has started its own pass
  const ms = Math.round(performance.now() - started);
  const passes = ranked.timings.first === undefined ? ""
    : ` (${scorer.firstPass.name} ${Math.round(ranked.timings.first)} ms, then ${scorer.model.name} on the best ` +
      `${scorer.config.first_pass.keep}: ${Math.round(ranked.timings.full)} ms)`;
  $("status").textContent = `${docs.length} passages in ${ms} ms on this device${passes}.`;
  document.body.dataset.lastPassMs = ms;
  show(docs, ranked.results);
}

function schedule() { clearTimeout(pending); pending = setTimeout(rerank, 250); }

async function main() {
  const base = new URL(".", location.href);
  const config = await (await fetch(new URL("demo.json", base))).json();
  $("model").textContent = config.first_pass
    ? `${config.first_pass.name} top-${config.first_pass.keep} → ${config.name}` : config.name;
  $("query").value = config.example.query;
  $("passages").value = config.example.passages.join("\n");
  const bytes = config.model_bytes + (config.first_pass ? config.first_pass.model_bytes : 0);
  $("status").textContent = `Downloading the model (${(bytes / 1e6).toFixed(1)} MB)…`;
  try {
    scorer = await Scorer.load(base, (f) => {
      $("progress").value = f;
      if (f >= 1) $("status").textContent = "Preparing the model…";
    }, {}, config);
  } catch (e) {
    $("status").textContent = "";
    $("error").textContent = `The model could not be loaded: ${e.message || e}`;
    return;
  }
  $("progress").hidden = true;
  const threads = scorer.threads === 1 ? "1 thread" : `${scorer.threads} threads`;
  const isolated = self.crossOriginIsolated ? "" : "; the host sends no cross-origin isolation headers";
  $("engine").textContent = `ONNX Runtime Web, WebAssembly, ${threads}${isolated}`;
  document.body.dataset.loadMs = Math.round(scorer.loadMs);
  $("rerank").disabled = false;
  $("form").addEventListener("submit", (e) => { e.preventDefault(); clearTimeout(pending); rerank(); });
  $("query").addEventListener("input", schedule);
  $("passages").addEventListener("input", schedule);
  $("min-score").addEventListener("input", applyCut);
  window.crossrankScorer = scorer; // for tests and the curious: await crossrankScorer.score(query, passages)
  await rerank();
  $("status").textContent += ` Model loaded in ${Math.round(scorer.loadMs)} ms.`;
}

main();
