// Score (query, passage) pairs on this device with ONNX Runtime Web (WebAssembly; threads when the page is
// cross-origin isolated), one pair per run as the Python library does, and rank passages the way `Reranker`
// does: with a first-pass model in `demo.json`, the cascade (the first pass scores every passage, the best
// `keep` of its order go to the full model, the rest follow in the first pass's order). Passages are a set: their
// order never changes the ranking (equal scores by text, as Python's `Reranker.rerank` orders them). Used by the
// static demo and by the page of `crossrank serve`.
import * as ort from "./vendor/ort.wasm.min.mjs";
import { WordPieceTokenizer } from "./tokenizer.js";

/** An error for an answer that is not 2xx, carrying its status (the page asks for a key on 401). */
function refused(url, response) {
  const error = new Error(`${url.pathname || url}: the server answered ${response.status}`);
  error.status = response.status;
  return error;
}

async function download(url, onProgress, headers) {
  const response = await fetch(url, { headers });
  if (!response.ok) throw refused(url, response);
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
    onProgress(received);
  }
  return bytes;
}

async function json(url, headers) {
  const response = await fetch(url, { headers });
  if (!response.ok) throw refused(url, response);
  return response.json();
}

/** One cross-encoder: its tokenizer, its ONNX session and how its logits become scores. */
class Model {
  static async load(base, config, onBytes, headers) {
    const tokenizer = new WordPieceTokenizer(await json(new URL(config.tokenizer, base), headers));
    const bytes = await download(new URL(config.model, base), onBytes, headers);
    // The file holds the arithmetic Python's default backend runs for this model (static int8 for the
    // built-in models); the QDQ rewrite stays off so 8-bit weights behind `DequantizeLinear` stay float32 maths.
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
      extra: { session: { disable_quant_qdq: "1" } },
    });
    return new Model(config, tokenizer, session);
  }

  constructor(config, tokenizer, session) {
    Object.assign(this, { config, tokenizer, session, name: config.name });
    this.types = session.inputNames.includes("token_type_ids");
  }

  /** One margin (the logit, or positive minus negative) per passage, in the order given: all passages in one
   * padded batch (padding changes no pair's score, as in Python). */
  async margins(query, passages) {
    if (!passages.length) return [];
    const q = this.tokenizer.encode(query);
    const pairs = passages.map((p) => this.tokenizer.pair(q, this.tokenizer.encode(p), this.config.max_length));
    const width = Math.max(...pairs.map((pair) => pair.ids.length));
    const shape = [pairs.length, width];
    const ids = new BigInt64Array(pairs.length * width);
    const mask = new BigInt64Array(pairs.length * width);
    const types = new BigInt64Array(pairs.length * width);
    pairs.forEach((pair, row) => {
      pair.ids.forEach((id, j) => { ids[row * width + j] = BigInt(id); mask[row * width + j] = 1n; });
      pair.types.forEach((t, j) => { types[row * width + j] = BigInt(t); });
    });
    const feeds = {
      input_ids: new ort.Tensor("int64", ids, shape),
      attention_mask: new ort.Tensor("int64", mask, shape),
    };
    if (this.types) feeds.token_type_ids = new ort.Tensor("int64", types, shape);
    const { logits } = await this.session.run(feeds);
    const per = logits.data.length / pairs.length;
    return pairs.map((_, row) => (per === 1 ? logits.data[row] : logits.data[row * per + 1] - logits.data[row * per]));
  }

  /** A margin as a score: the model's calibration (a probability of relevance, as in Python) or a sigmoid. */
  toScore(margin) {
    const c = this.config.calibration;
    return 1 / (1 + Math.exp(-(c ? c.scale * margin + c.bias : margin)));
  }
}

/** Two texts in code-point order (Python's `str` order; `<` on JavaScript strings compares UTF-16 units). */
function compareText(a, b) {
  let i = 0;
  while (i < a.length && i < b.length) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x !== y) return x - y;
    i += x > 0xffff ? 2 : 1;
  }
  return (a.length > i) - (b.length > i);
}

/** Positions from best to worst score; equal scores by text in code-point order, then by position (the rule of
 * Python's `Reranker.rerank`, so the order the passages came in never counts). */
function bestFirst(scores, texts) {
  return scores.map((s, i) => i).sort((a, b) => scores[b] - scores[a] || compareText(texts[a], texts[b]) || a - b);
}

export class Scorer {
  /** Load the model(s) below `base` (and `demo.json`, unless the caller has it); `onProgress` gets the share
   * of all model bytes downloaded; `headers` go with every request. */
  static async load(base, onProgress = () => {}, headers = {}, config = null) {
    const started = performance.now();
    ort.env.wasm.wasmPaths = new URL("vendor/", import.meta.url).href;
    ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
    config = config || (await json(new URL("demo.json", base), headers));
    const parts = [config, ...(config.first_pass ? [config.first_pass] : [])];
    const total = parts.reduce((sum, p) => sum + (p.model_bytes || 0), 0) || 1;
    const received = parts.map(() => 0);
    const models = [];
    for (const [i, part] of parts.entries()) {
      const onBytes = (n) => { received[i] = n; onProgress(Math.min(1, received.reduce((a, b) => a + b, 0) / total)); };
      models.push(await Model.load(base, part, onBytes, headers));
    }
    return new Scorer(config, models[0], models[1] || null, performance.now() - started);
  }

  constructor(config, model, firstPass, loadMs) {
    Object.assign(this, { config, model, firstPass, loadMs });
    this.threads = ort.env.wasm.numThreads;
    this.name = firstPass ? `${firstPass.name} top-${config.first_pass.keep} > ${model.name}` : model.name;
  }

  /** The full model's tokenizer (what `crossrankScorer.tokenizer.encode(text)` checks against `tokenizers`). */
  get tokenizer() {
    return this.model.tokenizer;
  }

  /** The full model's score for every passage, in the order given (no cascade: as Python's `score`). */
  async score(query, passages) {
    return (await this.model.margins(query, passages)).map((m) => this.model.toScore(m));
  }

  /** Every passage ranked as `Reranker.rerank` ranks it: [{index, score, scoredBy}], best first, with the
   * milliseconds each pass took in `timings`. */
  async rank(query, passages) {
    const timings = {};
    const keep = this.firstPass ? this.config.first_pass.keep : Infinity;
    if (passages.length <= keep) {
      let t = performance.now();
      const scores = await this.score(query, passages);
      timings.full = performance.now() - t;
      const results = bestFirst(scores, passages).map((index) => ({ index, score: scores[index], scoredBy: this.model.name }));
      return { results, timings };
    }
    let t = performance.now();
    const margins = await this.firstPass.margins(query, passages);
    timings.first = performance.now() - t;
    const kept = this.select(margins, passages, keep);
    t = performance.now();
    const full = await this.score(query, kept.map((i) => passages[i]));
    timings.full = performance.now() - t;
    const head = bestFirst(full, kept.map((i) => passages[i])).map((j) => ({ index: kept[j], score: full[j], scoredBy: this.model.name }));
    const floor = head[head.length - 1].score;
    const chosen = new Set(kept);
    const firstScores = margins.map((m) => this.firstPass.toScore(m));
    const rest = bestFirst(firstScores, passages).filter((i) => !chosen.has(i))
      .map((index) => ({ index, score: Math.min(firstScores[index], floor), scoredBy: this.firstPass.name }));
    return { results: [...head, ...rest], timings };
  }

  /** The positions the full model scores, ascending: the first pass's best `keep` (Python's `best_kept`), a
   * kept text's duplicates with it. */
  select(margins, passages, keep) {
    const chosen = new Set(bestFirst(margins, passages).slice(0, keep).map((i) => passages[i]));
    return passages.map((p, i) => i).filter((i) => chosen.has(passages[i]));
  }
}
