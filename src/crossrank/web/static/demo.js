// crossrank's in-browser demo: download the model once, then score every (query, passage) pair on this device
// with ONNX Runtime Web (WebAssembly; threads when the page is cross-origin isolated), one pair per run as the
// Python library does, and reorder the passages live as you type.
import * as ort from "./vendor/ort.wasm.min.mjs";
import { WordPieceTokenizer } from "./tokenizer.js";

const $ = (id) => document.getElementById(id);

async function download(url, onProgress) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: the server answered ${response.status}`);
  const total = Number(response.headers.get("content-length")) || 0;
  if (!response.body || !total) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const bytes = new Uint8Array(total);
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes.set(value, received);
    received += value.length;
    onProgress(received / total);
  }
  return bytes;
}

export class Scorer {
  static async load(base, onProgress = () => {}) {
    const started = performance.now();
    const config = await (await fetch(new URL("demo.json", base))).json();
    const tokenizer = new WordPieceTokenizer(await (await fetch(new URL(config.tokenizer, base))).json());
    const model = await download(new URL(config.model, base), onProgress);
    ort.env.wasm.wasmPaths = new URL("vendor/", base).href;
    ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    // The weights are 8-bit in the file; computed in float32 they score as `crossrank` does in Python.
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
      extra: { session: { disable_quant_qdq: "1" } },
    });
    return new Scorer(config, tokenizer, session, performance.now() - started);
  }

  constructor(config, tokenizer, session, loadMs) {
    Object.assign(this, { config, tokenizer, session, loadMs });
    this.types = session.inputNames.includes("token_type_ids");
  }

  /** One 0..1 score per passage, in the order given. */
  async score(query, passages) {
    const q = this.tokenizer.encode(query);
    const scores = [];
    for (const passage of passages) {
      const { ids, types } = this.tokenizer.pair(q, this.tokenizer.encode(passage), this.config.max_length);
      const shape = [1, ids.length];
      const feeds = {
        input_ids: new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), shape),
        attention_mask: new ort.Tensor("int64", new BigInt64Array(ids.length).fill(1n), shape),
      };
      if (this.types) feeds.token_type_ids = new ort.Tensor("int64", BigInt64Array.from(types, BigInt), shape);
      const { logits } = await this.session.run(feeds);
      const l = logits.data;
      const margin = l.length === 1 ? l[0] : l[1] - l[0];
      scores.push(1 / (1 + Math.exp(-margin)));
    }
    return scores;
  }
}

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
    scorer = await Scorer.load(base, (f) => { $("progress").value = f; });
  } catch (e) {
    $("status").textContent = "";
    $("error").textContent = `The model could not be loaded: ${e.message || e}`;
    return;
  }
  $("progress").value = 1;
  $("engine").textContent = `ONNX Runtime Web, WebAssembly, ${ort.env.wasm.numThreads} thread(s)`;
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
