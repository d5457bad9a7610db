// What both pages share: the passages typed into the box, and the ranking drawn as a list (the static demo,
// demo.js, and the page of `crossrank serve`, served.js).
import { applyCut as applyCutTo } from "./cut.js";

const $ = (id) => document.getElementById(id);

/** The passages in the box: one per line, or blocks separated by a blank line. */
export function passages() {
  const text = $("passages").value.replace(/\r/g, "");
  const parts = /\n\s*\n/.test(text) ? text.split(/\n\s*\n/) : text.split("\n");
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/** The passage's text, the part that matched (`evidence`: {start, end} in code points, as Python counts
 * characters) marked where it is less than the whole passage. */
function showText(node, text, evidence) {
  if (!evidence) { node.textContent = text; return; }
  node.dataset.evidenceStart = evidence.start;
  node.dataset.evidenceEnd = evidence.end;
  const chars = Array.from(text);  // code points, not UTF-16 units
  if (evidence.start <= 0 && evidence.end >= chars.length) { node.textContent = text; return; }
  const mark = document.createElement("mark");
  mark.title = "the part that matched";
  mark.textContent = chars.slice(evidence.start, evidence.end).join("");
  node.append(chars.slice(0, evidence.start).join(""), mark, chars.slice(evidence.end).join(""));
}

/** Draw `results` ([{index, score, scoredBy?, evidence?}], best first) of `docs` as the list, then grey out the cut. */
export function showResults(docs, results) {
  const list = $("results");
  list.innerHTML = "";
  results.forEach((r, rank) => {
    const li = document.createElement("li");
    li.dataset.index = r.index;
    li.dataset.score = r.score;
    if (r.scoredBy) li.dataset.scoredBy = r.scoredBy;
    const moved = r.index - rank;
    const arrow = moved > 0 ? `<span class="up">▲ ${moved}</span>` : moved < 0 ? `<span class="down">▼ ${-moved}</span>` : "<span>=</span>";
    li.innerHTML = `<div class="meta"><strong>#${rank + 1}</strong><span class="score">${r.score.toFixed(3)}</span>` +
      `<span class="bar" aria-hidden="true"><span style="width:${Math.round(r.score * 100)}%"></span></span>` +
      `<span>was #${r.index + 1}</span>${arrow}</div><div class="text"></div>`;
    showText(li.querySelector(".text"), docs[r.index], r.evidence);
    list.appendChild(li);
  });
  applyCut();
}

/** Grey out the passages scoring below the slider's minimum (what `min_score` would drop); no rescoring. */
export function applyCut() {
  applyCutTo($("results"), $("min-score"), $("min-score-value"), $("cut-note"));
}
