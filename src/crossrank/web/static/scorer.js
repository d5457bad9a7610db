// Score (query, passage) pairs on this device with ONNX Runtime Web (WebAssembly; threads when the page is
// cross-origin isolated), one pair per run as the Python library does. Used by the static demo and by the
// page of `crossrank serve`.
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
    onProgress(received / total);
  }
  return bytes;
}

async function json(url, headers) {
  const response = await fetch(url, { headers });
  if (!response.ok) throw refused(url, response);
  return response.json();
}

export class Scorer {
  /** Load the tokenizer and the model below `base` (and `demo.json`, unless the caller has it already);
   * `headers` go with every request. */
  static async load(base, onProgress = () => {}, headers = {}, config = null) {
    const started = performance.now();
    config = config || (await json(new URL("demo.json", base), headers));
    const tokenizer = new WordPieceTokenizer(await json(new URL(config.tokenizer, base), headers));
    const model = await download(new URL(config.model, base), onProgress, headers);
    ort.env.wasm.wasmPaths = new URL("vendor/", import.meta.url).href;
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
    this.threads = ort.env.wasm.numThreads;
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
      const c = this.config.calibration;  // the model's calibration: a probability of relevance, as in Python
      scores.push(1 / (1 + Math.exp(-(c ? c.scale * margin + c.bias : margin))));
    }
    return scores;
  }
}
