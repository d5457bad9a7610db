// crossrank's in-browser demo page: download the model once, then rerank the passages live as you type, on
// this device.
import { Scorer } from "./scorer.js";

const $ = (id) => document.getElementById(id);

function passages() {
  const text = $("passages").value.replace(/\r/g, "");
  const parts = /\n\s*\n/.test(text) ? text.split(/\n\s*\n/) : text.split("\n");
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function show(docs, scores) {
  const order = scores.map((s, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  const list = $("results");
  list.innerHTML = "";
  order.forEach((index, rank) => {
    const li = document.createElement("li");
    li.dataset.index = index;
    li.dataset.score = scores[index];
    const moved = index - rank;
    const arrow = moved > 0 ? `<span class="up">▲ ${moved}</span>` : moved < 0 ? `<span class="down">▼ ${-moved}</span>` : "<span>=</span>";
    li.innerHTML = `<div class="meta"><strong>#${rank + 1}</strong><span class="score">${scores[index].toFixed(3)}</span>` +
      `<span class="bar" aria-hidden="true"><span style="width:${Math.round(scores[index] * 100)}%"></span></span>` +
      `<span>was #${index + 1}</span>${arrow}</div><div class="text"></div>`;
    li.querySelector(".text").textContent = docs[index];
    list.appendChild(li);
  });
}

let scorer = null, pending = null, seq = 0;
async function rerank() {
  if (!scorer) return;
  const query = $("query").value.trim(), docs = passages(), mine = ++seq;
  $("error").textContent = "";
  if (!query || docs.length === 0) { $("results").innerHTML = ""; $("status").textContent = "Type a query and at least one passage."; return; }
  $("status").textContent = `Scoring ${docs.length} passages…`;
  const started = performance.now();
  let scores;
  try {
    scores = await scorer.score(query, docs);
  } catch (e) {
    if (mine === seq) { $("status").textContent = ""; $("error").textContent = `Scoring failed: ${e.message || e}`; }
    return;
  }
  if (mine !== seq) return; // a newer keystroke has started its own pass
  const ms = Math.round(performance.now() - started);
  $("status").textContent = `${docs.length} passages in ${ms} ms on this device.`;
  document.body.dataset.lastPassMs = ms;
  show(docs, scores);
}

function schedule() { clearTimeout(pending); pending = setTimeout(rerank, 250); }

async function main() {
  const base = new URL(".", location.href);
  const config = await (await fetch(new URL("demo.json", base))).json();
  $("model").textContent = config.name;
  $("query").value = config.example.query;
  $("passages").value = config.example.passages.join("\n");
  $("status").textContent = `Downloading the model (${(config.model_bytes / 1e6).toFixed(1)} MB)…`;
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
  window.crossrankScorer = scorer; // for tests and the curious: await crossrankScorer.score(query, passages)
  await rerank();
  $("status").textContent += ` Model loaded in ${Math.round(scorer.loadMs)} ms.`;
}

main();
