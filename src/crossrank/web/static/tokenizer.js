// A BERT WordPiece tokenizer read from a Hugging Face tokenizer.json, matching the Rust `tokenizers` library
// id for id (BertNormalizer -> BertPreTokenizer -> WordPiece), and crossrank's pair encoding:
// [CLS] query [SEP] document [SEP], the document cut to the window, the query cut to three quarters of it
// only when it would leave the document less than a quarter.

const CJK = [
  [0x4e00, 0x9fff], [0x3400, 0x4dbf], [0x20000, 0x2a6df], [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f], [0x2b820, 0x2ceaf], [0xf900, 0xfaff], [0x2f800, 0x2fa1f],
];
const OTHER = /[\p{Cc}\p{Cf}\p{Cn}\p{Co}]/u; // `tokenizers` drops these (tab, newline and CR count as spaces)
const SPACE = /\p{White_Space}/u;
const MARK = /\p{Mn}/u;
const PUNCT = /[\p{P}!-\/:-@\[-`{-~]/u; // Unicode punctuation and every ASCII punctuation character

function isCjk(cp) {
  return CJK.some(([lo, hi]) => cp >= lo && cp <= hi);
}

export class WordPieceTokenizer {
  /** @param {object} json a parsed tokenizer.json of a BERT WordPiece model */
  constructor(json) {
    const model = json.model;
    if (!model || model.type !== "WordPiece") throw new Error("only WordPiece tokenizers are supported");
    const norm = json.normalizer || {};
    if (norm.type !== "BertNormalizer") throw new Error("only BertNormalizer is supported");
    this.vocab = new Map(Object.entries(model.vocab));
    this.unk = this.vocab.get(model.unk_token);
    this.prefix = model.continuing_subword_prefix ?? "##";
    this.maxChars = model.max_input_chars_per_word ?? 100;
    this.lowercase = norm.lowercase !== false;
    this.stripAccents = norm.strip_accents ?? this.lowercase;
    this.cleanText = norm.clean_text !== false;
    this.chinese = norm.handle_chinese_chars !== false;
    this.cls = this.vocab.get("[CLS]");
    this.sep = this.vocab.get("[SEP]");
  }

  normalize(text) {
    let out = "";
    for (const ch of text) {
      const cp = ch.codePointAt(0);
      if (this.cleanText) {
        if (cp === 0 || cp === 0xfffd) continue;
        if (ch !== "\t" && ch !== "\n" && ch !== "\r" && OTHER.test(ch)) continue;
        if (ch === "\t" || ch === "\n" || ch === "\r" || SPACE.test(ch)) { out += " "; continue; }
      }
      out += this.chinese && isCjk(cp) ? ` ${ch} ` : ch;
    }
    if (this.stripAccents) out = Array.from(out.normalize("NFD")).filter((c) => !MARK.test(c)).join("");
    if (this.lowercase) out = Array.from(out, (c) => c.toLowerCase()).join(""); // per character, as Rust does
    return out;
  }

  words(text) {
    const words = [];
    let word = "";
    for (const ch of text) {
      if (SPACE.test(ch)) { if (word) words.push(word); word = ""; }
      else if (PUNCT.test(ch)) { if (word) words.push(word); words.push(ch); word = ""; }
      else word += ch;
    }
    if (word) words.push(word);
    return words;
  }

  wordpiece(word) {
    const chars = Array.from(word);
    if (chars.length > this.maxChars) return [this.unk];
    const ids = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length, found;
      while (start < end) {
        const piece = (start > 0 ? this.prefix : "") + chars.slice(start, end).join("");
        found = this.vocab.get(piece);
        if (found !== undefined) break;
        end -= 1;
      }
      if (found === undefined) return [this.unk];
      ids.push(found);
      start = end;
    }
    return ids;
  }

  /** Token ids of `text`, without special tokens. */
  encode(text) {
    return this.words(this.normalize(text)).flatMap((w) => this.wordpiece(w));
  }

  /** crossrank's pair input within a `maxLength` window: ids and token type ids. */
  pair(queryIds, docIds, maxLength) {
    const budget = maxLength - 3;
    const maxQuery = budget - Math.max(Math.floor(budget / 4), 1);
    const q = queryIds.length > maxQuery ? queryIds.slice(0, maxQuery) : queryIds;
    const d = docIds.slice(0, budget - q.length);
    const ids = [this.cls, ...q, this.sep, ...d, this.sep];
    const types = [...Array(q.length + 2).fill(0), ...Array(d.length + 1).fill(1)];
    return { ids, types };
  }
}
