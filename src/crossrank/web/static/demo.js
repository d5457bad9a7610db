// crossrank's in-browser demo page: download the model once, then rerank the passages live as you type, on
// this device.
import { applyCut, passages, showResults as show } from "./page.js";
import { Scorer } from "./scorer.js";

const $ = (id) => document.getElementById(id);

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
